"""smECE parity with relplot 1.0.3, computed against relplot at test time."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import relplot

from semcal_jax.calibration import smooth_ece

# A few sizes (one compilation each) and many data shapes per size.
SIZES = (20, 137, 1000, 10_000, 100_000)


def _dataset(seed: int, n: int):
  rng = np.random.default_rng(seed)
  kind = seed % 6
  if kind == 0:  # calibrated, continuous
    f = rng.uniform(size=n)
    y = rng.uniform(size=n) < f
  elif kind == 1:  # discrete confidences with atoms at exactly 0 and 1
    f = rng.choice([0.0, 1.0, 0.05, 0.5, 0.95], size=n)
    y = rng.uniform(size=n) < 0.6
  elif kind == 2:  # constant prediction
    f = np.full(n, rng.uniform())
    y = rng.uniform(size=n) < 0.5
  elif kind == 3:  # over-confident
    f = rng.beta(5, 1, size=n)
    y = rng.uniform(size=n) < f**2
  elif kind == 4:  # B-confidence of M = 20 samples, many unanimous
    f = rng.integers(1, 21, size=n) / 20
    f[rng.uniform(size=n) < 0.3] = 1.0
    y = rng.uniform(size=n) < np.clip(f + rng.normal(0, 0.05, n), 0, 1)
  else:  # under-confident, near the boundary
    f = rng.uniform(0, 0.2, size=n)
    y = rng.uniform(size=n) < 2 * f
  return f.astype(np.float64), y.astype(np.float64)


CASES = [(seed, n) for n in SIZES for seed in range(6 * SIZES.index(n), 6 * SIZES.index(n) + 6)
         ]


@pytest.fixture(autouse=True)
def x64():
  with jax.enable_x64(True):
    yield


def test_case_count():
  assert len(CASES) >= 30


@pytest.mark.parametrize("seed,n", CASES)
def test_smece_matches_relplot(seed, n):
  f, y = _dataset(seed, n)
  ref, ref_sigma = relplot.smECE(f, y, return_width=True)
  ours = smooth_ece.smece(f, y)
  assert ours.value.dtype == jnp.float64
  assert abs(float(ours.value) - ref) <= 1e-9
  assert float(ours.sigma) == ref_sigma


@pytest.mark.parametrize("sigma", [0.5, 0.1, 0.05, 0.013, 0.004, 0.001])
@pytest.mark.parametrize("seed,n", [(1, 137), (3, 1000), (4, 10_000)])
def test_smece_sigma_matches_relplot(seed, n, sigma):
  f, y = _dataset(seed, n)
  ref = relplot.smECE_sigma(f, y, sigma)
  assert abs(float(smooth_ece.smece_sigma(f, y, sigma)) - ref) <= 1e-9


@pytest.mark.parametrize("count", [6, 70])  # 70 rows use the table of tap spectra
def test_vmap_runs_one_batched_bisection_with_identical_results(count):
  rows = [_dataset(s, 1000) for s in range(count)]
  f = jnp.stack([r[0] for r in rows])
  y = jnp.stack([r[1] for r in rows])
  batched = jax.vmap(lambda a, b: smooth_ece.smece_impl(a, b, jnp.ones_like(a)))(f, y)
  for i, (fi, yi) in enumerate(rows):
    ref, ref_sigma = relplot.smECE(fi, yi, return_width=True)
    assert abs(float(batched.value[i]) - ref) <= 1e-9
    assert float(batched.sigma[i]) == ref_sigma


def test_weights_equal_repeated_points():
  f, y = _dataset(3, 137)
  counts = np.random.default_rng(0).integers(0, 4, size=137)
  weighted = smooth_ece.smece(f, y, weights=counts.astype(np.float64))
  ref, ref_sigma = relplot.smECE(np.repeat(f, counts), np.repeat(y, counts), return_width=True)
  assert abs(float(weighted.value) - ref) <= 1e-9
  assert float(weighted.sigma) == ref_sigma


def test_nested_vmap():
  f, y = _dataset(0, 137)
  w = jnp.asarray(np.random.default_rng(1).integers(0, 3, size=(2, 3, 137)), jnp.float64)
  out = jax.vmap(jax.vmap(lambda wi: smooth_ece.smece_impl(jnp.asarray(f), jnp.asarray(y), wi)))(w)
  for i in range(2):
    for j in range(3):
      single = smooth_ece.smece(f, y, weights=w[i, j])
      assert abs(float(out.value[i, j]) - float(single.value)) <= 1e-12


def test_full_weight_endpoints_fixes_the_half_weight_of_atoms():
  # 100 points exactly at 1.0 (always right) and 100 wrong points at 0.5.
  # relplot counts the atom at 1 with half weight; the option gives it full weight,
  # so the result moves towards what an interior atom (just below 1) gives.
  f = np.r_[np.ones(100), np.full(100, 0.5)]
  y = np.r_[np.ones(100), np.zeros(100)]
  sigma = 0.05
  inner = f.copy()
  inner[:100] = 1 - 1e-3  # one grid step inside: full weight under relplot too
  relplot_at_one = float(smooth_ece.smece_sigma(f, y, sigma))
  fixed_at_one = float(smooth_ece.smece_sigma(f, y, sigma, full_weight_endpoints=True))
  assert abs(relplot_at_one - relplot.smECE_sigma(f, y, sigma)) <= 1e-12
  ref_inner = relplot.smECE_sigma(inner, y, sigma)
  assert abs(fixed_at_one - ref_inner) < abs(relplot_at_one - ref_inner) / 5


def test_float32_is_close():
  with jax.enable_x64(False):
    f, y = _dataset(3, 10_000)
    ours = smooth_ece.smece(f.astype(np.float32), y.astype(np.float32))
    assert ours.value.dtype == jnp.float32
    assert abs(float(ours.value) - relplot.smECE(f, y)) < 2e-3


def test_jit_of_public_function():
  f, y = _dataset(0, 137)
  out = jax.jit(lambda a, b: smooth_ece.smece(a, b).value)(jnp.asarray(f), jnp.asarray(y))
  assert abs(float(out) - relplot.smECE(f, y)) <= 1e-9


def test_small_bandwidths_take_the_second_pass_and_match_relplot():
  rng = np.random.default_rng(7)
  f = rng.uniform(size=60_000)
  y = (rng.uniform(size=f.size) < f).astype(np.float64)
  ref, ref_sigma = relplot.smECE(f, y, return_width=True)
  ours = smooth_ece.smece(f, y)
  assert float(ours.sigma) < smooth_ece.SMALL_SIGMA  # the nine-candidate pass ran
  assert float(ours.sigma) == ref_sigma
  assert abs(float(ours.value) - ref) <= 1e-9
  traced = jax.jit(smooth_ece.smece)(f, y)  # the one-program path agrees
  assert abs(float(traced.value) - float(ours.value)) <= 1e-12


def test_sizes_in_one_bucket_share_every_compiled_program():
  rng = np.random.default_rng(3)
  smooth_ece.smece(rng.uniform(size=300), (rng.uniform(size=300) < 0.5) * 1.0)
  search = smooth_ece._search_jit._cache_size()  # pylint: disable=protected-access
  binning = smooth_ece._base_grid_jit._cache_size()  # pylint: disable=protected-access
  for n in (257, 400, 511):
    smooth_ece.smece(rng.uniform(size=n), (rng.uniform(size=n) < 0.5) * 1.0)
  assert smooth_ece.bucket_size(257) == smooth_ece.bucket_size(511) == 512
  assert smooth_ece._search_jit._cache_size() == search  # pylint: disable=protected-access
  assert smooth_ece._base_grid_jit._cache_size() == binning  # pylint: disable=protected-access
