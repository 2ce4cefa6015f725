"""Bootstrap confidence intervals for any calibration metric, in one vmapped call.

A resample is represented by its weight vector (how often each point was
drawn), so every metric with the `(f, y, weights)` signature of
`semcal_jax.calibration.metrics` (and `smece_impl`) runs on all resamples at
once under `jax.vmap`.

Discrete confidences are the rule here (B-confidence is a multiple of 1/M), so
the data are first compressed to their distinct (f, y) cells; a resample is
then the count of draws that land in each cell. This has exactly the
distribution of resampling the n points (the metrics depend only on how often
each value occurs) and makes the metric's per-resample cost O(cells) instead
of O(n).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from semcal_jax.calibration import validation

# Compress to cells when there are at most this many distinct (f, y) pairs.
MAX_CELLS = 512


class Interval(NamedTuple):
  """A point estimate with its bootstrap percentile interval."""
  estimate: Any
  low: Any
  high: Any
  std: Any


def compress(f, y, weights=None):
  """Distinct (f, y) pairs: `(f_u, y_u, w_u, cell_of_point)` (numpy).

  `w_u` is the total weight of each cell and `cell_of_point [n]` maps every
  input point to its cell.
  """
  f = np.asarray(f)
  y = np.asarray(y).astype(f.dtype)
  w = np.ones_like(f) if weights is None else np.asarray(weights, f.dtype)
  cells, inverse = np.unique(np.stack([f, y], axis=1), axis=0, return_inverse=True)
  inverse = inverse.reshape(-1)
  counts = np.zeros(len(cells), f.dtype)
  np.add.at(counts, inverse, w)
  return cells[:, 0], cells[:, 1], counts, inverse


def key_for(seed: int):
  """Resampling key. The 'rbg' generator is several times faster than threefry on
  CPU; draws are reproducible for a seed on a given backend."""
  return jax.random.key(seed, impl="rbg")


def _counts(draws, length, dtype):
  """Row-wise histograms of `draws [R, n]` in `[0, length)`: `[R, length]`."""
  rows = draws.shape[0]
  flat = (draws + jnp.arange(rows, dtype=draws.dtype)[:, None] * length).reshape(-1)
  return jnp.bincount(flat, length=rows * length).reshape(rows, length).astype(dtype)


@functools.partial(jax.jit, static_argnames=("n", "n_resamples", "dtype"))
def resample_weights(key, n: int, n_resamples: int, dtype=jnp.float32):
  """`[n_resamples, n]` counts of n draws with replacement from n points."""
  return _counts(jax.random.randint(key, (n_resamples, n), 0, n), n, dtype)


def resample_cells(seed: int, cell_counts, n_resamples: int, dtype=jnp.float32):
  """`[n_resamples, n_cells]` counts per cell of n = sum(cell_counts) draws with
  replacement from the n points, i.e. multinomial(n, cell_counts / n) rows.

  Drawn directly as multinomials (numpy's conditional binomials: one draw per
  cell, not per point), from `numpy.random.default_rng(seed)`."""
  counts = np.asarray(cell_counts, np.float64)
  n = int(round(counts.sum()))
  rng = np.random.default_rng(seed)
  return jnp.asarray(rng.multinomial(n, counts / counts.sum(), size=n_resamples), dtype)


METHODS = ("percentile", "basic")


def bootstrap(metric: Callable, f, y, *, weights=None, n_resamples: int = 1000, seed: int = 0,
              confidence: float = 0.95, method: str = "percentile",
              compress_cells: bool = True, resample_dtype=jnp.float32) -> Interval:
  """Percentile bootstrap of `metric(f, y, w)` (a scalar or a pytree of scalars).

  Args:
    metric: pure function of `(f [n], y [n], w [n])`, jit- and vmap-able, e.g.
      `metrics.brier_impl` or `lambda f, y, w: smece_impl(f, y, w).value`.
    f, y: `[n]` confidences and 0/1 outcomes (validated).
    weights: optional `[n]` multiplicities of the data themselves.
    n_resamples: number of bootstrap resamples, all computed in one vmap.
    seed: resampling seed; the same seed gives the same interval.
    confidence: coverage of the percentile interval.
    method: "percentile" (quantiles of the resampled metric) or "basic"
      (`2 * estimate - quantiles`, relplot's choice, which corrects the upward
      bias of non-negative metrics such as smECE but can go below 0).
    compress_cells: resample over distinct (f, y) cells when there are few.
    resample_dtype: float type the resampled metrics are computed in (the
      estimate keeps the data's). float32 by default: interval ends are
      quantiles of resamples, whose spread is far above float32 rounding, and
      the resamples run about twice as fast; None keeps the data's type.

  Note: smECE and ECE are biased upwards under resampling, so their percentile
  interval can lie entirely above the estimate on well-calibrated data.

  Returns:
    `Interval(estimate, low, high, std)`; `estimate` is the metric on the data.
  """
  f, y = validation.check_binary_pair(f, y)
  n_resamples = validation.check_positive_int("n_resamples", n_resamples)
  if not 0 < confidence < 1:
    raise ValueError(f"confidence: expected a level in (0, 1), got {confidence!r}")
  if method not in METHODS:
    raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
  if weights is not None:
    weights = validation.as_array("weights", weights)
    validation.check_weights("weights", weights, "f", f)
  dtype = jnp.asarray(f).dtype
  key = key_for(seed)
  if weights is not None:
    # Weighted data: points are drawn in proportion to their weight, n_eff = sum(w)
    # draws over the distinct cells.
    fu, yu, wu, _ = compress(f, y, weights)
    data_f, data_y, data_w = (jnp.asarray(a, dtype) for a in (fu, yu, wu))
    total = int(round(float(wu.sum())))
    cdf = np.cumsum(wu) / wu.sum()
    u = jax.random.uniform(key, (n_resamples, total), dtype)
    draws = jnp.minimum(jnp.searchsorted(jnp.asarray(cdf, dtype), u, side="right"), len(fu) - 1)
    resampled = _counts(draws, len(fu), dtype)
    return _interval(metric, data_f, data_y, data_w, resampled, confidence, method,
                   resample_dtype)
  fu, yu, wu, _ = compress(f, y)
  if compress_cells and len(fu) <= MAX_CELLS:
    # Pad to a power of two with zero-weight cells, so that data sets with a
    # different number of distinct cells reuse one compilation.
    cells = max(64, 1 << (len(fu) - 1).bit_length())
    pad = cells - len(fu)
    data_f, data_y, data_w = (jnp.asarray(np.pad(a, (0, pad)), dtype) for a in (fu, yu, wu))
    resampled = resample_cells(seed, np.pad(wu, (0, pad)), n_resamples, dtype)
  else:
    data_f, data_y = jnp.asarray(f, dtype), jnp.asarray(y).astype(dtype)
    data_w = jnp.ones_like(data_f)
    resampled = resample_weights(key, data_f.shape[0], n_resamples, dtype)
  return _interval(metric, data_f, data_y, data_w, resampled, confidence, method,
                   resample_dtype)


@functools.lru_cache(maxsize=64)
def compiled(metric):
  """jit of the metric and of its vmap over resamples, cached per metric object."""
  return jax.jit(metric), jax.jit(jax.vmap(metric, in_axes=(None, None, 0)))


def _interval(metric, f, y, w, resampled, confidence, method, resample_dtype):
  single, batched = compiled(metric)
  estimate = single(f, y, w)
  if resample_dtype is not None and jnp.dtype(resample_dtype).itemsize < f.dtype.itemsize:
    f, y, resampled = (a.astype(resample_dtype) for a in (f, y, resampled))
  samples = batched(f, y, resampled)
  samples = jax.tree.map(lambda s, e: s.astype(jnp.result_type(e)), samples, estimate)
  alpha = (1 - confidence) / 2
  low = jax.tree.map(lambda s: jnp.nanquantile(s, alpha), samples)
  high = jax.tree.map(lambda s: jnp.nanquantile(s, 1 - alpha), samples)
  std = jax.tree.map(lambda s: jnp.nanstd(s), samples)
  if method == "basic":
    low, high = (jax.tree.map(lambda e, q: 2 * e - q, estimate, q) for q in (high, low))
  return Interval(estimate, low, high, std)
