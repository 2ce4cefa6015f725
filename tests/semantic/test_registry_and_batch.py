"""The registry, the per-question helper `group`, and `collapse` into calibration's inputs."""

from __future__ import annotations

import numpy as np
import pytest

from semcal_jax import calibration, semantic


class _Upper(semantic.CollapsingFunction):
  """A toy rule: the stripped, upper-cased text (options: a prefix to drop)."""

  def __init__(self, drop: str = ""):
    self.drop = drop

  def canonical(self, text, style="concise", *, question=None):
    text = (text or "").replace(self.drop, "").strip().upper()
    return text or None


@pytest.fixture
def registered():
  names = []

  def add(name, obj, **kw):
    semantic.register(name, obj, **kw)
    names.append(name)

  yield add
  for name in names:
    if name in semantic.available():
      semantic.unregister(name)


def test_builtins_are_registered():
  assert {"normalized", "numeric", "math"} <= set(semantic.available())
  for name in ("normalized", "numeric", "math"):
    assert semantic.get(name).name == name


def test_unknown_name_lists_the_known_ones():
  with pytest.raises(KeyError, match=r"unknown collapsing function 'judje'; known: \["):
    semantic.get("judje")


def test_register_class_factory_instance_and_function(registered):
  registered("upper", _Upper)
  assert semantic.get("upper", drop="x").canonical("xaxb") == "AB"
  registered("upper_inst", _Upper(drop="-"))
  assert semantic.get("upper_inst").classes(["a-", "A", "", "b"]).tolist() == [0, 0, -1, 1]
  with pytest.raises(TypeError, match="takes no options"):
    semantic.get("upper_inst", drop="y")
  registered("first_word", lambda: semantic.FunctionCollapsing(
      lambda text, style: text.split()[0].lower() if text.split() else None, name="first_word"))
  assert semantic.get("first_word").classes(["Paris is", "paris", " "]).tolist() == [0, 0, -1]


def test_a_judge_like_rule_plugs_in_with_options(registered):
  """How the lead's `judge` registers: a factory taking options, built on another rule."""

  class FakeJudge(semantic.CollapsingFunction):
    name = "judge"

    def __init__(self, extractor, key_rule="normalized"):
      self.extract_answer, self.rule = extractor, semantic.get(key_rule)

    def canonical(self, text, style="concise", *, question=None):
      short = self.extract_answer(text or "")
      return None if short is None else self.rule.canonical(short, "concise")

  registered("judge_test", FakeJudge)
  fn = semantic.get("judge_test", extractor=lambda t: t.split(" is ")[-1] if t else None)
  g = fn.group(["It is Paris.", "The capital is paris", ""], ["Paris"], "sentence")
  assert g.class_ids.tolist() == [0, 0, -1] and g.matches.tolist() == [True, True, False]


def test_registration_errors(registered):
  registered("dup", _Upper)
  with pytest.raises(ValueError, match="already registered"):
    semantic.register("dup", _Upper)
  semantic.register("dup", _Upper(drop="q"), overwrite=True)
  assert semantic.get("dup").drop == "q"
  with pytest.raises(ValueError, match="invalid name"):
    semantic.register("no spaces", _Upper)
  with pytest.raises(TypeError, match="CollapsingFunction instance or a factory"):
    semantic.register("bad", 3)
  registered("returns_str", lambda: "not a rule")
  with pytest.raises(TypeError, match="returned str, not a CollapsingFunction"):
    semantic.get("returns_str")
  with pytest.raises(KeyError, match="not registered"):
    semantic.unregister("never_registered")
  with pytest.raises(TypeError, match="override canonical"):
    type("NoRule", (semantic.CollapsingFunction,), {})
  with pytest.raises(TypeError, match="returned int"):
    semantic.FunctionCollapsing(lambda t, s: 3).canonical("x")


def test_group_merges_alias_matches_into_the_reference_class():
  fn = semantic.get("normalized")
  responses = ["Horses", "dog", "Horse", "Equus caballus", "", "dog"]
  g = fn.group(responses, ["Horse", "Horses", "Equus caballus"], "concise")
  assert g.class_ids.tolist() == [0, 1, 0, 0, -1, 1]
  assert g.reference_class == 0 and g.num_unparsed == 1
  assert g.matches.tolist() == [True, False, True, True, False, False]
  split = fn.group(responses, ["Horse", "Horses", "Equus caballus"], "concise",
                   merge_aliases=False)
  assert split.class_ids.tolist() == [0, 1, 2, 3, -1, 1] and split.reference_class == 0
  none = fn.group(["dog", "cat"], ["Horse"], "concise")
  assert none.reference_class == -1 and not none.matches.any()
  assert fn.classes(["b", "c", "b"]).tolist() == [0, 1, 0]


def test_group_checks_its_inputs():
  fn = semantic.get("numeric")
  with pytest.raises(ValueError, match="style: expected one of"):
    fn.group(["1"], ["1"], "essay")
  with pytest.raises(TypeError, match="got one string"):
    fn.group("18", ["18"])


def test_collapse_feeds_semantic_confidence():
  fn = semantic.get("numeric")
  responses = [["18", "$18", "26", ""], ["3", "4", "4", "five"], ["", "", "x", "7"]]
  references = [["18"], ["3"], ["7"]]
  batch = semantic.collapse(fn, responses, references, "concise")
  assert batch.class_ids.tolist() == [[0, 0, 1, -1], [0, 1, 1, 2], [-1, -1, -1, 0]]
  assert batch.reference.tolist() == [0, 0, 0]
  sc = calibration.semantic_confidence(batch.class_ids, matches=batch.matches)
  np.testing.assert_allclose(sc.confidence, [0.5, 0.5, 0.75])
  assert sc.correct.tolist() == [True, False, False]
  same = calibration.semantic_confidence(batch.class_ids, batch.reference)
  assert same.correct.tolist() == sc.correct.tolist()
  report = batch.report()
  assert report["unparsed_responses"] == 4 and report["unparsed_per_question"] == [1, 0, 3]
  assert report["unparsed_fraction"] == pytest.approx(4 / 12)
  assert report["questions_with_no_usable_reference"] == 0


def test_collapse_reports_unusable_references_and_checks_shapes():
  fn = semantic.get("numeric")
  batch = semantic.collapse(fn, [["1"], ["2"]], [["one thousand"], ["no number"]], "concise",
                            questions=["a", "b"])
  assert batch.unparsed_references.tolist() == [0, 1]
  assert batch.report()["questions_with_no_usable_reference"] == 1
  with pytest.raises(ValueError, match=r"responses\[1\]: expected 2 responses"):
    semantic.collapse(fn, [["1", "2"], ["1"]], [["1"], ["1"]], "concise")
  with pytest.raises(ValueError, match="references: expected 2 lists"):
    semantic.collapse(fn, [["1"], ["1"]], [["1"]], "concise")
