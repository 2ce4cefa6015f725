"""The collapsing-function interface B: responses -> semantic class ids.

Pipeline position: models -> sampling -> **semantic (B)** -> calibration.

A collapsing function maps each sampled response (and each reference answer)
to a class key, a string, or None when nothing could be extracted ("unparsed").
Keys are compared with `equivalent` (string equality unless a rule knows
better, e.g. symbolic equality for `math`); class ids are assigned in order of
first appearance, which is the tie rule `semcal_jax.calibration` documents.

    fn = semcal_jax.semantic.get("normalized")
    fn.canonical(" The Beatles.", "concise")             # 'beatles'
    fn.classes(["Paris", "It's Paris.", "", "Lyon"], "sentence")   # [0, 0, -1, 1]
    g = fn.group(responses, ["Paris"], "concise", question="Capital of France?")
    g.class_ids, g.matches, g.reference_class            # what calibration takes

`group` is the per-question helper: the `[M]` class ids, the boolean
`matches [M]` ("response matches a reference alias") and the reference class
id. By default (`merge_aliases=True`) every response that matches any alias of
the reference is put in one class, the reference class: the aliases of one
reference name one answer ("Horse", "Horses", "Equus caballus"), so the
responses that give it are one semantic class.

To write a new rule, subclass `CollapsingFunction` and override `canonical`
(or `extract`, when reference matching needs more context than the key), and
optionally `equivalent`; then `semcal_jax.semantic.register(name, cls)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

STYLES = ("concise", "sentence", "cot")
UNPARSED = -1


def check_style(style: str) -> None:
  """Raises ValueError unless `style` is one of STYLES."""
  if style not in STYLES:
    raise ValueError(f"style: expected one of {STYLES}, got {style!r}")


class Extraction(NamedTuple):
  """What a rule extracted from one text.

  Attributes:
    key: the class key (non-empty string).
    context: normalised text around the answer that reference matching may
      use (e.g. the whole answer sentence); defaults to the key.
  """
  key: str
  context: str = ""


@dataclasses.dataclass(frozen=True)
class Grouping:
  """Classes of one question's M responses.

  Attributes:
    class_ids: int32 `[M]`, ids in order of first appearance, -1 = unparsed.
    matches: bool `[M]`, the response matches a reference alias.
    reference_class: the id of the class that matches the reference, or -1
      when no response does (with `merge_aliases=False`, the first matching
      class; use `matches` then, it is exact).
    keys: the class key of each response (None = unparsed).
    reference_keys: the key of each reference alias (None = unparsed).
  """
  class_ids: np.ndarray
  matches: np.ndarray
  reference_class: int
  keys: tuple[str | None, ...]
  reference_keys: tuple[str | None, ...]

  @property
  def num_unparsed(self) -> int:
    """How many responses gave no class key."""
    return int(np.sum(self.class_ids == UNPARSED))

  @property
  def num_unparsed_references(self) -> int:
    """How many reference aliases gave no class key."""
    return sum(k is None for k in self.reference_keys)


class CollapsingFunction:
  """Base class of the collapsing functions B (see the module docstring)."""

  name: str = "base"

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    if (cls.canonical is CollapsingFunction.canonical
        and cls.extract is CollapsingFunction.extract):
      raise TypeError(f"{cls.__name__}: override canonical(text, style) or extract(...)")

  # ------------------------------------------------------------------ per batch

  def prepare(self, responses: Sequence[str | None], style: str,
              questions: Sequence[str | None] | None = None) -> None:
    """Called by `collapse` with every response of a run before any is keyed, so
    that rules with an expensive batched step (the LLM judge) can run it once.
    The default does nothing."""
    del responses, style, questions

  # ------------------------------------------------------------------ per text

  def extract(self, text: str | None, style: str = "concise", *,
              question: str | None = None) -> Extraction | None:
    """The key and its matching context, or None when nothing is extracted."""
    key = self.canonical(text, style, question=question)
    return None if key is None else Extraction(key, key)

  def canonical(self, text: str | None, style: str = "concise", *,
                question: str | None = None) -> str | None:
    """The class key of a response in `style` (None = nothing extracted).

    Args:
      text: the response (or a reference answer with style "concise").
      style: "concise", "sentence" or "cot".
      question: the question text; some rules use it (e.g. to tell question
        words from answer words in a sentence).
    """
    ext = self.extract(text, style, question=question)
    return None if ext is None else ext.key

  def reference_key(self, answer: str, *, question: str | None = None) -> Extraction | None:
    """The extraction of a reference answer (a short answer: style concise)."""
    return self.extract(answer, "concise", question=question)

  def equivalent(self, a: str, b: str) -> bool:
    """Whether two class keys name the same class (default: equal strings)."""
    return a == b

  def matches_reference(self, ext: Extraction, references: Sequence[Extraction], *,
                        question: str | None = None) -> bool:
    """Whether a response's extraction matches any reference alias."""
    del question
    return any(self.equivalent(ext.key, r.key) for r in references)

  # ------------------------------------------------------------------ per question

  def classes(self, responses: Sequence[str | None], style: str = "concise", *,
              question: str | None = None) -> np.ndarray:
    """Class ids `[M]` int32 in order of first appearance; -1 for unparsed."""
    return self.group(responses, (), style, question=question).class_ids

  def group(self, responses: Sequence[str | None], references: Sequence[str],
            style: str = "concise", *, question: str | None = None,
            merge_aliases: bool = True) -> Grouping:
    """Classes of M responses and their relation to the reference aliases.

    Args:
      responses: the M sampled responses to one question.
      references: the reference answer and its aliases (may be empty).
      style: the response style.
      question: the question text (optional; rules may use it).
      merge_aliases: put every response that matches a reference alias into
        one class (module docstring).

    Returns:
      A `Grouping` (class_ids [M], matches [M], reference_class, keys).
    """
    check_style(style)
    if isinstance(responses, str) or isinstance(references, str):
      raise TypeError("responses / references: expected a sequence of strings, got one string")
    exts = [self.extract(r, style, question=question) for r in responses]
    refs = [self.reference_key(a, question=question) for a in references]
    parsed_refs = [r for r in refs if r is not None]
    matches = np.array([e is not None and bool(parsed_refs)
                        and self.matches_reference(e, parsed_refs, question=question)
                        for e in exts], dtype=bool)
    ids = np.full(len(exts), UNPARSED, np.int32)
    reps: list[str | None] = []  # representative key per class; None for the reference class
    reference_class = UNPARSED
    for i, e in enumerate(exts):
      if e is None:
        continue
      if matches[i] and merge_aliases:
        if reference_class == UNPARSED:
          reference_class = len(reps)
          reps.append(None)
        ids[i] = reference_class
        continue
      for c, rep in enumerate(reps):
        if rep is not None and self.equivalent(rep, e.key):
          ids[i] = c
          break
      else:
        ids[i] = len(reps)
        reps.append(e.key)
      if matches[i] and reference_class == UNPARSED:
        reference_class = int(ids[i])
    return Grouping(class_ids=ids, matches=matches, reference_class=int(reference_class),
                    keys=tuple(None if e is None else e.key for e in exts),
                    reference_keys=tuple(None if r is None else r.key for r in refs))


class FunctionCollapsing(CollapsingFunction):
  """A collapsing function made from a plain `canonical(text, style) -> str | None`."""

  def __init__(self, fn, name: str = "function"):
    if not callable(fn):
      raise TypeError(f"FunctionCollapsing: expected a callable, got {type(fn).__name__}")
    self._fn = fn
    self.name = name

  def canonical(self, text, style="concise", *, question=None):
    del question
    if text is None:
      return None
    key = self._fn(text, style)
    if key is not None and not isinstance(key, str):
      raise TypeError(f"collapsing function {self.name!r} returned {type(key).__name__} for "
                      f"{text[:60]!r}; expected str or None")
    return key or None
