"""From sampled answer classes to B-confidence, prediction and correctness.

Input is what a collapsing function B produces: `class_ids [Q, M]`, the class
of each of M sampled answers to each of Q questions (any int32 ids; `-1` means
nothing could be extracted, "unparsed"). The reference is either

- `reference [Q]`: the class id of the reference answer (`-1` = none), or
- `matches [Q, M]`: True where sample m matches one of the reference aliases.

Plurality and ties. The prediction k*(x) is the class with the most samples.
Ties go to a parsed class over the unparsed one, then to the smallest class
id. With ids assigned in order of first appearance (as `semcal_jax.semantic`
does) "smallest id" is "the tied class sampled first"; either way the rule is
deterministic given the samples.

Unparsed samples (`unparsed=`):
- "class" (default): they form one more class, "no answer". It counts in the
  denominator, can be the plurality (then the prediction is -1 and never
  correct), and adds to the entropy and the class count. This keeps the
  B-confidence a share of *all* samples, as in the paper's definition.
- "exclude": they are dropped; shares are over parsed samples only. A question
  with no parsed sample gets confidence 0 and prediction -1.

All functions are pure jnp, jit-able and vmappable over leading run axes.
"""

from __future__ import annotations

import functools
from typing import NamedTuple


import jax
import jax.numpy as jnp

from semcal_jax.calibration import validation

UNPARSED = -1
UNPARSED_POLICIES = ("class", "exclude")
_BIG = jnp.iinfo(jnp.int32).max


class SemanticConfidence(NamedTuple):
  """Per-question outcome of sampling; every field is `[Q]`."""
  prediction: jax.Array  # plurality class id (-1: no answer)
  confidence: jax.Array  # share of the plurality class (B-confidence)
  correct: jax.Array  # bool: plurality class is a reference class
  entropy: jax.Array  # discrete semantic entropy in nats
  num_classes: jax.Array  # distinct classes among counted samples
  unparsed_fraction: jax.Array  # share of samples with class -1


def _check_policy(unparsed):
  if unparsed not in UNPARSED_POLICIES:
    raise ValueError(f"unparsed: expected one of {UNPARSED_POLICIES}, got {unparsed!r}")


def float_dtype():
  """float64 when x64 is enabled, else float32."""
  return jax.dtypes.canonicalize_dtype(jnp.float64)


def _counted(ids, unparsed):
  return jnp.ones_like(ids, bool) if unparsed == "class" else ids != UNPARSED


def class_counts(ids, counted):
  """For each sample, how many counted samples share its class: `[Q, M]`."""
  same = (ids[..., :, None] == ids[..., None, :]) & counted[..., None, :]
  return jnp.sum(same, axis=-1) * counted


def _plurality(ids, counted):
  """`(prediction [Q], count [Q])` with the documented tie rule."""
  counts = class_counts(ids, counted)
  top = jnp.max(counts, axis=-1, keepdims=True)
  tied = (counts == top) & counted & (top > 0)
  parsed_tied = tied & (ids != UNPARSED)
  best_parsed = jnp.min(jnp.where(parsed_tied, ids, _BIG), axis=-1)
  prediction = jnp.where(jnp.any(parsed_tied, axis=-1), best_parsed, UNPARSED)
  return prediction, top[..., 0]


def _is_correct(prediction, reference=None, matches=None, ids=None):
  if matches is not None:
    in_class = (ids == prediction[..., None]) & (ids != UNPARSED)
    return jnp.any(matches & in_class, axis=-1)
  return (prediction == reference) & (prediction != UNPARSED)


def _first_occurrence(ids, counted):
  m = ids.shape[-1]
  earlier = jnp.tril(jnp.ones((m, m), bool), k=-1)  # earlier[i, j]: j < i
  dup = jnp.any((ids[..., :, None] == ids[..., None, :]) & earlier & counted[..., None, :], -1)
  return counted & ~dup


def _validate(class_ids, reference, matches):
  class_ids = validation.as_array("class_ids", class_ids)
  validation.check_ndim("class_ids", class_ids, 2, "class ids [questions, samples]")
  validation.check_nonempty("class_ids", class_ids)
  if not jnp.issubdtype(class_ids.dtype, jnp.integer):
    raise ValueError(f"class_ids: expected integer class ids, got dtype {class_ids.dtype}")
  if validation.is_concrete(class_ids) and (jnp.asarray(class_ids) < UNPARSED).any():
    raise ValueError("class_ids: ids must be >= 0, or -1 for 'nothing extracted'")
  if (reference is None) == (matches is None):
    raise ValueError("reference / matches: give exactly one of them")
  q = class_ids.shape[0]
  if reference is not None:
    reference = validation.as_array("reference", reference)
    if tuple(reference.shape) != (q,):
      raise ValueError(f"reference: expected shape ({q},) to match class_ids "
                       f"{tuple(class_ids.shape)}, got {tuple(reference.shape)}")
    if not jnp.issubdtype(reference.dtype, jnp.integer):
      raise ValueError(f"reference: expected integer class ids, got dtype {reference.dtype}")
    reference = jnp.asarray(reference, jnp.int32)
  else:
    matches = validation.as_array("matches", matches)
    validation.check_same_shape("class_ids", class_ids, "matches", matches)
    if matches.dtype != bool:
      raise ValueError(f"matches: expected a boolean array, got dtype {matches.dtype}")
    matches = jnp.asarray(matches)
  return jnp.asarray(class_ids, jnp.int32), reference, matches


def semantic_confidence(class_ids, reference=None, *, matches=None,
                        unparsed: str = "class") -> SemanticConfidence:
  """B-confidence, prediction and correctness from the same M samples.

  Args:
    class_ids: `[Q, M]` int class ids (-1 = unparsed).
    reference: `[Q]` reference class id per question; or
    matches: `[Q, M]` bool, sample matches a reference alias.
    unparsed: "class" or "exclude" (module docstring).

  Note that choosing the plurality and measuring its share on the same samples
  biases the confidence upwards at small M; see `heldout_confidence`.
  """
  _check_policy(unparsed)
  ids, reference, matches = _validate(class_ids, reference, matches)
  return _semantic_confidence(ids, reference, matches, unparsed)


@functools.partial(jax.jit, static_argnames=("unparsed",))
def _semantic_confidence(ids, reference, matches, unparsed):
  counted = _counted(ids, unparsed)
  total = jnp.sum(counted, axis=-1)
  prediction, top = _plurality(ids, counted)
  denom = jnp.maximum(total, 1).astype(float_dtype())
  confidence = jnp.where(total > 0, top / denom, 0.0)
  counts = class_counts(ids, counted)
  p = jnp.where(counted, counts / denom[..., None], 1.0)
  entropy = -jnp.sum(jnp.where(counted, jnp.log(p), 0.0), axis=-1) / denom
  return SemanticConfidence(
      prediction=prediction,
      confidence=confidence,
      correct=_is_correct(prediction, reference, matches, ids),
      entropy=entropy,
      num_classes=jnp.sum(_first_occurrence(ids, counted), axis=-1),
      unparsed_fraction=jnp.mean(ids == UNPARSED, axis=-1),
  )


def heldout_confidence(class_ids, reference=None, *, matches=None, select_fraction=0.5,
                       unparsed: str = "class") -> SemanticConfidence:
  """Plurality chosen on the first part of the samples, its share measured on the rest.

  The first `floor(select_fraction * M)` samples pick the prediction; the
  confidence is the share of that class among the remaining samples. The
  samples are i.i.d., so this removes the selection bias of
  `semantic_confidence` at the price of fewer samples per estimate. Entropy,
  class count and unparsed share are computed on all M samples.
  """
  _check_policy(unparsed)
  ids, reference, matches = _validate(class_ids, reference, matches)
  m = ids.shape[-1]
  k = int(select_fraction * m)
  if not 0 < k < m:
    raise ValueError(f"select_fraction: {select_fraction!r} leaves no samples on one side of "
                     f"the split for M = {m}")
  return _heldout(ids, reference, matches, k, unparsed)


@functools.partial(jax.jit, static_argnames=("k", "unparsed"))
def _heldout(ids, reference, matches, k, unparsed):
  full = _semantic_confidence(ids, reference, matches, unparsed)
  sel, rest = ids[..., :k], ids[..., k:]
  prediction, _ = _plurality(sel, _counted(sel, unparsed))
  counted_rest = _counted(rest, unparsed)
  total = jnp.sum(counted_rest, axis=-1)
  hits = jnp.sum(counted_rest & (rest == prediction[..., None]), axis=-1)
  confidence = jnp.where(total > 0, hits / jnp.maximum(total, 1).astype(float_dtype()), 0.0)
  return full._replace(prediction=prediction, confidence=confidence,
                       correct=_is_correct(prediction, reference, matches, ids))


def top_classes(class_ids, reference=None, *, matches=None, k: int = 3,
                unparsed: str = "class"):
  """The k largest classes of each question, for class-wise calibration.

  Returns `(share [Q, k], correct [Q, k], present [Q, k])`: each class's share of
  the samples, whether it is a reference class, and whether the question has a
  k-th class at all (use `present` as weights). Ranked by share, ties by the
  plurality rule.
  """
  _check_policy(unparsed)
  validation.check_positive_int("k", k)
  ids, reference, matches = _validate(class_ids, reference, matches)
  return _top_classes(ids, reference, matches, k, unparsed)


@functools.partial(jax.jit, static_argnames=("k", "unparsed"))
def _top_classes(ids, reference, matches, k, unparsed):
  counted = _counted(ids, unparsed)
  total = jnp.maximum(jnp.sum(counted, axis=-1, keepdims=True), 1)
  first = _first_occurrence(ids, counted)
  counts = class_counts(ids, counted)
  m = ids.shape[-1]
  # Rank key: more samples first, then parsed, then smaller id (the plurality rule).
  order_id = jnp.where(ids == UNPARSED, _BIG, ids)
  smaller = first[..., None, :] & (order_id[..., None, :] < order_id[..., :, None])
  id_rank = jnp.sum(smaller, axis=-1)  # rank of the id among the question's classes, < m
  key = jnp.where(first, counts * (m + 1) + (m - id_rank), -1)
  _, idx = jax.lax.top_k(key, min(k, m))
  pick = lambda a: jnp.take_along_axis(a, idx, axis=-1)
  present = pick(first)
  share = jnp.where(present, pick(counts) / total.astype(float_dtype()), 0.0)
  cls = pick(ids)
  if matches is not None:
    in_class = (ids[..., None, :] == cls[..., :, None]) & (ids[..., None, :] != UNPARSED)
    correct = jnp.any(in_class & matches[..., None, :], axis=-1)
  else:
    correct = (cls == reference[..., None]) & (cls != UNPARSED)
  correct = correct & present
  if k > m:
    pad = [(0, 0)] * (share.ndim - 1) + [(0, k - m)]
    share, correct, present = (jnp.pad(a, pad) for a in (share, correct, present))
  return share, correct, present
