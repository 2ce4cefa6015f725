"""Plurality, B-confidence, held-out estimator, entropy and class-wise tops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from semcal_jax.calibration import confidence


def _naive(ids_row, unparsed="class"):
  """Reference: plain Python plurality with the documented tie rule."""
  counted = list(ids_row) if unparsed == "class" else [i for i in ids_row if i != -1]
  if not counted:
    return -1, 0.0
  counts = {c: counted.count(c) for c in set(counted)}
  top = max(counts.values())
  tied = [c for c, k in counts.items() if k == top]
  parsed = [c for c in tied if c != -1]
  pred = min(parsed) if parsed else -1
  return pred, top / len(counted)


@pytest.mark.parametrize("unparsed", ["class", "exclude"])
def test_plurality_and_confidence_match_naive(unparsed):
  rng = np.random.default_rng(0)
  ids = rng.integers(-1, 5, size=(200, 12)).astype(np.int32)
  ref = rng.integers(0, 5, size=200).astype(np.int32)
  sc = confidence.semantic_confidence(ids, ref, unparsed=unparsed)
  for q in range(200):
    pred, conf = _naive(ids[q], unparsed)
    assert int(sc.prediction[q]) == pred
    assert float(sc.confidence[q]) == pytest.approx(conf)
    assert bool(sc.correct[q]) == (pred != -1 and pred == ref[q])


def test_tie_prefers_parsed_then_smallest_id():
  ids = np.array([[7, 7, 3, 3, -1, -1], [-1, -1, -1, 2, 2, 5]], np.int32)
  sc = confidence.semantic_confidence(ids, np.array([3, 2], np.int32))
  assert sc.prediction.tolist() == [3, -1]
  assert sc.correct.tolist() == [True, False]
  assert np.allclose(sc.confidence, [2 / 6, 3 / 6])


def test_entropy_classes_and_unparsed_share():
  ids = np.array([[0, 0, 1, 1], [4, 4, 4, 4], [0, 1, 2, -1]], np.int32)
  sc = confidence.semantic_confidence(ids, np.zeros(3, np.int32))
  assert np.allclose(sc.entropy, [np.log(2), 0.0, np.log(4)], atol=1e-6)
  assert sc.num_classes.tolist() == [2, 1, 4]
  assert np.allclose(sc.unparsed_fraction, [0, 0, 0.25])
  ex = confidence.semantic_confidence(ids, np.zeros(3, np.int32), unparsed="exclude")
  assert ex.num_classes.tolist() == [2, 1, 3]
  assert np.allclose(ex.entropy[2], np.log(3), atol=1e-6)


def test_all_unparsed_question():
  ids = np.full((1, 5), -1, np.int32)
  for policy, conf in (("class", 1.0), ("exclude", 0.0)):
    sc = confidence.semantic_confidence(ids, np.zeros(1, np.int32), unparsed=policy)
    assert int(sc.prediction[0]) == -1 and not bool(sc.correct[0])
    assert float(sc.confidence[0]) == conf


def test_matches_equals_reference_ids():
  rng = np.random.default_rng(1)
  ids = rng.integers(-1, 4, size=(50, 10)).astype(np.int32)
  ref = rng.integers(0, 4, size=50).astype(np.int32)
  by_ref = confidence.semantic_confidence(ids, ref)
  by_match = confidence.semantic_confidence(ids, matches=ids == ref[:, None])
  np.testing.assert_array_equal(by_ref.correct, by_match.correct)
  np.testing.assert_array_equal(by_ref.confidence, by_match.confidence)


def test_heldout_selects_on_first_part_and_measures_on_rest():
  ids = np.array([[1, 1, 1, 2, 2, 2, 2, 1]], np.int32)  # first half picks 1; rest: 1 of 4
  sc = confidence.heldout_confidence(ids, np.array([1], np.int32), select_fraction=0.5)
  assert int(sc.prediction[0]) == 1 and bool(sc.correct[0])
  assert float(sc.confidence[0]) == pytest.approx(0.25)
  with pytest.raises(ValueError, match="select_fraction"):
    confidence.heldout_confidence(ids, np.array([1], np.int32), select_fraction=0.05)


def test_heldout_removes_selection_bias():
  # Uniform over 5 classes: true plurality share 0.2; same-sample estimate is biased up.
  rng = np.random.default_rng(2)
  ids = rng.integers(0, 5, size=(4000, 10)).astype(np.int32)
  ref = np.zeros(4000, np.int32)
  naive = float(jnp.mean(confidence.semantic_confidence(ids, ref).confidence))
  held = float(jnp.mean(confidence.heldout_confidence(ids, ref).confidence))
  assert naive > 0.3
  assert abs(held - 0.2) < 0.01


def test_top_classes():
  ids = np.array([[3, 3, 3, 1, 1, 0], [5, 5, 5, 5, 5, 5]], np.int32)
  share, correct, present = confidence.top_classes(ids, np.array([1, 5], np.int32), k=3)
  assert np.allclose(share, [[0.5, 2 / 6, 1 / 6], [1.0, 0, 0]])
  assert correct.tolist() == [[False, True, False], [True, False, False]]
  assert present.tolist() == [[True, True, True], [True, False, False]]
  share, _, present = confidence.top_classes(ids, np.array([1, 5], np.int32), k=8)
  assert share.shape == (2, 8) and int(present.sum()) == 4


def test_vmap_over_runs():
  rng = np.random.default_rng(3)
  ids = jnp.asarray(rng.integers(-1, 4, size=(3, 20, 8)), jnp.int32)
  ref = jnp.asarray(rng.integers(0, 4, size=(3, 20)), jnp.int32)
  fn = jax.jit(jax.vmap(lambda i, r: confidence._semantic_confidence(i, r, None, "class")))
  out = fn(ids, ref)
  for run in range(3):
    single = confidence.semantic_confidence(np.asarray(ids[run]), np.asarray(ref[run]))
    np.testing.assert_array_equal(out.prediction[run], single.prediction)


@pytest.mark.parametrize("kwargs,message", [
    (dict(class_ids=np.zeros((2, 3), np.float32), reference=np.zeros(2, np.int32)), "class_ids"),
    (dict(class_ids=np.zeros((2, 3), np.int32), reference=np.zeros(3, np.int32)), "reference"),
    (dict(class_ids=np.zeros((0, 3), np.int32), reference=np.zeros(0, np.int32)), "empty"),
    (dict(class_ids=np.zeros(3, np.int32), reference=np.zeros(3, np.int32)), "class_ids"),
    (dict(class_ids=np.full((2, 3), -2, np.int32), reference=np.zeros(2, np.int32)), ">= 0"),
    (dict(class_ids=np.zeros((2, 3), np.int32)), "exactly one"),
    (dict(class_ids=np.zeros((2, 3), np.int32), matches=np.zeros((2, 3), np.int32)), "matches"),
    (dict(class_ids=np.zeros((2, 3), np.int32), reference=np.zeros(2, np.int32),
          unparsed="drop"), "unparsed"),
])
def test_bad_input(kwargs, message):
  with pytest.raises(ValueError, match=message):
    confidence.semantic_confidence(**kwargs)
