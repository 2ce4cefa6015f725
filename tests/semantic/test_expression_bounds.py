"""semantic.expression_bounds: the bounds hold (upper bounds on what evaluation
really produces) and refuse what would explode."""

import math

import pytest
import sympy

from semcal_jax.semantic import expression_bounds as eb

x, y, z = sympy.symbols("x y z")


def _unevaluated(text):
  """`text` as the LaTeX parser gives it: an unevaluated tree."""
  return sympy.parse_expr(text, evaluate=False)


def _digits(value: sympy.Rational) -> int:
  return max(len(str(abs(value.p))), len(str(value.q))) - 1  # floor(log10)


@pytest.mark.parametrize("text", [
    "2**(2**(2**2))", "(3/7)**120 + 5", "factorial(300)", "factorial(factorial(5))",
    "binomial(200, 100)", "(1 + 2**50)*(3**40 - 1)/7**30", "10**3999", "(-1)**(10**50)",
    "1**(10**100)", "(2**10)**(3**5)",
])
def test_digits_bound_is_an_upper_bound(text):
  bound = eb.digits_bound(_unevaluated(text))
  value = sympy.sympify(text)
  assert value.is_Rational
  assert _digits(value) <= bound <= eb.MAX_DIGITS, (text, _digits(value), bound)


@pytest.mark.parametrize("text", [
    "(x + y + 1)**5", "(x + 1)**3*(y - 2)**4", "(x + y)**2 + (x - z)**3*(y + 1)",
    "sin((x + 1)**3) + (x + y)**2", "(x + y + z)**7", "((x + 1)**2 + y)**3",
])
def test_terms_bound_is_an_upper_bound(text):
  expr = _unevaluated(text)
  assert len(sympy.Add.make_args(sympy.expand(sympy.sympify(text)))) <= eb.terms_bound(expr)
  assert eb.within_bounds(expr)


@pytest.mark.parametrize("latex,why", [
    (r"10^{10^{10}}", "digits"), (r"(10^{10})!", "digits"), (r"5000!", "digits"),
    (r"x^{10^{999}}", "digits"), (r"2^{x+10^{999}}", "digits"), (r"x^{x^{x}}", "digits"),
    (r"\exp(\exp(\exp(10)))", "digits"), (r"\binom{10^{6}}{500000}", "digits"),
    (r"(x+y+z)^{200}", "terms"), (r"(x+1)^{2000}", "terms"),
    (r"\sum_{i=1}^{10^{9}} i", "no bound"), (r"\int x^2 dx", "no bound"),
    ("+".join(["x"] * 300), "nodes"),
])
def test_exploding_trees_are_refused(latex, why):
  from sympy.parsing.latex import parse_latex  # pylint: disable=g-import-not-at-top
  expr = parse_latex(latex)  # unevaluated, as the math rule meets it
  assert not eb.within_bounds(expr)
  if why == "digits":
    assert eb.digits_bound(expr) == math.inf
  elif why == "terms":
    assert eb.terms_bound(expr) == math.inf and eb.digits_bound(expr) < eb.MAX_DIGITS
  elif why == "no bound":
    assert eb.digits_bound(expr) == math.inf
  else:
    assert eb.digits_bound(expr) < eb.MAX_DIGITS and eb.terms_bound(expr) <= eb.MAX_TERMS


@pytest.mark.parametrize("text", [
    "sqrt(8)", "pi/2 + E", "3*x**2 - 2*x + 1", "sin(x)/cos(x)", "log(8, 2)", "Abs(x - 3)",
    "factorial(1000)", "2**10000", "x**x", "exp(x) + I*pi", "f(x) + 1", "floor(7/2)",
])
def test_ordinary_answers_are_within_bounds(text):
  assert eb.within_bounds(_unevaluated(text))
