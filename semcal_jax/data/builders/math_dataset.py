"""MATH: competition mathematics with `\\boxed{}` answers (Hendrycks et al. 2021, MIT).

Accepted files:
- the official layout `MATH/{train,test}/<subject>/<n>.json`, one problem per
  file: `{"problem", "level", "type", "solution"}`; the answer is the content
  of the solution's last `\\boxed{}` (or `\\fbox{}`); id `math-test/algebra/1`;
- JSON Lines as in ../shared/data/math (llm-foundry's eval data):
  `{"context", "answer", "chain_of_thought", "category"}`, or MATH-500's
  `{"problem", "solution", "answer", "subject", "level", "unique_id"}`; a row
  without "answer" takes its solution's last box.
Splits: the folder name (official layout) or the file name, else "test".
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

from semcal_jax.data import builder, question, readers
from semcal_jax.semantic import spans


def boxed_answer(solution: str) -> str | None:
  """The content of the last `\\boxed{}` / `\\fbox{}` of a solution, or None."""
  boxes = spans.boxed(solution)
  return boxes[-1][2] if boxes and boxes[-1][2] else None


class Math(builder.QABuilder, skip_registration=True):
  """MATH competition problems with LaTeX answers."""

  name = "math"
  HOMEPAGE = "https://github.com/hendrycks/math"
  URLS = {"archive": "https://people.eecs.berkeley.edu/~hendrycks/MATH.tar"}
  PATTERNS = ("*.json", "*.jsonl")

  def split_of(self, path: pathlib.Path) -> str:
    if path.suffix == ".json" and path.parent.parent.name in ("train", "test"):
      return path.parent.parent.name
    return super().split_of(path)

  def parse_file(self, path, split) -> Iterator[question.Question]:
    if path.suffix == ".jsonl":
      for line, row in readers.iter_jsonl(path):
        yield self._from_row(row, path, line, split)
      return
    row = readers.read_json(path)
    if not isinstance(row, dict):
      raise readers.DataFormatError(path, 1, f"expected a JSON object, got {type(row).__name__}")
    text = readers.field(row, "problem", path, 1)
    solution = readers.field(row, "solution", path, 1)
    answer = boxed_answer(solution)
    if answer is None:
      raise readers.DataFormatError(path, 1, "field 'solution' has no \\boxed{} answer")
    qid = f"math-{path.parent.parent.name}/{path.parent.name}/{path.stem}"
    meta = {k: str(row[k]) for k in ("level", "type") if k in row}
    yield question.Question(id=qid, question=text.strip(), answers=(answer,), solution=solution,
                            dataset=self.name, split=split, meta=meta)

  def _from_row(self, row, path, line, split) -> question.Question:
    key = "context" if "context" in row else "problem"
    text = readers.field(row, key, path, line)
    sol_key = "chain_of_thought" if "chain_of_thought" in row else "solution"
    solution = readers.field(row, sol_key, path, line, optional=True)
    answer = readers.field(row, "answer", path, line, optional=True)
    if answer is None or not answer.strip():
      answer = boxed_answer(solution or "")
    if not answer:
      raise readers.DataFormatError(path, line, "no 'answer' field and no \\boxed{} answer in "
                                    f"{sol_key!r}")
    meta = {k: str(row[k]) for k in ("category", "subject", "level", "type") if k in row}
    qid = str(row["unique_id"]) if row.get("unique_id") else question.stable_id("math", text)
    return question.Question(id=qid, question=text.strip(), answers=(answer.strip(),),
                             solution=solution or None, dataset=self.name, split=split,
                             meta=meta)


class Math500(Math, skip_registration=True):
  """MATH-500 (Lightman et al. 2023): the 500 MATH test problems of "Let's Verify
  Step by Step", as JSON Lines `{"problem", "solution", "answer", "subject",
  "level", "unique_id"}` (ids: `unique_id`, e.g. `test/precalculus/807.json`)."""

  name = "math500"
  HOMEPAGE = "https://huggingface.co/datasets/HuggingFaceH4/MATH-500"
  URLS = {"test": "https://huggingface.co/datasets/HuggingFaceH4/MATH-500/resolve/main/test.jsonl"}
  PATTERNS = ("*.jsonl",)
