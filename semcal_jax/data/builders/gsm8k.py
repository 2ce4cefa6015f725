"""GSM8K: grade-school math word problems (openai/grade-school-math, MIT).

Files: the official `train.jsonl` / `test.jsonl`, rows `{"question", "answer"}`
where `answer` is the worked solution (with `<<a*b=c>>` calculator notes)
ending in `#### N`. The reference answer is N (commas removed); the worked
solution is kept as `solution`. Ids hash the question text.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator

from semcal_jax.data import builder, question, readers

_FINAL = re.compile(r"####\s*(.+?)\s*$", re.S)


def final_answer(solution: str) -> str | None:
  """N from a GSM8K solution ending in "#### N" (commas removed), or None."""
  m = _FINAL.search(solution)
  return m.group(1).replace(",", "").strip() if m else None


class Gsm8k(builder.QABuilder, skip_registration=True):
  """GSM8K grade-school math word problems."""

  name = "gsm8k"
  HOMEPAGE = "https://github.com/openai/grade-school-math"
  URLS = {split: ("https://raw.githubusercontent.com/openai/grade-school-math/master/"
                  f"grade_school_math/data/{split}.jsonl") for split in ("train", "test")}

  @classmethod
  def accept_file(cls, path: pathlib.Path) -> bool:
    return "socratic" not in path.name and "example_model_solutions" not in path.name

  def parse_file(self, path, split) -> Iterator[question.Question]:
    for line, row in readers.iter_jsonl(path):
      text = readers.field(row, "question", path, line)
      solution = readers.field(row, "answer", path, line)
      answer = final_answer(solution)
      if not answer:
        raise readers.DataFormatError(path, line, "field 'answer' has no final '#### <answer>'")
      yield question.Question(id=question.stable_id("gsm8k", text), question=text.strip(),
                              answers=(answer,), solution=solution, dataset=self.name,
                              split=split)
