"""Selective prediction: AURAC, PRR and the risk–coverage curve against hand-computed
cases, LM-Polygraph's prediction-rejection formula, ties and weights."""

import itertools

import jax
import numpy as np
import pytest

from semcal_jax.calibration import method_metrics, selective


def _w(n):
  return np.ones(n, np.float32)


def test_hand_computed_three_answers():
  # Most confident first: right, wrong, right -> accuracies 1, 1/2, 2/3.
  f, y = np.array([0.9, 0.8, 0.3], np.float32), np.array([1, 0, 1], np.float32)
  assert float(selective.aurac_impl(f, y, _w(3))) == pytest.approx((1 + 1 / 2 + 2 / 3) / 3,
                                                                    abs=1e-6)
  assert float(selective.oracle_aurac_impl(f, y, _w(3))) == pytest.approx((1 + 1 + 2 / 3) / 3,
                                                                           abs=1e-6)
  # (13/18 - 2/3) / (16/18 - 2/3) = 1/4.
  assert float(selective.prr_impl(f, y, _w(3))) == pytest.approx(0.25, abs=1e-5)
  coverage, risk = selective.risk_coverage_impl(f, y, _w(3), 3)
  np.testing.assert_allclose(coverage, [1 / 3, 2 / 3, 1], atol=1e-6)
  np.testing.assert_allclose(risk, [0, 1 / 2, 1 / 3], atol=1e-6)


def test_oracle_and_reversed_rankings():
  y = np.array([1, 1, 0, 1, 0, 0], np.float32)
  best = np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.3], np.float32)  # every right answer first
  assert float(selective.prr_impl(best, y, _w(6))) == pytest.approx(1.0, abs=1e-5)
  assert float(selective.prr_impl(1 - best, y, _w(6))) < -0.9  # every wrong answer first
  assert np.isnan(float(selective.prr_impl(best, np.ones(6, np.float32), _w(6))))


def _polygraph_prediction_rejection_area(f, y):
  """LM-Polygraph's PredictionRejectionArea (max_rejection = 1) for confidences."""
  order = np.argsort(-f, kind="stable")
  cumsum = np.cumsum(y[order])
  return float(np.mean(cumsum / np.arange(1, len(f) + 1)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_rejection_area_formula_without_ties(seed):
  rng = np.random.default_rng(seed)
  f = rng.permutation(np.arange(1, 41)).astype(np.float32) / 41
  y = (rng.uniform(size=40) < f).astype(np.float32)
  ours = float(selective.aurac_impl(f, y, _w(40)))
  assert ours == pytest.approx(_polygraph_prediction_rejection_area(f, y), abs=1e-5)
  oracle = _polygraph_prediction_rejection_area(y + 1e-3 * f, y)
  random = float(y.mean())
  assert float(selective.prr_impl(f, y, _w(40))) == pytest.approx(
      (ours - random) / (oracle - random), abs=1e-4)


def test_ties_are_the_average_over_every_order():
  f = np.array([0.7, 0.5, 0.5, 0.5, 0.2], np.float32)
  y = np.array([0, 1, 0, 1, 1], np.float32)
  orders = list(itertools.permutations([1, 2, 3]))
  areas = []
  for order in orders:  # every way of breaking the tie, by a tiny nudge
    nudged = f.copy()
    for rank, i in enumerate(order):
      nudged[i] += 1e-3 * (3 - rank)
    areas.append(_polygraph_prediction_rejection_area(nudged, y))
  assert float(selective.aurac_impl(f, y, _w(5))) == pytest.approx(np.mean(areas), abs=1e-5)


def test_integer_weights_are_copies():
  f = np.array([0.9, 0.6, 0.4, 0.1], np.float32)
  y = np.array([1, 0, 1, 0], np.float32)
  w = np.array([3, 1, 2, 1], np.float32)
  fr, yr = np.repeat(f, w.astype(int)), np.repeat(y, w.astype(int))
  for fn in (selective.aurac_impl, selective.prr_impl):
    assert float(fn(f, y, w)) == pytest.approx(float(fn(fr, yr, _w(len(fr)))), abs=1e-5)
  # A zero-weight point changes nothing, wherever it sorts.
  f0, y0, w0 = (np.append(a, v) for a, v in ((f, 0.5), (y, 1.0), (w, 0.0)))
  assert float(selective.aurac_impl(f0, y0, w0)) == pytest.approx(
      float(selective.aurac_impl(f, y, w)), abs=1e-6)
  c0, r0 = selective.risk_coverage_impl(f0, y0, w0, 7)
  c, r = selective.risk_coverage_impl(fr, yr, _w(len(fr)), 7)
  np.testing.assert_allclose(r0, r, atol=1e-6)


def test_vmaps_over_resample_weights():
  f = np.array([0.9, 0.6, 0.4, 0.1], np.float32)
  y = np.array([1, 0, 1, 0], np.float32)
  ws = np.array([[1, 1, 1, 1], [2, 0, 1, 1]], np.float32)
  batched = jax.vmap(selective.aurac_impl, in_axes=(None, None, 0))(f, y, ws)
  for row, w in zip(np.asarray(batched), ws):
    assert row == pytest.approx(float(selective.aurac_impl(f, y, w)), abs=1e-6)


def test_methods_table_has_intervals_and_skips():
  rng = np.random.default_rng(0)
  f = rng.uniform(size=200)
  y = rng.uniform(size=200) < f
  table = method_metrics.methods_table({"a": f, "b": "never answers with a number"},
                                       {"a": y}, n_bootstrap=100)
  assert table["b"] == {"skipped": "never answers with a number"}
  row = table["a"]
  for k in method_metrics.METRICS:
    assert row[f"{k}_ci"][0] <= row[k] + 1e-9 or k == "smece", k
  assert row["auroc"] > 0.6 and row["prr"] > 0.2  # confidence that tracks correctness
  assert len(row["risk_coverage"]["risk"]) == 21 and row["risk_coverage"]["coverage"][-1] == 1.0
  with pytest.raises(ValueError, match="correct: no outcomes for method 'c'"):
    method_metrics.methods_table({"c": f}, {"a": y}, n_bootstrap=0)
