"""Deterministic subsampling, split choice and the Question record."""

from __future__ import annotations

import json

import pytest

from semcal_jax import data
from semcal_jax.data import loader


def test_subsample_is_seeded_sorted_and_nested():
  a = data.subsample_indices(100, 10, seed=3)
  assert a == sorted(a) and len(set(a)) == 10
  assert a == data.subsample_indices(100, 10, seed=3)
  assert a != data.subsample_indices(100, 10, seed=4)
  assert set(a) <= set(data.subsample_indices(100, 30, seed=3))
  assert data.subsample_indices(5, None, seed=0) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("n, why", [(0, "positive int"), (11, "only 10 questions"),
                                    (2.5, "positive int")])
def test_subsample_rejects_bad_counts(n, why):
  with pytest.raises(ValueError, match=why):
    data.subsample_indices(10, n, seed=0)


def test_split_preference():
  assert loader.choose_split(["train", "validation"], None, "x") == "validation"
  assert loader.choose_split(["train", "test"], None, "x") == "test"
  assert loader.choose_split(["efficientqa_dev"], None, "x") == "efficientqa_dev"


def test_load_questions_subsample_matches_full_list(tmp_path):
  loader.disable_progress_bars()
  rows = [{"question": f"Q{i}?", "answer": f"#### {i}"} for i in range(40)]
  src = tmp_path / "test.jsonl"
  src.write_text("".join(json.dumps(r) + "\n" for r in rows))
  full = data.load_questions("gsm8k", path=src, data_dir=tmp_path / "d")
  assert [q.answers[0] for q in full] == [str(i) for i in range(40)]
  some = data.load_questions("gsm8k", path=src, data_dir=tmp_path / "d", n_questions=7, seed=1)
  idx = data.subsample_indices(40, 7, seed=1)
  assert some == [full[i] for i in idx]


def test_question_validates_and_exposes_answer():
  q = data.Question("id1", "What?", ("A", "a"), dataset="x")
  assert q.answer == "A" and q.solution is None
  with pytest.raises(ValueError, match="id2: empty question"):
    data.Question("id2", " ", ("A",))
  with pytest.raises(ValueError, match="id3: answers"):
    data.Question("id3", "Q", ())
  assert data.normalize_question("The  Capital, of France?") == data.normalize_question(
      "capital of france")
