"""Deterministic subsampling, split choice and the Question record."""

from __future__ import annotations

import contextlib
import json
import logging as std_logging
import re

import pytest

from semcal_jax import data
from semcal_jax.data import loader
from semcal_jax.errors import InputError

_GSM8K = [{"question": f"Q{i}?", "answer": f"#### {i}"} for i in range(5)]


def _gsm8k_bytes(rows=_GSM8K) -> bytes:
  return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def test_subsample_is_seeded_sorted_and_nested():
  a = data.subsample_indices(100, 10, seed=3)
  assert a == sorted(a) and len(set(a)) == 10
  assert a == data.subsample_indices(100, 10, seed=3)
  assert a != data.subsample_indices(100, 10, seed=4)
  assert set(a) <= set(data.subsample_indices(100, 30, seed=3))
  assert data.subsample_indices(5, None, seed=0) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("n, why", [(0, "positive int"), (2.5, "positive int")])
def test_subsample_rejects_bad_counts(n, why):
  with pytest.raises(ValueError, match=why):
    data.subsample_indices(10, n, seed=0)


def test_more_questions_than_the_split_takes_all():
  assert data.subsample_indices(10, 11, seed=0) == list(range(10))


def test_split_preference():
  assert loader.choose_split(["train", "validation"], None, "x") == "validation"
  assert loader.choose_split(["train", "test"], None, "x") == "test"
  assert loader.choose_split(["efficientqa_dev"], None, "x") == "efficientqa_dev"


@contextlib.contextmanager
def absltest_logs():
  """The absl warning messages logged inside the block."""
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  seen = []
  handler = std_logging.Handler(level=std_logging.WARNING)
  handler.emit = lambda record: seen.append(record.getMessage())
  absl_logging.get_absl_logger().addHandler(handler)
  try:
    yield seen
  finally:
    absl_logging.get_absl_logger().removeHandler(handler)


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
  with absltest_logs() as logs:
    everything = data.load_questions("gsm8k", path=src, data_dir=tmp_path / "d", n_questions=1000)
  assert everything == full
  [line] = [m for m in logs if "n_questions=1000" in m]
  assert "has only 40 questions: taking all 40" in line and str(src) in line


def test_question_validates_and_exposes_answer():
  q = data.Question("id1", "What?", ("A", "a"), dataset="x")
  assert q.answer == "A" and q.solution is None
  with pytest.raises(ValueError, match="id2: empty question"):
    data.Question("id2", " ", ("A",))
  with pytest.raises(ValueError, match="id3: answers"):
    data.Question("id3", "Q", ())
  assert data.normalize_question("The  Capital, of France?") == data.normalize_question(
      "capital of france")


def test_a_byte_order_mark_gives_the_same_questions(tmp_path):
  loader.disable_progress_bars()
  rows = _GSM8K + [{"question": "Combien coûte un café ?", "answer": "#### 2"}]
  plain, marked = tmp_path / "plain" / "test.jsonl", tmp_path / "bom" / "test.jsonl"
  for p, head in ((plain, b""), (marked, b"\xef\xbb\xbf")):
    p.parent.mkdir()
    p.write_bytes(head + _gsm8k_bytes(rows))
  want = data.load_questions("gsm8k", path=plain, data_dir=tmp_path / "d")
  assert len(want) == 6 and want[-1].question == "Combien coûte un café ?"
  assert data.load_questions("gsm8k", path=marked, data_dir=tmp_path / "d") == want


@pytest.mark.parametrize("body, line, what", [
    (_gsm8k_bytes()[:-1] + b'\n{"question": "caf\xe9?", "answer": "#### 1"}\n', 6,
     r"not valid UTF-8 \(byte 0xe9 at column 18\); re-save the file as UTF-8"),
    (b'{"question": "Q?", "answer": "#### 1"}\n{"question": "Q2?"\n', 2, "invalid JSON"),
    (b'{"question": "Q?"}\n', 1, r"missing field 'answer'"),
    (b"", 1, "empty file"),
])
def test_a_bad_file_raises_its_data_format_error_through_tfds(tmp_path, body, line, what):
  loader.disable_progress_bars()
  src = tmp_path / "test.jsonl"
  src.write_bytes(body)
  with pytest.raises(data.DataFormatError) as e:
    data.load_questions("gsm8k", path=src, data_dir=tmp_path / "d")
  assert type(e.value) is data.DataFormatError and "\n" not in str(e.value)
  assert re.fullmatch(rf"{re.escape(str(src))}:{line}: {what}.*", str(e.value))


def test_a_data_format_error_that_tfds_wraps_is_raised_unwrapped(tmp_path, monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  src = tmp_path / "test.jsonl"
  src.write_bytes(_gsm8k_bytes())
  bad = data.DataFormatError(src, 3, "bad row")

  def wrapping(self, **kwargs):  # as TFDS's writer re-raises an example it cannot encode
    tfds.core.utils.reraise(bad, prefix="Failed to encode example:\n{...}\n")

  monkeypatch.setattr(loader.BUILDERS["gsm8k"], "download_and_prepare", wrapping)
  with pytest.raises(data.DataFormatError) as e:
    data.load_questions("gsm8k", path=src, data_dir=tmp_path / "d")
  assert e.value is bad and str(e.value) == f"{src}:3: bad row"


def test_loader_errors_are_one_line_input_errors_of_their_old_types(tmp_path):
  loader.disable_progress_bars()
  src = tmp_path / "test.jsonl"
  src.write_bytes(_gsm8k_bytes())
  bad = tmp_path / "bad" / "test.jsonl"
  bad.parent.mkdir()
  bad.write_text("not json\n")
  cases = [
      (KeyError, lambda: data.load_questions("gsm8k", path=src, data_dir=tmp_path / "d",
                                             split="train"),
       f"{src}: gsm8k: no split 'train'; available: ['test']"),
      (ValueError, lambda: data.load_questions("gsm8k", path=bad, data_dir=tmp_path / "d"),
       f"{bad}:1: invalid JSON: Expecting value (column 1)"),
      (FileNotFoundError, lambda: data.load_questions("gsm8k", path=tmp_path / "none"),
       f"{tmp_path / 'none'}: no such file or folder (data set gsm8k)"),
      (FileNotFoundError, lambda: data.content_hash("gsm8k", tmp_path / "d"),
       f"{tmp_path / 'd'}: gsm8k: no files matching ['*.jsonl'] in this folder"),
      (KeyError, lambda: data.content_hash("gsm9k", src), "unknown data set 'gsm9k'; known: "
       f"{sorted(data.BUILDERS)}"),
  ]
  (tmp_path / "d").mkdir()
  for old_type, call, message in cases:
    with pytest.raises(old_type) as e:
      call()
    assert isinstance(e.value, data.DataFormatError) and isinstance(e.value, InputError)
    assert str(e.value) == message
