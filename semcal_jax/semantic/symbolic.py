"""Atoms of LaTeX answers as sympy values: canonical keys and equivalence.

`atom_key(s)` gives "n:<number>" for an exact rational (read without sympy
when it is a plain number, fraction or `\\frac{p}{q}`), "e:<expression>" for
anything else sympy's LaTeX parser reads (floats made exact, `\\pi` -> pi,
`i` -> the imaginary unit, expanded), or None when it cannot be read.
An equation `lhs = rhs` is keyed "q:<lhs - rhs, leading coefficient 1>", so
"x - 3z = 0" and "3z = x" are one class.
`equivalent(a, b)` compares two keys: equal strings, or for "e:" keys equal
values (numbers to 1e-10 relative at 30 digits; expressions at three fixed
points of their variables).

Safety: answers longer than `MAX_LENGTH` characters are not parsed, and parsed
expressions whose evaluation could explode (`10^{10^{10}}`, `(10^{10})!`,
`(x+y+z)^{200}`) are refused before anything is evaluated
(`expression_bounds`); both give None, so the caller falls back to a string
key. The bounds read the expression's tree, not a clock: every machine gives
the same keys. Results are cached per process.

Needs `antlr4-python3-runtime==4.11` (sympy's LaTeX parser).
"""

from __future__ import annotations

import functools
import re
import warnings
from fractions import Fraction

import sympy

from semcal_jax.semantic import expression_bounds, numbers

MAX_LENGTH = 400
_EXPRS: dict[str, sympy.Expr] = {}
_PI, _I = sympy.Symbol("pi"), sympy.Symbol("i")
_PLAIN = re.compile(r"^(-?)(\d+(?:\.\d+)?|\.\d+)$")
_SLASH = re.compile(r"^(-?)(\d+)\s*/\s*(\d+)$")
_FRAC = re.compile(r"^(-?)\s*(\d+)?\s*\\frac\{(-?\d+)\}\{(\d+)\}$")
_BASE_SUBSCRIPT = re.compile(r"^\w+_\{?\d+\}?$")
_POINTS = (sympy.Rational(7, 5), sympy.Rational(-11, 3), sympy.Rational(13, 7))


def exact_number(s: str) -> Fraction | None:
  """A plain number, "p/q", `\\frac{p}{q}` or mixed `2\\frac{1}{2}` read exactly."""
  s = s.replace(" ", "")
  if len(s) > numbers.MAX_DIGITS:
    return None
  m = _PLAIN.match(s)
  if m:
    value = Fraction(m.group(2) if not m.group(2).startswith(".") else "0" + m.group(2))
    return -value if m.group(1) else value
  m = _SLASH.match(s)
  if m and int(m.group(3)):
    value = Fraction(int(m.group(2)), int(m.group(3)))
    return -value if m.group(1) else value
  m = _FRAC.match(s)
  if m and int(m.group(4)):
    value = Fraction(int(m.group(3)), int(m.group(4)))
    if m.group(2):
      value += int(m.group(2))
    return -value if m.group(1) else value
  return None


@functools.lru_cache(maxsize=1)
def require_parser() -> None:
  """Raises ImportError unless sympy's LaTeX parser can run (it needs antlr4 4.11)."""
  try:
    import antlr4  # pylint: disable=g-import-not-at-top,unused-import
    from importlib import metadata  # pylint: disable=g-import-not-at-top
    version = metadata.version("antlr4-python3-runtime")
  except (ImportError, ModuleNotFoundError) as e:
    raise ImportError("the math rule needs sympy's LaTeX parser: pip install "
                      "antlr4-python3-runtime==4.11.0 (see requirements.txt)") from e
  if not version.startswith("4.11"):
    raise ImportError(f"the math rule needs antlr4-python3-runtime 4.11 (sympy's LaTeX parser "
                      f"was generated with it); found {version}")


def _parse(s: str) -> sympy.Expr | None:
  from sympy.parsing.latex import parse_latex  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    expr = parse_latex(s)
  if not isinstance(expr, sympy.Expr):
    return None
  expr = expr.subs({_PI: sympy.pi, _I: sympy.I}) if expr.free_symbols & {_PI, _I} else expr
  if not expression_bounds.within_bounds(expr):
    return None
  expr = sympy.nsimplify(expr.doit(), rational=True)
  if expr.free_symbols:
    return sympy.expand(expr)
  return sympy.simplify(expr)


def _equation(s: str) -> str | None:
  """"q:" key of an equation `lhs = rhs`: lhs - rhs scaled to a leading coefficient of 1."""
  lhs, rhs = s.split("=")
  left, right = atom_key(lhs), atom_key(rhs)
  if left is None or right is None:
    return None
  diff = sympy.expand(_value(left) - _value(right))
  if diff.free_symbols:
    try:
      lead = sympy.Poly(diff, *sorted(diff.free_symbols, key=lambda x: x.name)).LC()
    except sympy.PolynomialError:
      lead = 1
    if lead:
      diff = sympy.expand(diff / lead)
  key = "q:" + sympy.sstr(diff)
  _EXPRS.setdefault(key, diff)
  return key


@functools.lru_cache(maxsize=1 << 16)
def atom_key(s: str) -> str | None:
  """The canonical key of one LaTeX atom (module docstring), or None."""
  s = s.strip()
  if not s:
    return None
  value = exact_number(s)
  if value is not None:
    return "n:" + numbers.format_number(value)
  if len(s) > MAX_LENGTH or _BASE_SUBSCRIPT.match(s):
    return None
  if s.count("=") == 1 and not re.search(r"[<>]|\\[lg]e", s):
    return _equation(s)
  try:
    expr = _parse(s)
  except Exception:  # pylint: disable=broad-except  # the parser raises many kinds
    return None
  if expr is None or expr.has(sympy.zoo, sympy.nan):
    return None
  if expr.is_Rational:
    return "n:" + numbers.format_number(Fraction(int(expr.p), int(expr.q)))
  key = "e:" + sympy.sstr(expr)
  _EXPRS.setdefault(key, expr)
  return key


def _value(key: str) -> sympy.Expr | None:
  if key.startswith("n:"):
    text = key[2:]
    return sympy.Rational(text) if "/" not in text else sympy.Rational(*map(int, text.split("/")))
  return _EXPRS.get(key)


def _close(a: sympy.Expr, b: sympy.Expr) -> bool:
  try:
    da, db = complex(sympy.N(a, 30)), complex(sympy.N(b, 30))
  except Exception:  # pylint: disable=broad-except
    return False
  if da != da or db != db or abs(da) == float("inf") or abs(db) == float("inf"):
    return False
  return abs(da - db) <= 1e-10 * max(1.0, abs(da), abs(db))


@functools.lru_cache(maxsize=1 << 16)
def equivalent(a: str, b: str) -> bool:
  """Whether two atom keys have the same value (module docstring)."""
  if a == b:
    return True
  if a.startswith("n:") and b.startswith("n:") or (a[:2] == "q:") != (b[:2] == "q:"):
    return False
  va, vb = _value(a), _value(b)
  if va is None or vb is None:
    return False
  names_a = {s.name for s in va.free_symbols}
  if names_a != {s.name for s in vb.free_symbols}:
    return False
  if not names_a:
    return _close(va, vb)
  syms_a = sorted(va.free_symbols, key=lambda s: s.name)
  syms_b = sorted(vb.free_symbols, key=lambda s: s.name)
  for shift in range(len(_POINTS)):
    pts = [_POINTS[(k + shift) % len(_POINTS)] + k for k in range(len(syms_a))]
    if not _close(va.subs(dict(zip(syms_a, pts))), vb.subs(dict(zip(syms_b, pts)))):
      return False
  return True
