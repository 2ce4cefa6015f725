"""Selective prediction: how well a confidence ranks right above wrong answers.

Answer the questions in order of decreasing confidence and stop at coverage c
(the share of questions answered). The *risk* at c is the error rate of the
answered ones, the *accuracy* at c its complement. From that curve:

- `aurac_impl`: area under the accuracy–coverage (rejection–accuracy) curve,
  the mean over k = 1..n of the accuracy of the k most confident answers (the
  "prediction rejection area" of LM-Polygraph, AURAC of Farquhar et al., 2024).
- `prr_impl`: prediction rejection ratio, `(AURAC - random) / (oracle - random)`:
  0 for a confidence that ranks like a coin, 1 for one that puts every correct
  answer first (the oracle), negative when it ranks wrong answers first. The
  random ranking's area is the accuracy itself. NaN when every answer is right
  or every one wrong (oracle = random).
- `risk_coverage_impl`: the risk at a fixed grid of coverages, for plots.

Ties. Answers with the same confidence are taken in random order, and every
quantity is its expectation over that order: within a tie group of weight W_g
and accuracy a_g, the expected number correct grows linearly, a_g per answer.
So results do not depend on how a sort breaks ties, and depend on the data only
through the multiset of `(f, y)`, which the bootstrap's count weights need.

Weights are multiplicities (`w_i` copies of point i). With groups in order of
decreasing confidence, `W` the weight and `C` the expected correct count before
a group, the group's copies j = 1..W_g contribute
`sum_j (C + a_g j) / (W + j) = a_g W_g + (C - a_g W) (H(W + W_g) - H(W))`,
`H` the harmonic number (digamma(x + 1) + Euler's gamma), which makes the area
exact for integer weights and continuous in them.

Every function takes `f [n]`, `y [n]`, `w [n]` as `metrics` does and is pure,
jit-able and vmappable.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma


def _harmonic(x):
  """H(x) = sum_{j<=x} 1/j for integer x >= 0, continuous in between."""
  return digamma(x + 1.0) - digamma(jnp.ones_like(x))


def _tie_groups(f, y, w):
  """Sorted by decreasing f: per group `(weight [n], correct [n], weight_before [n],
  correct_before [n])`, zero-padded to n groups (n points at most)."""
  order = jnp.argsort(-f, stable=True)
  fs, ys, ws = f[order], y[order], w[order]
  new = jnp.concatenate([jnp.ones((1,), bool), fs[1:] != fs[:-1]])
  group = jnp.cumsum(new) - 1
  n = f.shape[0]
  weight = jax.ops.segment_sum(ws, group, num_segments=n)
  correct = jax.ops.segment_sum(ws * ys, group, num_segments=n)
  weight_before = jnp.cumsum(weight) - weight
  correct_before = jnp.cumsum(correct) - correct
  return weight, correct, weight_before, correct_before


def _area(weight, correct, weight_before, correct_before):
  """Sum over answered copies of the accuracy so far (module docstring), / total."""
  safe = jnp.where(weight > 0, weight, 1.0)
  acc = jnp.where(weight > 0, correct / safe, 0.0)
  harmonic = _harmonic(weight_before + weight) - _harmonic(weight_before)
  terms = acc * weight + (correct_before - acc * weight_before) * harmonic
  return jnp.sum(jnp.where(weight > 0, terms, 0.0)) / jnp.sum(weight)


def aurac_impl(f, y, w):
  """Area under the accuracy–coverage curve of confidence `f`, in [0, 1]."""
  return _area(*_tie_groups(f, y, w))


def oracle_aurac_impl(f, y, w):
  """The area of the best ranking (every correct answer first)."""
  del f
  return _area(*_tie_groups(y, y, w))


def prr_impl(f, y, w):
  """Prediction rejection ratio: (AURAC - accuracy) / (oracle AURAC - accuracy)."""
  accuracy = jnp.sum(w * y) / jnp.sum(w)
  oracle = oracle_aurac_impl(f, y, w)
  gap = oracle - accuracy
  ok = gap > 1e-12
  return jnp.where(ok, (aurac_impl(f, y, w) - accuracy) / jnp.where(ok, gap, 1.0), jnp.nan)


def risk_coverage_impl(f, y, w, num_points: int = 101):
  """`(coverage [num_points], risk [num_points])`: the expected error rate of the
  most confident answers at coverages evenly spaced in (0, 1]."""
  weight, correct, weight_before, correct_before = _tie_groups(f, y, w)
  total = jnp.sum(weight)
  coverage = jnp.linspace(1.0 / num_points, 1.0, num_points, dtype=f.dtype)
  answered = coverage * total
  # The group in which the answered weight ends: the last one starting below it
  # (never an empty one: an empty group starts where the next group does).
  g = jnp.clip(jnp.searchsorted(weight_before, answered, side="left") - 1, 0, f.shape[0] - 1)
  acc = jnp.where(weight[g] > 0, correct[g] / jnp.where(weight[g] > 0, weight[g], 1.0), 0.0)
  expected_correct = correct_before[g] + acc * (answered - weight_before[g])
  return coverage, 1.0 - expected_correct / answered
