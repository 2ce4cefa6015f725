"""Collapsing functions B: sampled responses -> semantic class ids.

Pipeline position: models -> sampling -> **semantic (B)** -> calibration.

    from semcal_jax import semantic
    fn = semantic.get("numeric")                       # or "normalized", "math", your own
    fn.canonical("She makes $18.00 a day.", "sentence")  # '18'
    fn.classes(["18", "$18", "It is 26."], "concise")   # array([0, 0, 1], dtype=int32)
    batch = semantic.collapse(fn, responses, references, "cot", questions=questions)
    sc = semcal_jax.calibration.semantic_confidence(batch.class_ids, matches=batch.matches)

Built-in rules: `normalized` (SQuAD-normalised answer spans), `numeric`
(canonical numbers), `math` (LaTeX answers compared with sympy), `judge` (an
LLM run through the project's sampler extracts the short answer, then
`normalized` keys it). Register more with `register(name, obj_or_factory)`.
"""

from semcal_jax.semantic.base import (STYLES, UNPARSED, CollapsingFunction, Extraction,
                                      FunctionCollapsing, Grouping)
from semcal_jax.semantic.batch import Collapsed, collapse
from semcal_jax.semantic.registry import available, get, register, unregister


def _normalized(**options):
  from semcal_jax.semantic.normalized import NormalizedMatch  # pylint: disable=g-import-not-at-top
  return NormalizedMatch(**options)


def _numeric(**options):
  from semcal_jax.semantic.numeric import NumericMatch  # pylint: disable=g-import-not-at-top
  return NumericMatch(**options)


def _math(**options):
  from semcal_jax.semantic.mathrule import MathEquivalence  # pylint: disable=g-import-not-at-top
  return MathEquivalence(**options)


def _judge(**options):
  from semcal_jax.semantic.judge import JudgeCollapsing  # pylint: disable=g-import-not-at-top
  return JudgeCollapsing(**options)


register("normalized", _normalized)
register("numeric", _numeric)
register("math", _math)
register("judge", _judge)

__all__ = ["STYLES", "UNPARSED", "Collapsed", "CollapsingFunction", "Extraction",
           "FunctionCollapsing", "Grouping", "available", "collapse", "get", "register",
           "unregister"]
