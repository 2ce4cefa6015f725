"""Sample-based uncertainty methods on hand-computed cases and against the formulas of
jlko/semantic_uncertainty (written out here in numpy)."""

import numpy as np
import pytest
from scipy.special import logsumexp

from semcal_jax.calibration import uncertainty

LN = np.log


def _case():
  # One question, four samples: classes 0, 0, 1 and one unparsed answer.
  ids = np.array([[0, 0, 1, -1]], np.int32)
  per_token = np.array([[LN(0.5), LN(0.5), LN(1.0), LN(1.0)]], np.float32)
  num_tokens = np.array([[2, 3, 1, 4]], np.int32)
  first = np.array([[LN(0.8), LN(0.6), LN(0.3), LN(0.9)]], np.float32)
  matches = np.array([[True, True, False, False]])
  return ids, per_token * num_tokens, num_tokens, first, matches


def test_hand_computed_question():
  conf, correct = uncertainty.sample_confidences(*_case()[:4], matches=_case()[4])
  assert list(conf) == list(uncertainty.METHODS)
  got = {k: float(v[0]) for k, v in conf.items()}
  assert got["b_confidence"] == pytest.approx(0.5)
  # Shares 1/2, 1/4, 1/4: H = 1/2 ln 2 + 1/2 ln 4 = 1.5 ln 2, confidence 2^-1.5.
  assert got["semantic_entropy"] == pytest.approx(2 ** -1.5, abs=1e-6)
  # Per-token likelihoods 1/2, 1/2, 1, 1: weights 1/6, 1/6, 1/3, 1/3 -> three classes
  # of 1/3 each, H = ln 3.
  assert got["semantic_entropy_weighted"] == pytest.approx(1 / 3, abs=1e-6)
  # PE = -(2 ln 1/2) / 4 = ln 2 / 2 -> confidence 2^-1/2.
  assert got["predictive_entropy"] == pytest.approx(2 ** -0.5, abs=1e-6)
  assert got["sequence_likelihood"] == pytest.approx(0.5, abs=1e-6)  # members 0 and 1
  assert got["first_token"] == pytest.approx(0.7, abs=1e-6)  # (0.8 + 0.6) / 2
  # Held out: class 0 chosen on samples 0-1, its share among samples 2-3 is 0.
  assert got["b_confidence_heldout"] == pytest.approx(0.0)
  assert all(bool(c[0]) for c in correct.values())


def _reference_entropies(ids, per_token):
  """semantic_uncertainty's cluster_assignment_entropy, logsumexp_by_id
  (agg='sum_normalized') + predictive_entropy_rao, and predictive_entropy."""
  _, counts = np.unique(ids, return_counts=True)
  p = counts / counts.sum()
  discrete = -np.sum(p * np.log(p))
  log_norm = per_token - logsumexp(per_token)
  by_id = np.array([logsumexp(log_norm[ids == c]) for c in np.unique(ids)])
  weighted = -np.sum(np.exp(by_id) * by_id)
  return discrete, weighted, -np.mean(per_token)


def test_entropies_match_the_reference_formulas():
  rng = np.random.default_rng(0)
  q, m = 12, 10
  ids = rng.integers(-1, 4, size=(q, m)).astype(np.int32)
  num_tokens = rng.integers(1, 9, size=(q, m)).astype(np.int32)
  per_token = -rng.exponential(1.0, size=(q, m)).astype(np.float32)
  conf, _ = uncertainty.sample_confidences(ids, per_token * num_tokens, num_tokens,
                                           np.zeros((q, m), np.float32),
                                           matches=np.zeros((q, m), bool))
  for i in range(q):
    discrete, weighted, pe = _reference_entropies(ids[i], per_token[i].astype(np.float64))
    assert float(conf["semantic_entropy"][i]) == pytest.approx(np.exp(-discrete), abs=1e-5)
    assert float(conf["semantic_entropy_weighted"][i]) == pytest.approx(np.exp(-weighted),
                                                                        abs=1e-5)
    assert float(conf["predictive_entropy"][i]) == pytest.approx(np.exp(-pe), rel=1e-5)


def test_even_spread_over_k_classes_equals_b_confidence():
  ids = np.array([[0, 1, 2, 0, 1, 2], [0, 0, 0, 0, 0, 0]], np.int32)
  zeros = np.zeros(ids.shape, np.float32)
  conf, _ = uncertainty.sample_confidences(ids, zeros, np.ones(ids.shape, np.int32), zeros,
                                           matches=np.zeros(ids.shape, bool))
  np.testing.assert_allclose(conf["semantic_entropy"], conf["b_confidence"], atol=1e-6)
  np.testing.assert_allclose(conf["semantic_entropy_weighted"], [1 / 3, 1.0], atol=1e-6)


def test_all_unparsed_question_has_no_member_confidence():
  ids = np.full((1, 4), -1, np.int32)
  zeros = np.zeros(ids.shape, np.float32)
  conf, correct = uncertainty.sample_confidences(ids, zeros, np.ones(ids.shape, np.int32),
                                                 zeros, matches=np.zeros(ids.shape, bool))
  assert float(conf["sequence_likelihood"][0]) == 0.0 and float(conf["first_token"][0]) == 0.0
  assert not bool(correct["b_confidence"][0])


def test_errors_name_the_argument():
  ids = np.zeros((2, 4), np.int32)
  with pytest.raises(ValueError, match="logprob"):
    uncertainty.sample_confidences(ids, np.zeros((2, 3)), np.ones((2, 4)), np.zeros((2, 4)),
                                   matches=np.zeros((2, 4), bool))
