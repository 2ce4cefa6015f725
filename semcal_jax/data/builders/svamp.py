"""SVAMP: varied arithmetic word problems (Patel et al. 2021, MIT).

Accepted files:
- the official `SVAMP.json`: a list of `{"ID", "Body", "Question",
  "Equation", "Answer" (a number), "Type"}`; the question is Body + Question;
- JSON Lines as in ../shared/data/svamp (llm-foundry's eval data):
  `{"context", "chain_of_thought" (the equation), "answer"}`.
Answers are written canonically (`semcal_jax.semantic.numbers`: 1.0 -> "1").
The equation is kept as `solution`. Split: test. Ids: ID, else a hash.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from fractions import Fraction

from semcal_jax.data import builder, question, readers
from semcal_jax.semantic import numbers


def canonical_answer(value, path, line) -> str:
  """A numeric answer (number or numeric string) written canonically."""
  try:
    return numbers.format_number(Fraction(decimal.Decimal(str(value).strip().replace(",", ""))))
  except (decimal.InvalidOperation, ValueError):
    raise readers.DataFormatError(path, line, f"field 'answer': not a number: {value!r}") from None


class Svamp(builder.QABuilder, skip_registration=True):
  """SVAMP arithmetic word problems."""

  name = "svamp"
  HOMEPAGE = "https://github.com/arkilpatel/SVAMP"
  URLS = {"test": "https://raw.githubusercontent.com/arkilpatel/SVAMP/main/SVAMP.json"}
  PATTERNS = ("*.json", "*.jsonl")

  def parse_file(self, path, split) -> Iterator[question.Question]:
    if path.suffix == ".jsonl":
      for line, row in readers.iter_jsonl(path):
        text = readers.field(row, "context", path, line)
        answer = row.get("answer")
        if answer is None:
          raise readers.DataFormatError(path, line, "missing field 'answer'")
        yield question.Question(
            id=question.stable_id("svamp", text), question=text.strip(),
            answers=(canonical_answer(answer, path, line),),
            solution=readers.field(row, "chain_of_thought", path, line, optional=True),
            dataset=self.name, split=split)
      return
    for line, row in readers.iter_json_array(path):
      if not isinstance(row, dict):
        raise readers.DataFormatError(path, line, f"expected an object, got {type(row).__name__}")
      body = readers.field(row, "Body", path, line).strip()
      ask = readers.field(row, "Question", path, line).strip()
      text = f"{body} {ask}" if body.endswith((".", "?", "!")) else f"{body}. {ask}"
      answer = readers.field(row, "Answer", path, line, kind=float)
      meta = {"type": str(row["Type"])} if "Type" in row else {}
      yield question.Question(
          id=str(row.get("ID") or question.stable_id("svamp", text)), question=text,
          answers=(canonical_answer(answer, path, line),),
          solution=readers.field(row, "Equation", path, line, optional=True),
          dataset=self.name, split=split, meta=meta)
