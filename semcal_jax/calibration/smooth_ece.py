"""Smooth ECE (smECE), numerically identical to `relplot==1.0.3`, inside jit.

smECE (Błasiok & Nakkiran, 2023) kernel-smooths the residuals `r = f - y` with a
reflected Gaussian of bandwidth sigma and averages their absolute value over a
mesh; `smece` picks sigma* by relplot's ten-step bisection for the fixed point
`sigma = smECE_sigma(sigma)`. We follow relplot step for step
(its `smooth_ece` and `kernels` modules): the same mesh `T(sigma)`, convolution grid
`M(sigma)`, linear binning, Gaussian taps on the grid, mirror padding without
repeating the end points, 'valid' convolution window, linear interpolation and
`1e-4` density floor.

Only the convolution is computed differently. Mirroring about both end points
without repeating them is a periodic even extension of period `P = 2(M - 1)`,
and the M taps fit in one period, so relplot's window is a circular convolution
of length P, done by real FFT (equal to `np.convolve` to ~1e-15).

Static shapes under jit: M depends on sigma, and sigma is traced during the
bisection. But relplot's bisection only ever evaluates sigma = odd/2^j at step j,
so the possible grids are known in advance: every sigma >= 0.01 has M = 1001,
and the few smaller candidates of steps 7-10 each get a static branch that runs
(under `lax.cond`) only if some row needs it. The binned data for M = 1001, and
its spectrum, are computed once per bisection, not once per step.

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
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from semcal_jax.calibration import validation

DENSITY_FLOOR = 1e-4  # relplot's `eps` in BaseKernelMixin.smooth
SIGMA_EPS = 1e-3  # relplot's `eps` in smECE: bandwidths below it are accepted unevaluated
BISECTION_STEPS = 10
MIN_MESH_POINTS = 200  # relplot.config.smECE_mesh_pts
BASE_M = 1001  # M(sigma) for every sigma >= 0.01
BASE_T_CAPACITY = 1000  # T(sigma) <= 1000 for sigma >= 0.01
_DYADIC = 2**BISECTION_STEPS  # bisection bandwidths are multiples of 1/1024
_TAPS_TABLE_MIN_ROWS = 64


class SmoothECE(NamedTuple):
  """smECE value and the bandwidth sigma* it was computed at."""
  value: jax.Array
  sigma: jax.Array


def grid_sizes(sigma):
  """relplot's `(M, T)` for bandwidth sigma: convolution grid and mesh points.

  Python floats give ints; arrays give int32 arrays.
  """
  if isinstance(sigma, (int, float)):
    return max(2000, round(20 / sigma)) // 2 + 1, max(round(10 / sigma), MIN_MESH_POINTS)
  m = jnp.maximum(2000, jnp.round(20.0 / sigma)).astype(jnp.int32) // 2 + 1
  t = jnp.maximum(jnp.round(10.0 / sigma), MIN_MESH_POINTS).astype(jnp.int32)
  return m, t


def _small_sigma_candidates():
  """Bandwidths < 0.01 that bisection step j (0-based) can evaluate: {j: [sigma]}."""
  out = {}
  for j in range(BISECTION_STEPS):
    denom = 2 ** (j + 1)
    sig = [k / denom for k in range(1, denom, 2) if SIGMA_EPS <= k / denom < 0.01]
    if sig:
      out[j] = sig
  return out


_CANDIDATES = _small_sigma_candidates()


def _linspace(count, capacity, dtype):
  """`np.linspace(0, 1, count)` padded to `capacity`: k * (1/(count-1)), last = 1."""
  k = jnp.arange(capacity, dtype=dtype)
  step = 1.0 / jnp.asarray(count - 1).astype(dtype)
  return jnp.where(k == count - 1, 1.0, k * step)


def _bin(f, r, w, m: int, full_weight_endpoints: bool):
  """Linear binning of `w*r` and of `w` onto the m-point grid.

  Args:
    f, r: `[n]` confidences and residuals, shared by all rows.
    w: `[R, n]` weights per row.
  Returns:
    `[R, 2, m]` (row 0: binned `w*r`, row 1: binned `w`).
  """
  dtype = f.dtype
  u = f * float(m - 1)
  b = jnp.clip(jnp.floor(u).astype(jnp.int32), 0, m - 2)
  phi = u - b.astype(dtype)
  wt = w.T  # [n, R]: each scatter update adds one contiguous row of R values
  out = []
  for v in (r, jnp.ones_like(r)):
    acc = jnp.zeros((m, w.shape[0]), dtype)
    acc = acc.at[b].add(((1 - phi) * v)[:, None] * wt).at[b + 1].add((phi * v)[:, None] * wt)
    out.append(acc)
  binned = jnp.stack(out, axis=0).transpose(2, 0, 1)
  if full_weight_endpoints:
    ends = (jnp.arange(m) == 0) | (jnp.arange(m) == m - 1)
    binned = binned * (1.0 + ends)
  return binned


def _spectrum(binned, m: int):
  """rfft of the periodic even extension (period 2m - 2) of `[..., m]` grids."""
  return jnp.fft.rfft(jnp.concatenate([binned, binned[..., -2:0:-1]], axis=-1), axis=-1)


def _taps_spectrum(sigma, m: int, dtype):
  """rfft of the Gaussian taps on the m-point grid (centred at 0.5, truncated at
  +-0.5, not scaled by the step), zero-padded to the period 2(m - 1): `[m]`."""
  period = 2 * (m - 1)
  t = _linspace(m, period, dtype)
  var = sigma * sigma
  taps = jnp.exp(-(t - 0.5) * (t - 0.5) / (2 * var)) / (math.sqrt(2 * math.pi) * sigma)
  return jnp.fft.rfft(jnp.where(jnp.arange(period) < m, taps, 0.0))


def _smooth(spectrum, sigma, m: int, taps=None):
  """Convolves one row's `[2, m]` spectrum with the taps (their spectrum `taps`,
  or computed from sigma); returns the `[2, m]` smoothed grid values."""
  if taps is None:
    taps = _taps_spectrum(sigma, m, spectrum.real.dtype)
  conv = jnp.fft.irfft(spectrum * taps, n=2 * (m - 1), axis=-1)
  return conv[:, m // 2: m // 2 + m]  # relplot's kept window of the 'valid' convolution


def _on_mesh(grid, m: int, t_count, t_capacity: int):
  """Linear interpolation of `[2, m]` grid values at the first `t_count` of
  `t_capacity` mesh points. Returns `(num, den, mesh, mask)`, each `[t_capacity]`."""
  dtype = grid.dtype
  mesh = _linspace(t_count, t_capacity, dtype)
  inds = jnp.clip((mesh * float(m - 1)).astype(jnp.int32), 0, m - 2)
  bucket = 1.0 / float(m - 1)
  resid = (mesh - inds.astype(dtype) * bucket) / bucket
  values = grid[:, inds] * (1 - resid) + grid[:, inds + 1] * resid
  return values[0], values[1], mesh, jnp.arange(t_capacity) < t_count


def _ratio(num, den, mask):
  """relplot's `sum |num/d| * d / sum d` with `d = den + 1e-4`, over live points."""
  dens = den + DENSITY_FLOOR
  rs = num / dens
  return jnp.sum(jnp.where(mask, jnp.abs(rs) * dens, 0.0)) / jnp.sum(jnp.where(mask, dens, 0.0))


def _smece_from_spectrum(spectrum, sigma, t_count, taps=None, *, m: int, t_capacity: int):
  """smECE_sigma of one row from its spectrum; scalar."""
  num, den, _, mask = _on_mesh(_smooth(spectrum, sigma, m, taps), m, t_count, t_capacity)
  return _ratio(num, den, mask)


def _rows_spectrum(f, r, w, m, full_weight_endpoints):
  """`[R, 2, m]` spectra (complex) of rows given as `[R or 1, n]` arrays."""
  if f.shape[0] == 1 and r.shape[0] == 1:
    return _spectrum(_bin(f[0], r[0], w, m, full_weight_endpoints), m)
  rows = max(f.shape[0], r.shape[0], w.shape[0])
  f, r, w = (jnp.broadcast_to(a, (rows,) + a.shape[1:]) for a in (f, r, w))
  per_row = lambda fi, ri, wi: _bin(fi, ri, wi[None], m, full_weight_endpoints)[0]
  return _spectrum(jax.vmap(per_row)(f, r, w), m)


def _bisect(f, r, w, full_weight_endpoints):
  """relplot's bandwidth search for R rows at once; returns `([R], [R])`.

  `f`, `r`, `w` are `[R or 1, n]`; a leading 1 is shared by every row.
  """
  rows = max(f.shape[0], r.shape[0], w.shape[0])
  base = _rows_spectrum(f, r, w, BASE_M, full_weight_endpoints)
  base = jnp.broadcast_to(base, (rows,) + base.shape[1:])

  # Every base-grid bandwidth bisection evaluates is k/1024 (k = 11..1024). With
  # many rows, one table of their tap spectra beats recomputing taps per row.
  dtype = base.real.dtype
  table = None
  if rows >= _TAPS_TABLE_MIN_ROWS:
    table = jax.vmap(lambda s: _taps_spectrum(s, BASE_M, dtype))(
        jnp.arange(1, _DYADIC + 1, dtype=dtype) / _DYADIC)

  def evaluate(sigma, candidates):
    _, t = grid_sizes(sigma)
    taps = None
    if table is not None:
      taps = table[jnp.clip(jnp.round(sigma * _DYADIC).astype(jnp.int32) - 1, 0, _DYADIC - 1)]
    fn = functools.partial(_smece_from_spectrum, m=BASE_M, t_capacity=BASE_T_CAPACITY)
    value = jax.vmap(fn)(base, sigma, t, taps)
    for s in candidates:  # static small bandwidths this step may evaluate
      m, t_s = grid_sizes(s)
      hit = sigma == s

      def compute(m=m, t_s=t_s):
        spec = _rows_spectrum(f, r, w, m, full_weight_endpoints)
        spec = jnp.broadcast_to(spec, (rows,) + spec.shape[1:])
        fn = functools.partial(_smece_from_spectrum, m=m, t_capacity=t_s)
        return jax.vmap(fn, in_axes=(0, 0, None, None))(spec, sigma, t_s, None)

      value = jnp.where(hit, jax.lax.cond(jnp.any(hit), compute, lambda: value), value)
    return value

  one = jnp.ones((rows,), dtype)
  at_one = evaluate(one, ())
  accept_one = at_one > 1.0  # P(1): `1 < eps` is False, so P(1) is `1 < smECE_1`.

  def step(carry, candidates=()):
    lo, hi, value_lo = carry
    mid = (lo + hi) / 2
    tiny = mid < SIGMA_EPS
    value = evaluate(jnp.where(tiny, one, mid), candidates)
    ok = tiny | (mid < value)
    return jnp.where(ok, lo, mid), jnp.where(ok, mid, hi), jnp.where(ok, value_lo, value)

  # Steps before the first small-sigma candidate share one compiled body; the
  # later ones are unrolled, each with its own static candidates.
  first = min(_CANDIDATES)
  carry = jax.lax.fori_loop(0, first, lambda _, c: step(c), (one, jnp.zeros_like(one), at_one))
  for j in range(first, BISECTION_STEPS):
    carry = step(carry, _CANDIDATES.get(j, ()))
  lo, _, value_lo = carry
  return jnp.where(accept_one, at_one, value_lo), jnp.where(accept_one, one, lo)


def _make_rows_fn(full_weight_endpoints: bool):
  """A custom_vmap'd `[R, n]` smECE whose vmap folds the new axis into R."""

  @jax.custom_batching.custom_vmap
  def rows_fn(f, r, w):
    return _bisect(f, r, w, full_weight_endpoints)

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


@functools.partial(jax.jit, static_argnames=("full_weight_endpoints",))
def _smece_jit(f, r, w, full_weight_endpoints):
  value, sigma = _ROWS_FN[full_weight_endpoints](f[None], r[None], w[None])
  return value[0], sigma[0]


@functools.partial(jax.jit, static_argnames=("m", "t", "full_weight_endpoints"))
def _smooth_static(f, values, w, sigma, m, t, full_weight_endpoints):
  """Exact-size smoothing at a static bandwidth: `(num, den, mesh, mask)`, `[t]`."""
  spectrum = _spectrum(_bin(f, values, w[None], m, full_weight_endpoints), m)[0]
  return _on_mesh(_smooth(spectrum, sigma, m), m, t, t)


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
  f, r, w = _prepare(f, y, weights)
  return SmoothECE(*_smece_jit(f, r, w, bool(full_weight_endpoints)))


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
  f, r, w = _prepare(f, y, weights)
  m, t = grid_sizes(float(sigma))
  num, den, _, mask = _smooth_static(f, r, w, jnp.asarray(sigma, f.dtype), m, t,
                                     bool(full_weight_endpoints))
  return _ratio(num, den, mask)


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
  m, t = grid_sizes(float(sigma))
  num, den, mesh, _ = _smooth_static(f, values, w, jnp.asarray(sigma, f.dtype), m,
                                     int(mesh_points or t), bool(full_weight_endpoints))
  return mesh, num, den


__all__ = ["SmoothECE", "smece", "smece_impl", "smece_sigma", "kernel_smooth", "grid_sizes"]
