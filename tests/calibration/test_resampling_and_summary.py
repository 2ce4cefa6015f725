"""Bootstrap intervals, the all-metrics summary and reliability diagrams."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import relplot

from semcal_jax.calibration import diagrams, metrics, resampling, smooth_ece, summary


def _discrete(seed, n=2000, m=20):
  rng = np.random.default_rng(seed)
  f = rng.integers(1, m + 1, size=n) / m
  y = (rng.uniform(size=n) < f).astype(np.float64)
  return f, y


def test_bootstrap_is_seeded_and_covers_estimate():
  f, y = _discrete(0)
  a = resampling.bootstrap(metrics.brier_impl, f, y, n_resamples=300, seed=1)
  b = resampling.bootstrap(metrics.brier_impl, f, y, n_resamples=300, seed=1)
  c = resampling.bootstrap(metrics.brier_impl, f, y, n_resamples=300, seed=2)
  assert float(a.low) == float(b.low) and float(a.high) == float(b.high)
  assert float(a.low) != float(c.low)
  assert float(a.low) < float(a.estimate) < float(a.high)


def test_cell_compression_matches_point_resampling_in_distribution():
  f, y = _discrete(1, n=3000)
  fn = lambda a, b, w: smooth_ece.smece_impl(a, b, w).value
  cells = resampling.bootstrap(fn, f, y, n_resamples=400, seed=0, compress_cells=True)
  points = resampling.bootstrap(fn, f, y, n_resamples=400, seed=0, compress_cells=False)
  assert float(cells.estimate) == pytest.approx(float(points.estimate), abs=1e-6)
  assert float(cells.std) == pytest.approx(float(points.std), rel=0.25)
  assert float(cells.low) == pytest.approx(float(points.low), abs=0.01)


def test_vmapped_bootstrap_smece_equals_relplot_on_each_resample():
  with jax.enable_x64(True):
    rng = np.random.default_rng(2)
    f = rng.uniform(size=400)
    y = (rng.uniform(size=400) < f).astype(np.float64)
    w = resampling.resample_weights(jax.random.key(0), 400, 8, jnp.float64)
    out = jax.vmap(lambda wi: smooth_ece.smece_impl(jnp.asarray(f), jnp.asarray(y), wi))(w)
    for i in range(8):
      counts = np.asarray(w[i]).astype(int)
      ref = relplot.smECE(np.repeat(f, counts), np.repeat(y, counts))
      assert abs(float(out.value[i]) - ref) <= 1e-9


def test_resample_weights_are_counts_of_n_draws():
  w = resampling.resample_weights(jax.random.key(3), 50, 20)
  assert w.shape == (20, 50)
  assert np.all(np.asarray(w.sum(1)) == 50)


def test_calibration_metrics_keys_and_json():
  f, y = _discrete(4, n=1000)
  out = summary.calibration_metrics(f, y, n_bootstrap=100, seed=0)
  for key in ("accuracy", "mean_confidence", "overconfidence", "smece", "sigma", "ece",
              "ece_equal_mass", "brier", "auroc"):
    assert key in out and np.isfinite(out[key])
  for key in ("accuracy", "brier", "mean_confidence"):  # unbiased: the interval covers them
    lo, hi = out[f"{key}_ci"]
    assert lo <= out[key] <= hi
  lo, hi = out["smece_ci"]
  assert 0 <= lo < hi
  basic = summary.calibration_metrics(f, y, n_bootstrap=100, seed=0, ci_method="basic")
  assert basic["smece"] == out["smece"]
  assert basic["smece_ci"][0] == pytest.approx(2 * out["smece"] - hi)
  json.dumps(out)  # plain Python numbers only


def test_semantic_calibration_end_to_end():
  rng = np.random.default_rng(5)
  ids = rng.integers(-1, 3, size=(300, 10)).astype(np.int32)
  ref = rng.integers(0, 3, size=300).astype(np.int32)
  out = summary.semantic_calibration(ids, ref, n_bootstrap=50, top_k=2)
  assert out["num_questions"] == 300 and out["num_samples"] == 10
  assert 0 < out["unparsed_fraction"] < 0.5
  assert 0 <= out["classwise_smece"] <= 1
  assert out["per_question"]["confidence"].shape == (300,)
  held = summary.semantic_calibration(ids, ref, estimator="heldout", n_bootstrap=0)
  assert held["mean_confidence"] < out["mean_confidence"]
  with pytest.raises(ValueError, match="estimator"):
    summary.semantic_calibration(ids, ref, estimator="mode")


def test_smoothed_curve_matches_relplot_diagram():
  with jax.enable_x64(True):
    rng = np.random.default_rng(6)
    f = rng.beta(2, 2, size=2000)
    y = (rng.uniform(size=2000) < f**1.3).astype(np.float64)
    ref = relplot.prepare_rel_diagram(f, y, plot_confidence_band=False, report_CE_std=False)
    ours = diagrams.smoothed_curve(f, y, n_bootstrap=50)
    assert ours.sigma == ref["sigma"]
    np.testing.assert_allclose(ours.mu, ref["mu"], atol=1e-9)
    assert np.all(ours.lower <= ours.mu + 1e-9) and np.all(ours.mu <= ours.upper + 1e-9)


def test_diagram_files(tmp_path):
  f, y = _discrete(7, n=500)
  curves = diagrams.plot_runs([("a", f, y), ("b", f**2, y)], tmp_path / "runs.png", title="t",
                              n_bootstrap=20)
  assert len(curves) == 2 and (tmp_path / "runs.png").stat().st_size > 10_000
  fig, _ = diagrams.binned_diagram(f, y, n_bins=10)
  diagrams.save(fig, tmp_path / "binned.png")
  diagrams.confidence_histogram(f, tmp_path / "hist.png", correct=y)
  assert (tmp_path / "binned.png").exists() and (tmp_path / "hist.png").exists()
  assert not list(tmp_path.glob("*.tmp-*"))
