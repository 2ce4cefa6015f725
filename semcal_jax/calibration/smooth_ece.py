"""Smooth ECE (smECE), numerically identical to `relplot==1.0.3`, inside jit.

smECE (Błasiok & Nakkiran, 2023) kernel-smooths the residuals `r = f - y` with a
reflected Gaussian of bandwidth sigma and averages their absolute value over a
mesh; `smece` picks sigma* by relplot's ten-step bisection for the fixed point
`sigma = smECE_sigma(sigma)`. The grid arithmetic follows relplot step for step
(`kernel_grid`); only the convolution is computed differently (by FFT).

Static shapes under jit: M depends on sigma, and sigma is traced during the
bisection. But relplot's bisection only ever evaluates sigma = odd/2^j at step j,
so the possible grids are known in advance: every sigma >= 0.01 has M = 1001,
and there are nine smaller candidates (steps 7-10), each with its own grid.
The search therefore runs in two passes. Pass one bisects on the base grid
alone and records whether any row reached a small candidate (until then its
path is exact, so the record is exact too). Only then are the nine small-sigma
values computed, once each (they do not depend on the bisection), and pass two
repeats the search with them. The base grid's spectrum is computed once per
row, not once per step.

Compilations: `smece` pads the data to a power-of-two bucket with zero-weight
points (which change nothing) and runs three programs: binning (one per
bucket, cheap to compile), the search on the `[1, 2, 1001]` grid (one for all
sizes) and, only when needed, the small-bandwidth values (binning per bucket,
smoothing once). `smece_impl` is the same computation as one traceable
function, for use inside jit and vmap.

Batching: the core works on R rows at once and is a `custom_vmap` function, so
`jax.vmap(smece)` (as bootstrap does) runs one batched bisection. When the rows
share their confidences (bootstrap weights), binning positions are shared and
the scatter adds whole rows at once.

Known relplot quirk: a point exactly at 0 or 1 (and, decreasingly, any point
within one grid step of them) gets half the weight of an interior point,
because the mirror image of the end node is not repeated. Confidence 1.0 is
common (unanimous samples), so `full_weight_endpoints=True` doubles the two end
nodes after binning, which gives every point the same total weight. It is off
by default, for parity with relplot.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from semcal_jax.calibration import kernel_grid as kg
from semcal_jax.calibration import validation
from semcal_jax.calibration.kernel_grid import DENSITY_FLOOR, grid_sizes  # noqa: F401  (re-exported)

SIGMA_EPS = 1e-3  # relplot's `eps` in smECE: bandwidths below it are accepted unevaluated
BISECTION_STEPS = 10
SMALL_SIGMA = 0.01  # below it M(sigma) > 1001
_DYADIC = 2**BISECTION_STEPS  # bisection bandwidths are multiples of 1/1024
_TAPS_TABLE_MIN_ROWS = 64
MIN_BUCKET = 64  # smallest padded data size of `smece`


class SmoothECE(NamedTuple):
  """smECE value and the bandwidth sigma* it was computed at."""
  value: jax.Array
  sigma: jax.Array


def _small_sigma_candidates():
  """The bandwidths in [SIGMA_EPS, 0.01) that bisection can evaluate (sorted)."""
  out = set()
  for j in range(BISECTION_STEPS):
    denom = 2 ** (j + 1)
    out.update(k / denom for k in range(1, denom, 2) if SIGMA_EPS <= k / denom < SMALL_SIGMA)
  return tuple(sorted(out))


CANDIDATES = _small_sigma_candidates()


def candidate_grids(f, r, w, full_weight_endpoints: bool, one_program: bool = False):
  """Binned grids `[R, 2, M(s)]` at every small candidate s (a tuple).

  `one_program` bins all of them with one vmapped scatter into grids of the
  largest size (fast to compile; memory 9x the largest grid per row)."""
  sizes = [grid_sizes(s)[0] for s in CANDIDATES]
  if not one_program:
    return tuple(kg.rows_binned(f, r, w, m, full_weight_endpoints) for m in sizes)
  cap = max(sizes)
  grids = jax.vmap(lambda m: kg.rows_binned(f, r, w, m, full_weight_endpoints, cap))(
      jnp.asarray(sizes, jnp.int32))
  return tuple(grids[j, ..., :m] for j, m in enumerate(sizes))


def candidate_values(grids):
  """smECE_s of every row at every small candidate s: `[R, len(CANDIDATES)]`."""
  out = []
  for s, grid in zip(CANDIDATES, grids):
    m, t = grid_sizes(s)
    spectra = kg.spectrum_of(grid, m)
    fn = functools.partial(kg.smece_from_spectrum, m=m, t_capacity=t)
    out.append(jax.vmap(fn, in_axes=(0, None, None, None))(spectra, s, t, None))
  return jnp.stack(out, axis=-1)


def search(base, small):
  """relplot's bandwidth bisection for R rows on their base grids.

  Args:
    base: `[R, 2, 1001]` binned grids.
    small: `[R, len(CANDIDATES)]` smECE at the small candidates (NaN: unknown).
  Returns:
    `(value [R], sigma [R], reached_small [R] bool)`; with unknown small values
    the result is exact for rows with `reached_small` False.
  """
  rows = base.shape[0]
  dtype = base.dtype
  spectrum = kg.spectrum_of(base, kg.BASE_M)
  table = None
  if rows >= _TAPS_TABLE_MIN_ROWS:  # every base bandwidth is k/1024, k = 11..1024
    table = jax.vmap(lambda s: kg.centered_kernel_spectrum(s, dtype))(
        jnp.arange(1, _DYADIC + 1, dtype=dtype) / _DYADIC)
  cands = jnp.asarray(CANDIDATES, dtype)

  def evaluate(sigma):
    is_small = sigma < SMALL_SIGMA
    s = jnp.where(is_small, 1.0, sigma)
    if table is None:
      kernel = jax.vmap(lambda x: kg.centered_kernel_spectrum(x, dtype))(s)
    else:
      kernel = table[jnp.clip(jnp.round(s * _DYADIC).astype(jnp.int32) - 1, 0, _DYADIC - 1)]
    value = kg.base_eval(spectrum, kernel, grid_sizes(s)[1])
    hit = sigma[:, None] == cands[None, :]
    small_value = jnp.sum(jnp.where(hit, small, 0.0), axis=-1)
    return jnp.where(is_small, small_value, value), is_small

  one = jnp.ones((rows,), dtype)
  at_one, _ = evaluate(one)
  accept_one = at_one > 1.0  # P(1): `1 < eps` is False, so P(1) is `1 < smECE_1`.

  def step(_, carry):
    lo, hi, value_lo, reached = carry
    mid = (lo + hi) / 2
    tiny = mid < SIGMA_EPS
    value, used = evaluate(jnp.where(tiny, one, mid))
    ok = tiny | (mid < value)
    return (jnp.where(ok, lo, mid), jnp.where(ok, mid, hi), jnp.where(ok, value_lo, value),
            reached | (used & ~tiny))

  init = (one, jnp.zeros_like(one), at_one, jnp.zeros((rows,), bool))
  lo, _, value_lo, reached = jax.lax.fori_loop(0, BISECTION_STEPS, step, init)
  return jnp.where(accept_one, at_one, value_lo), jnp.where(accept_one, one, lo), reached


def _rows_smece(f, r, w, full_weight_endpoints):
  """Both passes as one traceable function on `[R or 1, n]` rows: `([R], [R])`."""
  rows = max(f.shape[0], r.shape[0], w.shape[0])
  base = kg.rows_binned(f, r, w, kg.BASE_M, full_weight_endpoints)
  base = jnp.broadcast_to(base, (rows,) + base.shape[1:])
  unknown = jnp.full((rows, len(CANDIDATES)), jnp.nan, base.dtype)
  value, sigma, reached = search(base, unknown)

  def with_small():
    grids = tuple(jnp.broadcast_to(g, (rows,) + g.shape[1:])
                  for g in candidate_grids(f, r, w, full_weight_endpoints))
    v, s, _ = search(base, candidate_values(grids))
    return v, s

  return jax.lax.cond(jnp.any(reached), with_small, lambda: (value, sigma))


def _make_rows_fn(full_weight_endpoints: bool):
  """A custom_vmap'd `[R, n]` smECE whose vmap folds the new axis into R."""

  @jax.custom_batching.custom_vmap
  def rows_fn(f, r, w):
    return _rows_smece(f, r, w, full_weight_endpoints)

  @rows_fn.def_vmap
  def rule(axis_size, in_batched, f, r, w):
    args = (f, r, w)
    rows = max(a.shape[1] if b else a.shape[0] for a, b in zip(args, in_batched))

    def fold(a, batched):
      if batched:  # [B, R or 1, n] -> [B*R, n]
        a = jnp.broadcast_to(a, (axis_size, rows) + a.shape[2:])
        return a.reshape((axis_size * rows,) + a.shape[2:])
      if a.shape[0] == 1:
        return a  # shared by all rows
      return jnp.broadcast_to(a[None], (axis_size,) + a.shape).reshape((-1,) + a.shape[1:])

    value, sigma = rows_fn(*(fold(a, b) for a, b in zip(args, in_batched)))
    return (value.reshape(axis_size, rows), sigma.reshape(axis_size, rows)), (True, True)

  return rows_fn


_ROWS_FN = {flag: _make_rows_fn(flag) for flag in (False, True)}

def _residual_rows(f, y, w):
  return f[None], (f - y.astype(f.dtype))[None], w[None]


_base_grid_jit = jax.jit(
    lambda f, y, w, fwe: kg.rows_binned(*_residual_rows(f, y, w), kg.BASE_M, fwe),
    static_argnums=3)
_candidate_grids_jit = jax.jit(
    lambda f, y, w, fwe: candidate_grids(*_residual_rows(f, y, w), fwe, one_program=True),
    static_argnums=3)
_search_jit = jax.jit(search)


@jax.jit
def _candidate_values_one_program(grids):
  """`candidate_values` of one row as a single vmapped program over the
  candidates (`kernel_grid.smece_on_grid`): `[1, len(CANDIDATES)]`."""
  sizes = [grid_sizes(s) for s in CANDIDATES]
  cap = max(m for m, _ in sizes)
  stacked = jnp.stack([jnp.pad(g[0], ((0, 0), (0, cap - g.shape[-1]))) for g in grids])
  ms, ts = (jnp.asarray(v, jnp.int32) for v in zip(*sizes))
  sig = jnp.asarray(CANDIDATES, stacked.dtype)
  fn = functools.partial(kg.smece_on_grid, t_capacity=max(t for _, t in sizes))
  return jax.vmap(fn)(stacked, ms, ts, sig)[None]


def bucket_size(n: int) -> int:
  """The padded size `smece` compiles for: a power of two >= max(n, MIN_BUCKET)."""
  return max(MIN_BUCKET, 1 << (int(n) - 1).bit_length())


PAD_LIMIT = 2**16  # data up to this size are padded to a bucket; larger ones compile per size


def _host_inputs(f, y, weights):
  """Validated concrete `(f, y, w)` for the host path, padded by `_to_bucket`."""
  f, y = validation.check_binary_pair(f, y)
  if weights is not None:
    weights = validation.as_array("weights", weights)
    validation.check_weights("weights", weights, "f", f)
  w = np.ones(f.shape, np.asarray(f).dtype) if weights is None else weights
  return _to_bucket(f, y, w)


def _to_bucket(f, *others):
  """`f` and arrays like it on the device, in f's (canonical) float type. Up to
  `PAD_LIMIT` points they are padded in numpy with zeros (zero-weight points at
  f = 0, which change nothing) to `bucket_size(n)`, so that sizes share
  compilations; larger data go as they are (padding would copy them)."""
  dtype = jax.dtypes.canonicalize_dtype(np.asarray(f).dtype)
  n = np.shape(f)[0]
  if n > PAD_LIMIT:
    return tuple(jnp.asarray(a).astype(dtype) for a in (f,) + others)
  pad = bucket_size(n) - n
  return tuple(jnp.asarray(np.pad(np.asarray(a, dtype), (0, pad))) for a in (f,) + others)


def _traced_bucket(*arrays):
  """`_to_bucket`'s padding with jnp, for arguments that may be traced (the
  diagrams vmap `kernel_smooth` over bootstrap weights)."""
  pad = bucket_size(arrays[0].shape[0]) - arrays[0].shape[0]
  return tuple(jnp.pad(a, (0, pad)) for a in arrays)


@functools.partial(jax.jit, static_argnames=("m", "t", "full_weight_endpoints"))
def _smooth_static(f, values, w, sigma, m, t, full_weight_endpoints):
  """Exact-size smoothing at a static bandwidth: `(num, den, mesh, mask)`, `[t]`."""
  spectrum = kg.spectrum_of(kg.bin_points(f, values, w[None], m, full_weight_endpoints), m)[0]
  return kg.on_mesh(kg.smooth(spectrum, sigma, m), m, t, t)


def _prepare(f, y, weights):
  f, y = validation.check_binary_pair(f, y)
  f = jnp.asarray(f)
  r = f - jnp.asarray(y).astype(f.dtype)
  if weights is None:
    return f, r, jnp.ones_like(f)
  weights = validation.as_array("weights", weights)
  validation.check_weights("weights", weights, "f", f)
  return f, r, jnp.asarray(weights).astype(f.dtype)


def smece(f, y, *, weights=None, full_weight_endpoints: bool = False) -> SmoothECE:
  """smECE with relplot's automatic bandwidth.

  Args:
    f: `[n]` confidences in [0, 1] (float; use float64, `jax.enable_x64`, for
      relplot parity to 1e-9).
    y: `[n]` outcomes, bool or exactly 0/1.
    weights: optional `[n]` non-negative multiplicities (a bootstrap resample
      is `weights = counts`); None means 1 each.
    full_weight_endpoints: give points at exactly 0 and 1 the full weight
      relplot halves (module docstring). Off = relplot parity.

  Returns:
    `SmoothECE(value, sigma)`, equal to `relplot.smECE(f, y, return_width=True)`.
    `jax.vmap` over any argument runs one batched bisection.
  """
  fwe = bool(full_weight_endpoints)
  if not all(validation.is_concrete(a) for a in (f, y, weights) if a is not None):
    f, r, w = _prepare(f, y, weights)
    value, sigma = _ROWS_FN[fwe](f[None], r[None], w[None])
    return SmoothECE(value[0], sigma[0])
  f, y, w = _host_inputs(f, y, weights)
  base = _base_grid_jit(f, y, w, fwe)
  unknown = jnp.full((1, len(CANDIDATES)), jnp.nan, base.dtype)
  value, sigma, reached = _search_jit(base, unknown)
  if bool(reached[0]):
    small = _candidate_values_one_program(_candidate_grids_jit(f, y, w, fwe))
    value, sigma, _ = _search_jit(base, small)
  return SmoothECE(value[0], sigma[0])


def smece_impl(f, y, w, full_weight_endpoints: bool = False) -> SmoothECE:
  """Unvalidated core of `smece` on `(f, y, weights)`, for use inside jit/vmap."""
  r = f - y.astype(f.dtype)
  value, sigma = _ROWS_FN[bool(full_weight_endpoints)](f[None], r[None], w[None])
  return SmoothECE(value[0], sigma[0])


def smece_sigma(f, y, sigma: float, *, weights=None, full_weight_endpoints: bool = False):
  """smECE at a fixed bandwidth (a Python float > 0); equals `relplot.smECE_sigma`."""
  validation.check_sigma("sigma", sigma)
  if not isinstance(sigma, (int, float)):
    raise ValueError(f"sigma: expected a Python float (it sets static grid sizes), got {type(sigma)}")
  f, r, w = _to_bucket(*_prepare(f, y, weights))
  m, t = grid_sizes(float(sigma))
  num, den, _, mask = _smooth_static(f, r, w, jnp.asarray(sigma, f.dtype), m, t,
                                     bool(full_weight_endpoints))
  return kg.ratio(num, den, mask)


def kernel_smooth(f, values, sigma: float, *, mesh_points: int | None = None,
                  weights=None, full_weight_endpoints: bool = False):
  """relplot's kernel smoother at a fixed (Python float) bandwidth.

  Returns `(mesh, num, den)` on `mesh_points` points (default relplot's
  T(sigma)): `num` smooths `weights * values`, `den` smooths `weights` (a density
  without the 1e-4 floor). The reliability curve is `num / (den + 1e-4)` with
  `values = y`, as relplot's `KernelSmoother`.
  """
  f = jnp.asarray(f)
  values = jnp.asarray(values, f.dtype)
  w = jnp.ones_like(f) if weights is None else jnp.asarray(weights, f.dtype)
  f, values, w = _traced_bucket(f, values, w)
  m, t = grid_sizes(float(sigma))
  num, den, mesh, _ = _smooth_static(f, values, w, jnp.asarray(sigma, f.dtype), m,
                                     int(mesh_points or t), bool(full_weight_endpoints))
  return mesh, num, den


__all__ = ["SmoothECE", "smece", "smece_impl", "smece_sigma", "kernel_smooth", "grid_sizes"]
