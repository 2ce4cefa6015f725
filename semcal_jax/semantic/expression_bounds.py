"""Bounds on the work of evaluating a sympy expression, read from its tree alone.

The math rule evaluates parsed answers (`doit`, `expand`, `simplify`, numeric
evaluation at 30 digits, substitution of rational points). An answer such as
`10^{10^{10}}`, `(10^{10})!` or `(x+y+z)^{200}` would make that work explode, so
such trees are refused before anything is evaluated. The bounds depend on the
tree only, never on a clock, so every machine refuses the same answers.

`within_bounds(expr)` holds when all three do:
- size: at most `MAX_NODES` nodes;
- digits: no exact number met while evaluating exceeds `MAX_DIGITS` decimal
  digits (numerator or denominator; `digits_bound` gives an upper bound per
  node: sums add a digit per doubling, products add digits, `b^e` multiplies
  the digits of `b` by `|e|`, factorials grow as `n log10 n`, `exp` by
  `|a| / ln 10`; a symbol counts `SYMBOL_DIGITS`, the size of the rational
  points the rule substitutes);
- terms: expanding gives at most `MAX_TERMS` terms (`terms_bound`: sums add,
  products multiply, `(a_1 + ... + a_t)^n` has at most `C(t + n - 1, n)`).
Trees holding a node of an unlisted kind (sums, products, integrals, limits:
their evaluation has no such bound) are refused.
"""

from __future__ import annotations

import math

import sympy
from sympy.core.function import AppliedUndef

MAX_NODES = 200
MAX_DIGITS = 4_000  # below the 4300 digits Python writes of an int (keys are strings)
MAX_TERMS = 1_000
SYMBOL_DIGITS = 1.5

# Functions whose value grows no faster than their arguments' sizes (or is bounded).
_TAME = (sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc, sympy.asin,
         sympy.acos, sympy.atan, sympy.acot, sympy.asec, sympy.acsc, sympy.atan2, sympy.tanh,
         sympy.log, sympy.Abs, sympy.floor, sympy.ceiling, sympy.sign, sympy.re, sympy.im,
         sympy.arg, sympy.conjugate, sympy.Min, sympy.Max, AppliedUndef)
_EXPONENTIAL = (sympy.exp, sympy.sinh, sympy.cosh)
_FACTORIAL = (sympy.factorial, sympy.factorial2, sympy.gamma, sympy.subfactorial)
_LOG10_2 = math.log10(2)


class _OutOfBounds(Exception):
  pass


def _power_of_ten(d: float) -> float:
  """10**d as a float, inf beyond the float range."""
  return 10.0 ** d if d < 300 else math.inf


def _rational_digits(p: int, q: int = 1) -> float:
  """An upper bound on log10(max(|p|, |q|)): 0 for 0 and +-1."""
  largest = max(abs(p), abs(q))
  if largest <= 1:
    return 0.0
  if largest.bit_length() < 1000:  # exact to float rounding, which 1e-9 covers
    return math.log10(largest) + 1e-9
  return largest.bit_length() * _LOG10_2


def _magnitude(e: sympy.Basic, digits: float) -> float:
  """An upper bound on |e|: exact for a rational atom, else 10**digits."""
  if isinstance(e, sympy.Rational):
    return max(abs(float(e)), 1.0) if digits < 300 else math.inf
  return _power_of_ten(digits)


def _node_digits(node: sympy.Basic, args: list[float]) -> float:
  """The digits bound of `node` from those of its arguments (module docstring)."""
  if isinstance(node, sympy.Rational):
    return _rational_digits(int(node.p), int(node.q))
  if isinstance(node, sympy.Float):
    _, mantissa, exponent, _ = node._mpf_  # pylint: disable=protected-access
    return _rational_digits(int(mantissa)) + abs(int(exponent)) * _LOG10_2
  if isinstance(node, (sympy.Symbol, sympy.NumberSymbol, sympy.Number,
                       sympy.core.numbers.ImaginaryUnit)):  # pi, E, I, oo, zoo, nan
    return SYMBOL_DIGITS
  if isinstance(node, sympy.Add):
    return max(args) + math.log10(len(args))
  if isinstance(node, sympy.Mul):
    return sum(args)
  if isinstance(node, sympy.Pow):
    if args[0] == 0:  # 0, 1 or -1 to any power
      return 0.0
    return _magnitude(node.args[1], args[1]) * args[0]
  if isinstance(node, _EXPONENTIAL):
    return _power_of_ten(args[0]) / math.log(10)
  if isinstance(node, _FACTORIAL):
    n = _power_of_ten(args[0])
    return n * max(math.log10(n), 1.0) if n < math.inf else math.inf
  if isinstance(node, sympy.binomial):
    return _power_of_ten(args[0]) * _LOG10_2
  if isinstance(node, _TAME):
    return max(args, default=0.0)
  raise _OutOfBounds(f"no bound for {type(node).__name__}")


def digits_bound(expr: sympy.Basic) -> float:
  """An upper bound on the decimal digits of any exact number that evaluating
  `expr` meets (module docstring); inf when a node has no bound."""
  try:
    return _digits(expr)
  except _OutOfBounds:
    return math.inf


def _digits(node: sympy.Basic) -> float:
  """`digits_bound`, raising _OutOfBounds as soon as a subtree exceeds MAX_DIGITS."""
  value = _node_digits(node, [_digits(a) for a in node.args])
  if not value <= MAX_DIGITS:
    raise _OutOfBounds(f"{value} digits")
  return value


def terms_bound(expr: sympy.Basic) -> float:
  """An upper bound on the number of terms of `sympy.expand(expr)` (module
  docstring); inf when some subtree exceeds MAX_TERMS."""
  try:
    return _terms(expr)
  except _OutOfBounds:
    return math.inf


def _terms(node: sympy.Basic) -> int:
  args = [_terms(a) for a in node.args]
  if isinstance(node, sympy.Add):
    count = sum(args)
  elif isinstance(node, sympy.Mul):
    count = math.prod(args)
  elif isinstance(node, sympy.Pow) and isinstance(node.args[1], sympy.Integer) and args[0] > 1:
    n = abs(int(node.args[1]))
    count = math.comb(args[0] + n - 1, n) if n <= MAX_TERMS else MAX_TERMS + 1
  else:
    count = 1
  if count > MAX_TERMS:
    raise _OutOfBounds(f"{count} terms")
  return count


def _nodes_at_most(expr: sympy.Basic, limit: int) -> bool:
  for count, _ in enumerate(sympy.preorder_traversal(expr), 1):
    if count > limit:
      return False
  return True


def within_bounds(expr: sympy.Basic) -> bool:
  """Whether evaluating `expr` stays within the size, digits and terms bounds."""
  return (_nodes_at_most(expr, MAX_NODES) and digits_bound(expr) <= MAX_DIGITS
          and terms_bound(expr) <= MAX_TERMS)


__all__ = ["MAX_DIGITS", "MAX_NODES", "MAX_TERMS", "SYMBOL_DIGITS", "digits_bound",
           "terms_bound", "within_bounds"]
