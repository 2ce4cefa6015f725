"""The numerical pieces of relplot's smECE on a grid: binning, spectra, smoothing.

relplot (1.0.3) smooths on a grid of M(sigma) points: linear binning of the
weighted residuals and weights, Gaussian taps on the grid, mirror padding
without repeating the end points, a 'valid' convolution window, then linear
interpolation at T(sigma) mesh points. Mirroring about both ends without
repeating them is a periodic even extension of period `P = 2(M - 1)`, so the
window is a circular convolution of length P, done here by real FFT (equal to
`np.convolve` to ~1e-15).

`smooth_ece` builds the bandwidth search on these. Shapes: `[R, 2, m]` grids
hold, per row, the binned `w * r` (channel 0) and `w` (channel 1).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

DENSITY_FLOOR = 1e-4  # relplot's `eps` in BaseKernelMixin.smooth
MIN_MESH_POINTS = 200  # relplot.config.smECE_mesh_pts
BASE_M = 1001  # M(sigma) for every sigma >= 0.01
BASE_T_CAPACITY = 1000  # T(sigma) <= 1000 for sigma >= 0.01


def grid_sizes(sigma):
  """relplot's `(M, T)` for bandwidth sigma: convolution grid and mesh points.

  Python floats give ints; arrays give int32 arrays.
  """
  if isinstance(sigma, (int, float)):
    return max(2000, round(20 / sigma)) // 2 + 1, max(round(10 / sigma), MIN_MESH_POINTS)
  m = jnp.maximum(2000, jnp.round(20.0 / sigma)).astype(jnp.int32) // 2 + 1
  t = jnp.maximum(jnp.round(10.0 / sigma), MIN_MESH_POINTS).astype(jnp.int32)
  return m, t


def linspace(count, capacity, dtype):
  """`np.linspace(0, 1, count)` padded to `capacity`: k * (1/(count-1)), last = 1."""
  k = jnp.arange(capacity, dtype=dtype)
  step = 1.0 / jnp.asarray(count - 1).astype(dtype)
  return jnp.where(k == count - 1, 1.0, k * step)


def bin_points(f, r, w, m, full_weight_endpoints: bool, capacity: int | None = None):
  """Linear binning of `w*r` and of `w` onto the m-point grid.

  Args:
    f, r: `[n]` confidences and residuals, shared by all rows.
    w: `[R, n]` weights per row.
    m: grid points (an int, or a traced int when `capacity` is given).
    capacity: static length of the returned grids (>= m; zeros past m).
  Returns:
    `[R, 2, capacity or m]` (row 0: binned `w*r`, row 1: binned `w`).
  """
  dtype = f.dtype
  size = capacity or m
  u = f * jnp.asarray(m - 1).astype(dtype)
  b = jnp.clip(jnp.floor(u).astype(jnp.int32), 0, m - 2)
  phi = u - b.astype(dtype)
  lo, hi = (1 - phi) * w, phi * w  # [R, n]
  # One scatter of [4, R] rows at b (faster on CPU than four scatters); the
  # upper-node parts then move up one node.
  parts = jnp.stack([lo * r, lo, hi * r, hi], axis=0).transpose(2, 0, 1)  # [n, 4, R]
  at_b = jnp.zeros((size,) + parts.shape[1:], dtype).at[b].add(parts)
  upper = jnp.concatenate([jnp.zeros_like(at_b[:1, 2:]), at_b[:-1, 2:]], axis=0)
  binned = (at_b[:, :2] + upper).transpose(2, 1, 0)  # [R, 2, size]
  if full_weight_endpoints:
    ends = (jnp.arange(size) == 0) | (jnp.arange(size) == m - 1)
    binned = binned * (1.0 + ends)
  return binned


def spectrum_of(binned, m: int):
  """rfft of the periodic even extension (period 2m - 2) of `[..., m]` grids."""
  return jnp.fft.rfft(jnp.concatenate([binned, binned[..., -2:0:-1]], axis=-1), axis=-1)


def gaussian_taps(x, sigma):
  """relplot's kernel values at offsets `x` (not scaled by the grid step)."""
  return jnp.exp(-x * x / (2 * sigma * sigma)) / (math.sqrt(2 * math.pi) * sigma)


def taps_spectrum(sigma, m: int, dtype):
  """rfft of the Gaussian taps on the m-point grid (centred at 0.5, truncated at
  +-0.5, not scaled by the step), zero-padded to the period 2(m - 1): `[m]`."""
  period = 2 * (m - 1)
  taps = gaussian_taps(linspace(m, period, dtype) - 0.5, sigma)
  return jnp.fft.rfft(jnp.where(jnp.arange(period) < m, taps, 0.0))


def smooth(spectrum, sigma, m: int, taps=None):
  """Convolves one row's `[2, m]` spectrum with the taps (their spectrum `taps`,
  or computed from sigma); returns the `[2, m]` smoothed grid values."""
  if taps is None:
    taps = taps_spectrum(sigma, m, spectrum.real.dtype)
  conv = jnp.fft.irfft(spectrum * taps, n=2 * (m - 1), axis=-1)
  return conv[:, m // 2: m // 2 + m]  # relplot's kept window of the 'valid' convolution


def on_mesh(grid, m, t_count, t_capacity: int):
  """Linear interpolation of `[2, >= m]` grid values (the first m live; m may be
  traced) at the first `t_count` of `t_capacity` mesh points. Returns
  `(num, den, mesh, mask)`, each `[t_capacity]`."""
  dtype = grid.dtype
  steps = jnp.asarray(m - 1).astype(dtype)
  mesh = linspace(t_count, t_capacity, dtype)
  inds = jnp.clip((mesh * steps).astype(jnp.int32), 0, m - 2)
  bucket = 1.0 / steps
  resid = (mesh - inds.astype(dtype) * bucket) / bucket
  values = grid[:, inds] * (1 - resid) + grid[:, inds + 1] * resid
  return values[0], values[1], mesh, jnp.arange(t_capacity) < t_count


def ratio(num, den, mask):
  """relplot's `sum |num/d| * d / sum d` with `d = den + 1e-4`, over live points."""
  dens = den + DENSITY_FLOOR
  rs = num / dens
  return jnp.sum(jnp.where(mask, jnp.abs(rs) * dens, 0.0)) / jnp.sum(jnp.where(mask, dens, 0.0))


def smece_from_spectrum(spectrum, sigma, t_count, taps=None, *, m: int, t_capacity: int):
  """smECE_sigma of one row from its spectrum; scalar."""
  num, den, _, mask = on_mesh(smooth(spectrum, sigma, m, taps), m, t_count, t_capacity)
  return ratio(num, den, mask)


def rows_binned(f, r, w, m, full_weight_endpoints, capacity=None):
  """`[R, 2, capacity or m]` binned grids of rows given as `[R or 1, n]` arrays."""
  if f.shape[0] == 1 and r.shape[0] == 1:
    return bin_points(f[0], r[0], w, m, full_weight_endpoints, capacity)
  rows = max(f.shape[0], r.shape[0], w.shape[0])
  f, r, w = (jnp.broadcast_to(a, (rows,) + a.shape[1:]) for a in (f, r, w))
  per_row = lambda fi, ri, wi: bin_points(fi, ri, wi[None], m, full_weight_endpoints,
                                          capacity)[0]
  return jax.vmap(per_row)(f, r, w)


def centered_kernel_spectrum(sigma, dtype):
  """Real rfft of the base-grid Gaussian taps centred on index 0: `[BASE_M]`.

  For the odd base grid the taps are symmetric about their middle, so shifting
  them to index 0 (circularly) gives a real spectrum, and relplot's 'valid'
  window becomes the first m points of the circular convolution."""
  period = 2 * (BASE_M - 1)
  k = jnp.arange(period)
  d = jnp.minimum(k, period - k)
  taps = gaussian_taps(d.astype(dtype) / float(BASE_M - 1), sigma)
  return jnp.fft.rfft(jnp.where(d <= BASE_M // 2, taps, 0.0)).real


def base_eval(spectrum, kernel, t_count):
  """smECE_sigma on the base grid for R rows.

  Args:
    spectrum: `[R, 2, mh]` base-grid spectra; kernel: `[R or 1, mh]` real
      kernel spectra; t_count: `[R]` mesh sizes (<= BASE_T_CAPACITY).
  Returns `[R]`. Uses `sum |num/d| d / sum d = sum |num| / sum d` (d > 0).
  """
  m, cap = BASE_M, BASE_T_CAPACITY
  dtype = kernel.dtype
  # The first m points are the window; gathering from the whole period saves a copy.
  smooth = jnp.fft.irfft(spectrum * kernel[:, None, :], n=2 * (m - 1), axis=-1)
  k = jnp.arange(cap, dtype=dtype)[None]
  count = t_count[:, None]
  mesh = jnp.where(k == count - 1, 1.0, k / (count - 1).astype(dtype))
  inds = jnp.clip((mesh * float(m - 1)).astype(jnp.int32), 0, m - 2)
  resid = (mesh - inds.astype(dtype) / float(m - 1)) * float(m - 1)
  lo = jnp.take_along_axis(smooth, inds[:, None, :], axis=2)
  hi = jnp.take_along_axis(smooth, inds[:, None, :] + 1, axis=2)
  values = lo * (1 - resid[:, None]) + hi * resid[:, None]
  live = k < count
  num = jnp.sum(jnp.where(live, jnp.abs(values[:, 0]), 0.0), axis=-1)
  den = jnp.sum(jnp.where(live, values[:, 1] + DENSITY_FLOOR, 0.0), axis=-1)
  return num / den


def smece_on_grid(grid, m, t_count, sigma, t_capacity: int):
  """smECE_sigma of one `[2, capacity]` grid whose first `m` points are live.

  The same arithmetic as `smooth` + `on_mesh` + `ratio`, but with `m`,
  `t_count` and `sigma` traced, so one program serves every grid size up to
  the capacity: relplot's circular window is read off a linear convolution of
  the (wrapped) even extension with the m taps, by an FFT of a power-of-two
  size >= 3 * capacity. Scalar.
  """
  dtype = grid.dtype
  cap = grid.shape[-1]
  size = 1 << (3 * cap - 3).bit_length()
  period = 2 * (m - 1)
  half = m // 2
  # z[k] = ext[(k + half - (m - 1)) mod period], k < 2m - 1; ext is the even extension.
  k = jnp.arange(2 * cap - 1)
  e = jnp.mod(k + half - (m - 1), period)
  src = jnp.where(e < m, e, period - e)
  z = jnp.where(k < 2 * m - 1, grid[:, jnp.clip(src, 0, cap - 1)], 0.0)
  j = jnp.arange(cap)
  taps = jnp.where(j < m, gaussian_taps(j.astype(dtype) / (m - 1).astype(dtype) - 0.5, sigma), 0.0)
  conv = jnp.fft.irfft(jnp.fft.rfft(z, n=size) * jnp.fft.rfft(taps, n=size), n=size)
  smooth_grid = jax.lax.dynamic_slice_in_dim(conv, m - 1, cap, axis=-1)  # [2, cap]
  num, den, _, mask = on_mesh(smooth_grid, m, t_count, t_capacity)
  return ratio(num, den, mask)
