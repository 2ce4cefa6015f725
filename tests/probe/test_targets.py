"""Probe targets: class shares, canonical answers, distractors, the finite-M floor."""

import numpy as np
import pytest

from semcal_jax import probe


def test_shares_order_answers_and_dropped_mass():
  keys = [["paris", "paris", None, "lyon", "paris", "rome"]]
  texts = [["Paris", "paris", "??", "Lyon", "Paris", "Rome"]]
  matches = np.array([[True, True, False, False, True, False]])
  t = probe.from_classes(keys, texts, matches, max_candidates=2)
  assert t.answers[0] == ("Paris", "Lyon")  # most frequent text; ties: first seen
  np.testing.assert_allclose(t.counts[0], [3, 1])
  np.testing.assert_allclose(t.shares[0], [0.75, 0.25])
  assert t.correct[0].tolist() == [True, False]
  assert t.dropped[0] == pytest.approx(2 / 6)  # one unparsed, "rome" beyond K = 2
  assert t.num_samples == 6 and t.usable.tolist() == [True]


def test_all_unparsed_question_is_not_usable():
  t = probe.from_classes([[None, None], ["a", "b"]], None, max_candidates=3)
  assert t.usable.tolist() == [False, True]
  assert t.shares[0].sum() == 0 and t.answers[1][:2] == ("a", "b")
  with pytest.raises(ValueError, match=r"keys\[1\]"):
    probe.from_classes([["a", "b"], ["a"]], None)


def test_distractors_fill_free_slots_from_the_same_group_never_own():
  keys = [["x"] * 4, ["y", "y", "z", "z"], ["u"] * 4, ["v", "w", "v", "v"]]
  t = probe.from_classes(keys, None, max_candidates=3)
  d = probe.targets.with_distractors(t, groups=[0, 0, 1, 1], seed=0)
  assert d.valid.all()
  np.testing.assert_array_equal(d.counts, t.counts)  # distractors have no samples
  assert set(d.answers[0][1:]) == {"y", "z"}  # the only other answers of group 0
  assert set(d.answers[2][1:]) == {"v", "w"}
  for row, own in zip(d.answers, keys):
    extra = [a for a, c in zip(row, t.counts[keys.index(own)]) if c == 0]
    assert not set(extra) & set(own)


@pytest.mark.parametrize("p", [[0.7, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25], [0.9, 0.1]])
def test_split_half_floor_matches_the_true_finite_sample_floor(p):
  p = np.asarray(p)
  m, q = 32, 300
  rng = np.random.default_rng(1)
  keys = [[str(x) for x in rng.choice(len(p), size=m, p=p)] for _ in range(q)]
  t = probe.from_classes(keys, None, max_candidates=8)
  true_p = np.asarray([[p[int(a)] if a else 0.0 for a in row] for row in t.answers])
  # What a perfect probe shows: its softmax is over the candidates, so p renormalised.
  true_floor = probe.kl(t.shares, true_p / true_p.sum(-1, keepdims=True), t.valid).mean()
  est = probe.noise_floor(t, seed=0).mean()
  assert est == pytest.approx(true_floor, rel=0.2)
  assert est == pytest.approx((len(p) - 1) / (2 * m), rel=0.25)


def test_kl_zero_for_equal_and_positive_otherwise():
  a = np.array([[0.5, 0.5, 0.0]])
  assert probe.kl(a, a)[0] == pytest.approx(0.0)
  assert probe.kl(a, np.array([[0.9, 0.05, 0.05]]))[0] > 0.3
