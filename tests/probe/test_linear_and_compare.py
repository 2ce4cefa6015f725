"""Linear probe (features, ridge fit) and the across-run comparison (Spearman CI, scatter)."""

import numpy as np
import pytest

from semcal_jax.probe import compare, linear_probe
from tests.training import toy


def test_prompt_features_are_the_last_real_token_state_whatever_the_padding():
  m = toy.model(vocab=16)
  prompts = [[toy.BOS, 3, 4, 5], [toy.BOS, 7], [toy.BOS, 2, 2]]
  feats = linear_probe.prompt_features(m, prompts, batch_size=2)
  assert feats.shape == (3, 32) and np.isfinite(feats).all()
  alone = linear_probe.prompt_features(m, prompts[1:2], batch_size=2)
  np.testing.assert_allclose(feats[1], alone[0], atol=1e-5)  # batching / left padding inert
  assert not np.allclose(feats[0], feats[1])


def test_ridge_probe_reads_a_linear_share_and_flags_a_constant_one():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(200, 10))
  y = np.clip(0.5 + 0.1 * x[:, 0] - 0.05 * x[:, 3] + 0.01 * rng.normal(size=200), 0, 1)
  tr, ho = np.arange(150), np.arange(150, 200)
  res = linear_probe.fit_linear_probe(x, y, tr, ho)
  assert res["r2"] > 0.9 and res["spearman"] > 0.9 and res["mse"] < res["mse_constant"]
  noise = linear_probe.fit_linear_probe(rng.normal(size=(200, 10)), y, tr, ho)
  assert noise["r2"] < 0.2
  flat = linear_probe.fit_linear_probe(x, np.full(200, 0.5), tr, ho)
  assert np.isnan(flat["r2"]) and np.isnan(flat["spearman"])


def test_spearman_ci_and_scatter(tmp_path):
  x = [0.01, 0.02, 0.05, 0.08, 0.1, 0.2]
  up = compare.spearman_ci(x, [0.02, 0.03, 0.04, 0.09, 0.1, 0.3], n_bootstrap=300)
  assert up["spearman"] == pytest.approx(1.0) and up["n"] == 6
  assert up["ci"][0] <= 1.0 <= up["ci"][1] + 1e-12 and up["bootstrap_used"] > 200
  down = compare.spearman_ci(x, [0.3, 0.2, 0.1, 0.05, 0.04, 0.01], n_bootstrap=300)
  assert down["spearman"] == pytest.approx(-1.0) and down["ci"][1] < 0
  assert np.isnan(compare.spearman_ci([1, 2], [1, 2])["spearman"])
  with pytest.raises(ValueError, match="one length"):
    compare.spearman_ci([1, 2, 3], [1, 2])
  compare.scatter(["a", "b", "c", "d", "e", "f"], x, [0.02, 0.03, 0.04, 0.09, 0.1, 0.3], up,
                  tmp_path / "s.png", smece_ci=[[0.01, 0.05]] * 6)
  assert (tmp_path / "s.png").stat().st_size > 5000
