"""Binned ECE, Brier, AUROC, over-confidence, input validation, and properties."""

import jax
import numpy as np
import pytest
import relplot
from hypothesis import given, settings, strategies as st
from sklearn.metrics import roc_auc_score

from semcal_jax.calibration import metrics, smooth_ece


def _data(seed, n=500):
  rng = np.random.default_rng(seed)
  f = rng.uniform(size=n)
  y = (rng.uniform(size=n) < f**1.5).astype(np.float64)
  return f, y


def _ece_reference(f, y, n_bins, strategy):
  if strategy == "uniform":
    idx = np.minimum((f * n_bins).astype(int), n_bins - 1)
  else:
    ranks = [(j * len(f) + n_bins - 1) // n_bins - 1 for j in range(1, n_bins)]  # inverted CDF
    edges = np.sort(f)[ranks]
    idx = np.searchsorted(edges, f, side="right")
  return sum(abs((f - y)[idx == b].sum()) for b in range(n_bins)) / len(f)


@pytest.mark.parametrize("strategy", ["uniform", "equal_mass"])
@pytest.mark.parametrize("n_bins", [5, 15])
def test_binned_ece(strategy, n_bins):
  f, y = _data(0)
  ours = float(metrics.binned_ece(f.astype(np.float32), y, n_bins=n_bins, strategy=strategy))
  assert ours == pytest.approx(_ece_reference(f, y, n_bins, strategy), abs=1e-5)


def test_binned_ece_uniform_matches_relplot_away_from_one():
  f, y = _data(1)
  f = np.minimum(f, 0.999)  # relplot puts f == 1 in an extra bin of its own
  assert float(metrics.binned_ece(f, y, n_bins=10)) == pytest.approx(
      relplot.metrics.binnedECE(f, y, 10), abs=1e-6)


def test_brier_overconfidence_accuracy():
  f, y = _data(2)
  assert float(metrics.brier(f, y)) == pytest.approx(np.mean((f - y) ** 2), abs=1e-6)
  assert float(metrics.overconfidence(f, y)) == pytest.approx(f.mean() - y.mean(), abs=1e-6)
  assert float(metrics.accuracy(f, y)) == pytest.approx(y.mean(), abs=1e-6)
  assert float(metrics.mean_confidence(f, y)) == pytest.approx(f.mean(), abs=1e-6)


def test_auroc_matches_sklearn_with_ties():
  rng = np.random.default_rng(3)
  f = rng.integers(0, 6, size=300) / 5  # heavy ties
  y = (rng.uniform(size=300) < f).astype(np.float64)
  assert float(metrics.auroc(f, y)) == pytest.approx(roc_auc_score(y, f), abs=1e-6)


def test_auroc_all_tied_is_half_and_single_class_is_nan():
  assert float(metrics.auroc(np.full(10, 0.3), np.r_[np.ones(5), np.zeros(5)])) == 0.5
  assert np.isnan(float(metrics.auroc(np.full(4, 0.3), np.ones(4))))


def test_weights_equal_repetition():
  f, y = _data(4, 50)
  w = np.random.default_rng(0).integers(0, 4, size=50)
  rf, ry = np.repeat(f, w), np.repeat(y, w)
  for fn in (metrics.brier, metrics.auroc, metrics.overconfidence):
    assert float(fn(f, y, weights=w.astype(float))) == pytest.approx(float(fn(rf, ry)), abs=1e-6)
  assert float(metrics.binned_ece(f, y, weights=w.astype(float))) == pytest.approx(
      float(metrics.binned_ece(rf, ry)), abs=1e-6)


@pytest.mark.parametrize("f,y,message", [
    (np.array([0.1, np.nan]), np.array([0, 1]), "f: contains NaN"),
    (np.array([0.1, 1.2]), np.array([0, 1]), r"f: values must lie in \[0, 1\]"),
    (np.array([-0.1, 0.2]), np.array([0, 1]), r"f: values must lie in \[0, 1\]"),
    (np.array([0.1, 0.2]), np.array([0, 2]), "y: labels must be 0 or 1"),
    (np.array([0.1, 0.2]), np.array([0.5, 1.0]), "y: labels must be 0 or 1"),
    (np.array([0.1, 0.2, 0.3]), np.array([0, 1]), "shapes differ"),
    (np.array([]), np.array([]), "f: is empty"),
    (np.array([1, 0]), np.array([0, 1]), "floating-point"),
    (np.zeros((2, 2)), np.zeros((2, 2)), "f: expected a vector"),
    (None, np.array([0, 1]), "f: expected an array"),
])
def test_bad_input_names_argument(f, y, message):
  for fn in (metrics.brier, metrics.auroc, metrics.binned_ece, smooth_ece.smece):
    with pytest.raises(ValueError, match=message):
      fn(f, y)


def test_bad_weights_and_options():
  f, y = _data(5, 10)
  with pytest.raises(ValueError, match="weights"):
    metrics.brier(f, y, weights=-np.ones(10))
  with pytest.raises(ValueError, match="weights"):
    smooth_ece.smece(f, y, weights=np.ones(9))
  with pytest.raises(ValueError, match="strategy"):
    metrics.binned_ece(f, y, strategy="quantile")
  with pytest.raises(ValueError, match="n_bins"):
    metrics.binned_ece(f, y, n_bins=0)
  with pytest.raises(ValueError, match="sigma"):
    smooth_ece.smece_sigma(f, y, 0.0)


# ---- Property tests (hypothesis). Sizes are fixed so that each compiles once. ----

@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_smece_vanishes_on_calibrated_data(seed):
  with jax.enable_x64(True):
    rng = np.random.default_rng(seed)
    f = rng.beta(rng.uniform(0.5, 3), rng.uniform(0.5, 3), size=100_000)
    y = (rng.uniform(size=f.size) < f).astype(np.float64)
    assert float(smooth_ece.smece(f, y).value) <= 0.02


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), shift=st.floats(-0.3, 0.3))
def test_smece_invariant_to_permutation_and_bounded(seed, shift):
  with jax.enable_x64(True):
    rng = np.random.default_rng(seed)
    f = np.clip(rng.uniform(size=300) + shift * rng.uniform(size=300), 0, 1)
    y = (rng.uniform(size=300) < rng.uniform()).astype(np.float64)
    perm = rng.permutation(300)
    a = smooth_ece.smece(f, y)
    b = smooth_ece.smece(f[perm], y[perm])
    assert abs(float(a.value) - float(b.value)) <= 1e-12 and float(a.sigma) == float(b.sigma)
    assert float(a.value) <= np.mean(np.abs(f - y)) + 1e-12


@settings(max_examples=20, deadline=None)
@given(n_tied=st.integers(1, 20), n_pos=st.integers(0, 20), seed=st.integers(0, 10**6))
def test_auroc_ties_give_half_credit(n_tied, n_pos, seed):
  # Positives and negatives tied at one value contribute exactly 1/2 per pair.
  rng = np.random.default_rng(seed)
  n_pos = min(n_pos, n_tied - 1) if n_tied > 1 else 0
  f = np.r_[np.full(n_tied, 0.5), rng.uniform(0.6, 1, 3), rng.uniform(0, 0.4, 3)]
  y = np.r_[np.ones(n_pos), np.zeros(n_tied - n_pos), np.ones(3), np.zeros(3)]
  pos, neg = f[y == 1], f[y == 0]
  expected = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
  assert float(metrics.auroc(f, y)) == pytest.approx(expected, abs=1e-6)
