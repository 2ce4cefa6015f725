"""NQ-Open: Natural Questions, open-domain version (Lee et al. 2019; CC BY-SA 3.0).

Files: the official `NQ-open.{train,dev}.jsonl` (and the EfficientQA
files), rows `{"question", "answer": [...]}`; every listed answer is a
reference alias. Rows without answers (the EfficientQA test file) are skipped
and counted in the log. Splits: train, validation (dev), and
`efficientqa_<split>` for the EfficientQA files. Ids hash the question.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

from absl import logging

from semcal_jax.data import builder, question, readers

_BASE = ("https://raw.githubusercontent.com/google-research-datasets/natural-questions/master/"
         "nq_open")


class NqOpen(builder.QABuilder, skip_registration=True):
  """NQ-Open questions with short answers."""

  name = "nq_open"
  HOMEPAGE = "https://github.com/google-research-datasets/natural-questions/tree/master/nq_open"
  URLS = {split: f"{_BASE}/NQ-open.{split}.jsonl" for split in ("train", "dev")}

  def split_of(self, path: pathlib.Path) -> str:
    split = builder.split_from_name(path, self.DEFAULT_SPLIT)
    return f"efficientqa_{split}" if "efficientqa" in path.name.lower() else split

  def parse_file(self, path, split) -> Iterator[question.Question]:
    skipped = 0
    for line, row in readers.iter_jsonl(path):
      text = readers.field(row, "question", path, line)
      answers = row.get("answer")
      if answers is None:
        skipped += 1
        continue
      if isinstance(answers, str):
        answers = [answers]
      if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise readers.DataFormatError(path, line, "field 'answer': expected a list of strings")
      answers = question.unique_answers(answers)
      if not answers:
        raise readers.DataFormatError(path, line, "field 'answer' is empty")
      yield question.Question(id=question.stable_id("nq", text), question=text.strip(),
                              answers=answers, dataset=self.name, split=split)
    if skipped:
      logging.info("nq_open: %s: skipped %d questions without answers", path, skipped)
