"""The three built-in rules on targeted cases (the labelled set measures them as a whole)."""

from __future__ import annotations

import numpy as np
import pytest

from semcal_jax import semantic
from semcal_jax.semantic import symbolic


@pytest.fixture(scope="module")
def normalized():
  return semantic.get("normalized")


@pytest.fixture(scope="module")
def numeric():
  return semantic.get("numeric")


@pytest.fixture(scope="module")
def math():
  return semantic.get("math")


# ------------------------------------------------------------------ normalized


@pytest.mark.parametrize("text, style, key", [
    (" The Beatles.", "concise", "beatles"),
    ("Paris\n\nQuestion: What is", "concise", "paris"),
    ("**Mars**", "concise", "mars"),
    ("Answer: Lima", "concise", "lima"),
    ("The capital of France is Paris.", "sentence", "paris"),
    ("Sure! The capital of France is Paris.", "sentence", "paris"),
    ("It is either Paris or Lyon.", "sentence", "lyon or paris"),
    ("Lyon or Paris", "concise", "lyon or paris"),
    ("Many say Lyon. So the answer is Paris.", "cot", "paris"),
    ("The answer is not Lyon, it's Paris.", "cot", "paris"),
    ("Let me think about French cities.", "cot", None),
    ("I don't know.", "concise", None),
    ("...", "concise", None),
    ("", "sentence", None),
])
def test_normalized_keys(normalized, text, style, key):
  assert normalized.canonical(text, style, question="What is the capital of France?") == key


def test_normalized_contains_matching_and_its_exceptions(normalized):
  g = normalized.group(["a small, sturdy horse", "Ursine animals are pigs.", "October 8, 1966",
                        "a horse or a pony"], ["Horse", "Ursine", "1966"], "concise",
                       question="What type of animal are ursine?")
  assert g.matches.tolist() == [True, False, False, False]
  strict = semantic.get("normalized", contains=False)
  assert not strict.group(["a small horse"], ["Horse"], "concise").matches[0]


def test_normalized_references_keep_negation_like_titles(normalized):
  assert normalized.reference_key("Not Fair").key == "not fair"
  assert normalized.reference_key("£").key == "£"
  assert normalized.canonical("Not Fair", "concise") == "not fair"


# ------------------------------------------------------------------ numeric


@pytest.mark.parametrize("text, style, key", [
    ("$1,234.50", "concise", "1234.5"),
    ("1/2 cup", "concise", "0.5"),
    ("18.0", "concise", "18"),
    ("The answer is not 5, it's 7.", "concise", "7"),
    ("9 * 2 = 18", "concise", "18"),
    ("She makes $18 every day by selling 9 eggs.", "sentence", "9"),
    ("It takes 2 + 1 = 3 bolts.", "sentence", "3"),
    ("She sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs.\nShe makes 9 * 2 = $<<9*2=18>>18.\n#### 18",
     "cot", "18"),
    ("So 3 + 4 = 7 apples.\nShe has 7 apples and 2 pears", "cot", "2"),
    ("So 3 + 4 = 7 apples.\nIn all, 3 + 4 = 7 apples", "cot", "7"),
    (r"The total is \boxed{\frac{3}{4}}.", "cot", "0.75"),
    ("The answer is 14 or 32.", "cot", "14 or 32"),
    ("The answer is -14.", "cot", "-14"),
    ("No number here.", "concise", None),
])
def test_numeric_keys(numeric, text, style, key):
  assert numeric.canonical(text, style) == key


def test_numeric_scale_words_follow_the_question(numeric):
  assert numeric.canonical("$4 million", "concise") == "4000000"
  assert numeric.canonical("$4 million", "concise",
                           question="How many million dollars are left?") == "4"


# ------------------------------------------------------------------ math


@pytest.mark.parametrize("a, b", [
    (r"\frac{1}{2}", "0.5"), (r"\dfrac12", r"\frac{2}{4}"), (r"2\sqrt{2}", r"\sqrt{8}"),
    (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}"), ("x^2+2x+1", "(x+1)^2"),
    (r"\left(-2, 2\right)", "(-2,2)"), (r"\{3, 2\}", "2, 3"), (r"90^\circ", "90"),
    (r"5\text{ cm}", "5"), (r"\$15,\!000", "15000"), (r"\text{(C)}", "(C)"),
    (r"1\frac{9}{10}", "1.9"), (r"3 \pm 2\sqrt{2}", r"3-2\sqrt{2}, 3+2\sqrt{2}"),
    ("x - 3z = 0", "3z = x"), (r"\pi/2", r"\frac{\pi}{2}"), ("y = 2x", "2x"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{bmatrix}1\\2\end{bmatrix}"),
    (r"(-\infty, 0) \cup (1, \infty)", r"(-\infty,0)\cup(1,\infty)"),
])
def test_math_equivalent_answers_share_a_class(math, a, b):
  assert math.classes([a, b], "concise").tolist() == [0, 0], (math.canonical(a),
                                                             math.canonical(b))


@pytest.mark.parametrize("a, b", [
    (r"\frac{1}{3}", "0.333"), ("(-2, 2)", "[-2, 2]"), ("2, 3", "(2, 3)"), ("x^2", "y^2"),
    (r"\text{Monday}", r"\text{Sunday}"), (r"\sqrt{2}", "1.41421356"), ("1202_3", "1202"),
])
def test_math_different_answers_do_not(math, a, b):
  assert math.classes([a, b], "concise").tolist() == [0, 1], (math.canonical(a),
                                                             math.canonical(b))


def test_math_list_and_choice_hints_come_from_the_question(math):
  assert math.canonical("70,110", "concise") == "n:70110"
  listed = math.canonical("70,110", "concise", question="Enter all the solutions, separated by "
                          "commas.")
  assert listed == "{n:110,n:70}"
  q = r"Which is largest? $\textbf{(A)}\ 1 \qquad \textbf{(B)}\ 2$"
  assert math.canonical("B", "concise", question=q) == "c:B"
  assert math.canonical("B", "concise") != "c:B"


def test_math_pathological_answers_get_string_keys_and_never_merge(math):
  answers = (r"10^{10^{10}}", r"(10^{10})!", "9" * 5000, r"\frac{1}{0}", "((((x" + ")" * 3,
             r"(x+y+z)^{200}", r"x^{10^{999}}", r"\sum_{i=1}^{10^{9}} i", "x+" * 300 + "x")
  keys = [math.canonical(s, "concise") for s in answers]
  assert all(k.startswith("s:") for k in keys), keys
  assert len(set(keys)) == len(keys)
  for text in ("The answer is " + "9" * 5000 + ".", r"\boxed{" + "9" * 5000 + "}"):
    assert math.canonical(text, "cot") in (None, "s:" + "9" * 5000)
  assert math.canonical("9" * 999, "concise") == "n:" + "9" * 999


def test_math_keys_do_not_depend_on_a_clock():
  """Equivalence is bounded by the expression's tree (expression_bounds), not by time."""
  import pathlib  # pylint: disable=g-import-not-at-top
  from semcal_jax.semantic import expression_bounds  # pylint: disable=g-import-not-at-top
  for module in (symbolic, expression_bounds):
    source = pathlib.Path(module.__file__).read_text()
    for word in ("import signal", "import time", "setitimer", "perf_counter", "threading"):
      assert word not in source, (module.__name__, word)


def test_math_grouping_is_deterministic_and_cached(math):
  responses = [r"\frac{1}{2}", "0.5", r"\frac{1}{3}", "", r"\dfrac{2}{4}", "1/3"] * 20
  first = math.classes(responses, "concise")
  misses = symbolic.atom_key.cache_info().misses
  again = semantic.get("math").classes(responses, "concise")
  assert symbolic.atom_key.cache_info().misses == misses  # nothing parsed twice
  np.testing.assert_array_equal(first, again)
  assert first[:6].tolist() == [0, 0, 1, -1, 0, 1]
