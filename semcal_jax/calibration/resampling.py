"""Bootstrap confidence intervals for any calibration metric, in one vmapped call.

A resample is represented by its weight vector (how often each point was
drawn), so every metric with the `(f, y, weights)` signature of
`semcal_jax.calibration.metrics` (and `smece_impl`) runs on all resamples at
once under `jax.vmap`.

Discrete confidences are the rule here (B-confidence is a multiple of 1/M), so
the data are first compressed to their distinct (f, y) cells; a resample is
then a multinomial draw of n points over the cells. This has exactly the
distribution of resampling the n points (the metrics depend only on how often
each value occurs) and makes the per-resample cost O(cells) instead of O(n).
"""

from __future__ import annotations

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
  """Distinct (f, y) pairs and their total weight: `(f_u, y_u, w_u)` (numpy)."""
  f = np.asarray(f)
  y = np.asarray(y).astype(f.dtype)
  w = np.ones_like(f) if weights is None else np.asarray(weights, f.dtype)
  cells, inverse = np.unique(np.stack([f, y], axis=1), axis=0, return_inverse=True)
  counts = np.zeros(len(cells), f.dtype)
  np.add.at(counts, inverse.reshape(-1), w)
  return cells[:, 0], cells[:, 1], counts


def resample_weights(key, n: int, n_resamples: int, dtype=jnp.float32):
  """`[n_resamples, n]` counts of n draws with replacement from n points."""
  idx = jax.random.randint(key, (n_resamples, n), 0, n)
  rows = jnp.broadcast_to(jnp.arange(n_resamples)[:, None], idx.shape)
  return jnp.zeros((n_resamples, n), dtype).at[rows, idx].add(1.0)


def resample_cells(key, counts, n_resamples: int):
  """`[n_resamples, cells]` multinomial draws of `sum(counts)` points over the cells."""
  counts = jnp.asarray(counts)
  total = jnp.sum(counts)
  return jax.random.multinomial(key, total, counts / total, shape=(n_resamples, counts.shape[0]),
                                dtype=counts.dtype)


def bootstrap(metric: Callable, f, y, *, weights=None, n_resamples: int = 1000, seed: int = 0,
              confidence: float = 0.95, compress_cells: bool = True) -> Interval:
  """Percentile bootstrap of `metric(f, y, w)` (a scalar or a pytree of scalars).

  Args:
    metric: pure function of `(f [n], y [n], w [n])`, jit- and vmap-able, e.g.
      `metrics.brier_impl` or `lambda f, y, w: smece_impl(f, y, w).value`.
    f, y: `[n]` confidences and 0/1 outcomes (validated).
    weights: optional `[n]` multiplicities of the data themselves.
    n_resamples: number of bootstrap resamples, all computed in one vmap.
    seed: resampling seed; the same seed gives the same interval.
    confidence: coverage of the percentile interval.
    compress_cells: resample over distinct (f, y) cells when there are few.

  Returns:
    `Interval(estimate, low, high, std)`; `estimate` is the metric on the data.
  """
  f, y = validation.check_binary_pair(f, y)
  n_resamples = validation.check_positive_int("n_resamples", n_resamples)
  if not 0 < confidence < 1:
    raise ValueError(f"confidence: expected a level in (0, 1), got {confidence!r}")
  if weights is not None:
    weights = validation.as_array("weights", weights)
    validation.check_weights("weights", weights, "f", f)
  dtype = jnp.asarray(f).dtype
  key = jax.random.key(seed)
  fu, yu, wu = compress(f, y, weights)
  if compress_cells and len(fu) <= MAX_CELLS:
    data_f, data_y, data_w = (jnp.asarray(a, dtype) for a in (fu, yu, wu))
    resampled = resample_cells(key, data_w, n_resamples)
  else:
    data_f, data_y = jnp.asarray(f, dtype), jnp.asarray(y).astype(dtype)
    if weights is None:
      data_w = jnp.ones_like(data_f)
      resampled = resample_weights(key, data_f.shape[0], n_resamples, dtype)
    else:  # draw points in proportion to their weight
      data_w = jnp.asarray(weights, dtype)
      resampled = resample_cells(key, data_w, n_resamples)
  return _interval(metric, data_f, data_y, data_w, resampled, confidence)


def _interval(metric, f, y, w, resampled, confidence):
  estimate = jax.jit(metric)(f, y, w)
  samples = jax.jit(jax.vmap(metric, in_axes=(None, None, 0)))(f, y, resampled)
  alpha = (1 - confidence) / 2
  low = jax.tree.map(lambda s: jnp.nanquantile(s, alpha), samples)
  high = jax.tree.map(lambda s: jnp.nanquantile(s, 1 - alpha), samples)
  std = jax.tree.map(lambda s: jnp.nanstd(s), samples)
  return Interval(estimate, low, high, std)
