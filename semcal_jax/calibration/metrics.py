"""Binary calibration and discrimination metrics on (confidence, correct) pairs.

Every metric takes `f [n]` confidences in [0, 1], `y [n]` 0/1 outcomes and
optional `weights [n]` (non-negative multiplicities; a bootstrap resample is a
weight vector of counts), and returns a scalar. The public functions validate
their inputs (`ValueError` naming the argument); the `*_impl` functions are the
pure, jit-able and vmappable cores.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from semcal_jax.calibration import validation

BIN_STRATEGIES = ("uniform", "equal_mass")


def _prepare(f, y, weights):
  f, y = validation.check_binary_pair(f, y)
  f = jnp.asarray(f)
  y = jnp.asarray(y).astype(f.dtype)
  if weights is None:
    return f, y, jnp.ones_like(f)
  weights = validation.as_array("weights", weights)
  validation.check_weights("weights", weights, "f", f)
  return f, y, jnp.asarray(weights, f.dtype)


def accuracy_impl(f, y, w):
  return jnp.sum(w * y) / jnp.sum(w)


def mean_confidence_impl(f, y, w):
  return jnp.sum(w * f) / jnp.sum(w)


def overconfidence_impl(f, y, w):
  """Mean confidence minus accuracy: > 0 over-confident, < 0 under-confident."""
  return jnp.sum(w * (f - y)) / jnp.sum(w)


def brier_impl(f, y, w):
  return jnp.sum(w * (f - y) ** 2) / jnp.sum(w)


def auroc_impl(f, y, w):
  """P(f_pos > f_neg) + 1/2 P(f_pos == f_neg); NaN when a class is absent."""
  order = jnp.argsort(f)
  fs, ys, ws = f[order], y[order], w[order]
  neg = ws * (1 - ys)
  cum_neg = jnp.concatenate([jnp.zeros((1,), f.dtype), jnp.cumsum(neg)])
  below = cum_neg[jnp.searchsorted(fs, fs, side="left")]
  upto = cum_neg[jnp.searchsorted(fs, fs, side="right")]
  pos = ws * ys
  total_pos, total_neg = jnp.sum(pos), jnp.sum(neg)
  score = jnp.sum(pos * (below + 0.5 * (upto - below)))
  return jnp.where((total_pos > 0) & (total_neg > 0), score / (total_pos * total_neg), jnp.nan)


def _bin_index(f, w, n_bins, strategy):
  if strategy == "uniform":
    return jnp.clip(jnp.floor(f * n_bins).astype(jnp.int32), 0, n_bins - 1)
  # Equal mass: edges at the weighted quantiles j/n_bins (inverted CDF), points
  # assigned by value, so tied confidences always share a bin (as sklearn's
  # calibration_curve(strategy="quantile")).
  order = jnp.argsort(f)
  fs, cw = f[order], jnp.cumsum(w[order])
  # First point whose cumulative weight reaches j/n_bins of the total, compared as
  # `cw * n_bins >= j * total` so that integer weights give exact ranks.
  levels = jnp.arange(1, n_bins, dtype=cw.dtype) * cw[-1]
  edges = fs[jnp.clip(jnp.searchsorted(cw * n_bins, levels, side="left"), 0, f.shape[0] - 1)]
  return jnp.searchsorted(edges, f, side="right").astype(jnp.int32)


def binned_ece_impl(f, y, w, n_bins=15, strategy="uniform"):
  """sum_b |sum_{i in b} w_i (f_i - y_i)| / sum w."""
  idx = _bin_index(f, w, n_bins, strategy)
  per_bin = jax.ops.segment_sum(w * (f - y), idx, num_segments=n_bins)
  return jnp.sum(jnp.abs(per_bin)) / jnp.sum(w)


def binned_reliability(f, y, w=None, n_bins=15, strategy="uniform"):
  """Per-bin `(mean confidence, accuracy, weight)`, each `[n_bins]` (NaN if empty)."""
  f = jnp.asarray(f)
  y = jnp.asarray(y, f.dtype)
  w = jnp.ones_like(f) if w is None else jnp.asarray(w, f.dtype)
  idx = _bin_index(f, w, n_bins, strategy)
  mass = jax.ops.segment_sum(w, idx, num_segments=n_bins)
  conf = jax.ops.segment_sum(w * f, idx, num_segments=n_bins)
  acc = jax.ops.segment_sum(w * y, idx, num_segments=n_bins)
  safe = jnp.where(mass > 0, mass, jnp.nan)
  return conf / safe, acc / safe, mass


def _check_bins(n_bins, strategy):
  validation.check_positive_int("n_bins", n_bins)
  if strategy not in BIN_STRATEGIES:
    raise ValueError(f"strategy: expected one of {BIN_STRATEGIES}, got {strategy!r}")


def binned_ece(f, y, *, n_bins: int = 15, strategy: str = "uniform", weights=None):
  """Binned ECE with `n_bins` uniform or equal-mass bins."""
  _check_bins(n_bins, strategy)
  return _binned_ece_jit(*_prepare(f, y, weights), n_bins, strategy)


_binned_ece_jit = jax.jit(binned_ece_impl, static_argnums=(3, 4))


def _public(impl, doc):
  jitted = jax.jit(impl)

  @functools.wraps(impl)
  def fn(f, y, *, weights=None):
    return jitted(*_prepare(f, y, weights))

  fn.__doc__ = doc
  return fn


accuracy = _public(accuracy_impl, "Weighted mean of y.")
mean_confidence = _public(mean_confidence_impl, "Weighted mean of f.")
overconfidence = _public(
    overconfidence_impl, "Mean confidence minus accuracy (signed; + means over-confident).")
brier = _public(brier_impl, "Brier score, mean (f - y)^2.")
auroc = _public(
    auroc_impl,
    "Tie-aware AUROC of f for y (ties get 1/2 credit); NaN if y is all 0 or all 1.")
