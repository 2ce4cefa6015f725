"""Agreement between raters: Cohen's kappa and the confusion table on hand-computed cases,
against scikit-learn, and verdicts of a rule over (question, responses, references)."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from semcal_jax import semantic
from semcal_jax.semantic import agreement


def test_hand_computed_kappa():
  # 10 responses: a says yes to 6, b to 5; they agree on 7 (4 yes, 3 no).
  a = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], bool)
  b = np.array([1, 1, 1, 1, 0, 0, 1, 0, 0, 0], bool)
  s = agreement.summary(a, b)
  assert s["confusion"] == [[3, 1], [2, 4]] and s["agreement"] == pytest.approx(0.7)
  # p_e = 0.6 * 0.5 + 0.4 * 0.5 = 0.5 -> kappa = (0.7 - 0.5) / 0.5 = 0.4
  assert s["kappa"] == pytest.approx(0.4) and s["hits_found"] == pytest.approx(4 / 6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kappa_matches_scikit_learn(seed):
  rng = np.random.default_rng(seed)
  a = rng.uniform(size=200) < 0.4
  b = np.where(rng.uniform(size=200) < 0.7, a, rng.uniform(size=200) < 0.5)
  assert agreement.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_degenerate_and_bad_inputs():
  ones = np.ones(5, bool)
  assert np.isnan(agreement.cohen_kappa(ones, ones))
  with pytest.raises(ValueError, match="a: expected a 1-d boolean"):
    agreement.confusion(np.ones(3), ones[:3])
  with pytest.raises(ValueError, match="shapes"):
    agreement.confusion(ones, ones[:2])


def test_verdicts_of_a_rule():
  items = [("Capital of France?", [" Paris", " Lyon", ""], ["Paris"]),
           ("2+2?", [" 4", " four"], ["4"])]
  got = agreement.verdicts(semantic.get("normalized"), items, "concise")
  assert got.tolist() == [True, False, False, True, False]
