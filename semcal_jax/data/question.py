"""One evaluation question, as every data set in `semcal_jax.data` gives it."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping

from semcal_jax.semantic import text_norm


@dataclasses.dataclass(frozen=True)
class Question:
  """A question with its reference answer(s).

  Attributes:
    id: stable string id (the data set's own id, else a hash of the question text).
    question: the question text, without any "Question:" / "Answer:" framing.
    answers: the reference answer first, then its aliases (at least one).
    solution: a worked solution when the data set has one, else None.
    dataset: the data set's name ("gsm8k", ...).
    split: the split it came from ("train", "validation", "test", ...).
    meta: other string fields of the row (category, level, source, ...).
  """
  id: str
  question: str
  answers: tuple[str, ...]
  solution: str | None = None
  dataset: str = ""
  split: str = ""
  meta: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False, hash=False)

  def __post_init__(self):
    if not self.id:
      raise ValueError("Question.id: empty")
    if not self.question.strip():
      raise ValueError(f"Question {self.id}: empty question text")
    if not self.answers or not all(isinstance(a, str) and a for a in self.answers):
      raise ValueError(f"Question {self.id}: answers must be non-empty strings, got "
                       f"{self.answers!r}")

  @property
  def answer(self) -> str:
    """The reference answer (the first of `answers`)."""
    return self.answers[0]


def normalize_question(text: str) -> str:
  """The question text compared loosely: case, punctuation, articles, spacing."""
  return text_norm.normalize(text)


def stable_id(prefix: str, text: str) -> str:
  """`prefix-<12 hex>`, from a hash of the normalised question text."""
  digest = hashlib.sha1(normalize_question(text).encode("utf-8")).hexdigest()[:12]
  return f"{prefix}-{digest}"


def unique_answers(*groups) -> tuple[str, ...]:
  """The non-empty stripped strings of `groups` (strings or lists), first occurrence kept."""
  out: dict[str, None] = {}
  for g in groups:
    for a in [g] if isinstance(g, str) else (g or ()):
      if isinstance(a, str) and a.strip():
        out.setdefault(a.strip(), None)
  return tuple(out)
