"""Every file in ../shared/data loads through its builder, counts match, no TF.

Preparing all of them takes a few seconds (measured: about 3 s on 2 cores),
so these run in the default test run.
"""

from __future__ import annotations

import sys

import pytest

from semcal_jax import data, semantic
from semcal_jax.data import loader

# (data set, folder under shared/data, {split: rows})
SHARED = [
    ("gsm8k", "gsm8k", {"test": 1319, "train": 7473}),
    ("trivia_qa", "triviaqa", {"test": 3000}),
    ("math", "math", {"test": 5000}),
    ("svamp", "svamp", {"test": 300}),
]


@pytest.fixture(scope="module")
def prepared(shared_data, tmp_path_factory):
  """data set -> {split: [Question]} for every shared file, prepared once."""
  loader.disable_progress_bars()
  data_dir = tmp_path_factory.mktemp("tfds")
  out = {}
  for name, folder, counts in SHARED:
    out[name] = {split: data.load_questions(name, path=shared_data / folder, data_dir=data_dir,
                                            split=split) for split in counts}
  return out


@pytest.mark.parametrize("name, folder, counts", SHARED)
def test_counts_match_the_files(prepared, shared_data, name, folder, counts):
  got = {split: len(qs) for split, qs in prepared[name].items()}
  assert got == counts
  lines = {f.name: sum(1 for line in open(f, encoding="utf-8") if line.strip())
           for f in (shared_data / folder).glob("*.jsonl")}
  assert sum(lines.values()) == sum(counts.values()), lines


def test_no_tensorflow_was_imported(prepared):
  assert prepared and "tensorflow" not in sys.modules


def test_every_example_has_id_question_and_answers(prepared):
  for name, by_split in prepared.items():
    for split, qs in by_split.items():
      ids = [q.id for q in qs]
      assert len(set(ids)) == len(ids), (name, split)
      for q in qs:
        assert q.question.strip() and q.answers and all(a.strip() for a in q.answers), q
        assert (q.dataset, q.split) == (name, split)


def test_fields_are_read_as_documented(prepared):
  tqa = prepared["trivia_qa"]["test"]
  assert tqa[1].question == "What type of animal is a dik-dik?"
  assert tqa[1].answers[0] == "Antelope" and "Antelopes" in tqa[1].answers
  assert not any(q.question.startswith("Question:") or q.question.endswith("Answer:")
                 for q in tqa)
  gsm = prepared["gsm8k"]["test"]
  assert gsm[0].answers == ("18",) and gsm[0].solution.endswith("#### 18")
  assert prepared["math"]["test"][0].answers == (r"\frac{625}{648}",)
  assert prepared["math"]["test"][0].meta == {"category": "counting_and_probability"}
  svamp = prepared["svamp"]["test"]
  assert svamp[0].answers == ("1",) and svamp[0].solution == "( 8.0 - 7.0 )"


def test_reference_answers_parse_under_their_rules(prepared):
  numeric = semantic.get("numeric")
  for name in ("gsm8k", "svamp"):
    for qs in prepared[name].values():
      assert all(numeric.reference_key(q.answer) is not None for q in qs), name
  normalized = semantic.get("normalized")
  unparsed = sum(normalized.reference_key(q.answer) is None
                 for q in prepared["trivia_qa"]["test"])
  assert unparsed == 0


@pytest.mark.parametrize("folder, file, line, corrupt, why", [
    ("gsm8k", "test.jsonl", 100, lambda s: s.replace("####", "##"), "'#### <answer>'"),
    ("triviaqa", "triviaqa_sm_sub.jsonl", 57, lambda s: s[:40], "invalid JSON"),
    ("math", "math.jsonl", 4321, lambda s: s.replace('"context"', '"ctx"'), "missing field"),
    ("svamp", "svamp.jsonl", 300, lambda s: s.replace('"answer": "', '"answer": "x'),
     "not a number"),
])
def test_a_malformed_row_of_a_real_file_names_file_and_line(shared_data, tmp_path, folder,
                                                            file, line, corrupt, why):
  loader.disable_progress_bars()
  lines = (shared_data / folder / file).read_text(encoding="utf-8").splitlines(keepends=True)
  lines[line - 1] = corrupt(lines[line - 1].rstrip("\n")) + "\n"
  bad = tmp_path / file
  bad.write_text("".join(lines), encoding="utf-8")
  name = {"triviaqa": "trivia_qa"}.get(folder, folder)
  with pytest.raises(data.DataFormatError, match=rf"{file.replace('.', '[.]')}:{line}: .*{why}"):
    data.load_questions(name, path=bad, data_dir=tmp_path / "tfds")
