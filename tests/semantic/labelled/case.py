"""The record of one labelled question (see tests/semantic/labelled/__init__.py)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Case:
  """One question with its labelled responses."""
  name: str
  rule: str
  dataset: str
  style: str
  question: str
  references: tuple[str, ...]
  responses: tuple[tuple[str, str | None], ...]
  correct: str | None = "A"


def case(name, rule, dataset, style, question, references, responses, correct="A") -> Case:
  """A `Case`, with lists turned into tuples."""
  return Case(name, rule, dataset, style, question, tuple(references), tuple(responses), correct)

