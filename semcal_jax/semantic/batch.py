"""Collapsing Q questions x M responses into the arrays calibration takes.

    batch = collapse(semantic.get("numeric"), responses, references, "cot")
    batch.class_ids   # int32 [Q, M], -1 = unparsed
    batch.matches     # bool [Q, M]: the response matches a reference alias
    batch.reference   # int32 [Q]: the reference class (-1: no response matches)
    batch.report()    # unparsed counts and shares, never dropped silently

`semcal_jax.calibration.semantic_confidence(batch.class_ids, matches=batch.matches)`
then gives confidence and correctness (correct = the plurality class matches
a reference alias).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from absl import logging

from semcal_jax.semantic import base


@dataclasses.dataclass(frozen=True)
class Collapsed:
  """Classes of Q questions' M responses each.

  Attributes:
    class_ids: int32 `[Q, M]`, per question in order of first appearance, -1 = unparsed.
    matches: bool `[Q, M]`.
    reference: int32 `[Q]`, the reference class per question (-1: none matches).
    keys: `[Q][M]` class keys (None = unparsed).
    reference_keys: `[Q][aliases]` keys of the reference aliases (None = unparsed).
  """
  class_ids: np.ndarray
  matches: np.ndarray
  reference: np.ndarray
  keys: tuple[tuple[str | None, ...], ...]
  reference_keys: tuple[tuple[str | None, ...], ...]

  @property
  def unparsed_references(self) -> np.ndarray:
    """`[Q]` how many reference aliases of each question gave no key."""
    return np.array([sum(k is None for k in ks) for ks in self.reference_keys], np.int32)

  @property
  def num_unparsed(self) -> int:
    """Responses with no class key, over all questions."""
    return int(np.sum(self.class_ids == base.UNPARSED))

  def report(self) -> dict[str, Any]:
    """Counts for a run's log: unparsed responses and references, per question too."""
    q, m = self.class_ids.shape
    per_q = np.sum(self.class_ids == base.UNPARSED, axis=1)
    no_ref = int(np.sum(self.unparsed_references > 0))
    return {
        "questions": q,
        "samples_per_question": m,
        "unparsed_responses": self.num_unparsed,
        "unparsed_fraction": self.num_unparsed / max(1, q * m),
        "questions_all_unparsed": int(np.sum(per_q == m)),
        "unparsed_per_question": per_q.tolist(),
        "questions_with_unparsed_reference_aliases": no_ref,
        "questions_with_no_usable_reference": int(np.sum(
            [all(k is None for k in ks) for ks in self.reference_keys])),
    }


def collapse(fn: base.CollapsingFunction, responses: Sequence[Sequence[str | None]],
             references: Sequence[Sequence[str]], style: str, *,
             questions: Sequence[str] | None = None, merge_aliases: bool = True) -> Collapsed:
  """Groups every question's responses with `fn.group` and stacks the results.

  Args:
    fn: a collapsing function (`semcal_jax.semantic.get(...)`).
    responses: `[Q][M]` response texts; every question needs the same M.
    references: `[Q]` lists of reference answers and aliases.
    style: the response style.
    questions: `[Q]` question texts (optional; rules may use them).
    merge_aliases: see `CollapsingFunction.group`.

  Raises:
    ValueError: naming the question index whose lengths disagree.
  """
  q = len(responses)
  if len(references) != q:
    raise ValueError(f"references: expected {q} lists (one per question), got {len(references)}")
  if questions is not None and len(questions) != q:
    raise ValueError(f"questions: expected {q} texts, got {len(questions)}")
  if q == 0:
    raise ValueError("responses: no questions")
  m = len(responses[0])
  fn.prepare([r for row in responses for r in row], style,
             None if questions is None else [qt for qt, row in zip(questions, responses)
                                             for _ in row])
  ids = np.full((q, m), base.UNPARSED, np.int32)
  matches = np.zeros((q, m), bool)
  reference = np.full((q,), base.UNPARSED, np.int32)
  keys, ref_keys = [], []
  for i in range(q):
    if len(responses[i]) != m:
      raise ValueError(f"responses[{i}]: expected {m} responses like responses[0], "
                       f"got {len(responses[i])}")
    g = fn.group(responses[i], references[i], style,
                 question=None if questions is None else questions[i],
                 merge_aliases=merge_aliases)
    ids[i], matches[i], reference[i] = g.class_ids, g.matches, g.reference_class
    keys.append(g.keys)
    ref_keys.append(g.reference_keys)
  out = Collapsed(class_ids=ids, matches=matches, reference=reference, keys=tuple(keys),
                  reference_keys=tuple(ref_keys))
  if out.num_unparsed:
    logging.info("collapse(%s, %s): %d of %d responses unparsed (class -1)",
                 getattr(fn, "name", type(fn).__name__), style, out.num_unparsed, q * m)
  return out
