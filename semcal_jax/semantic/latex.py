"""LaTeX answer strings: normalising the spelling and splitting the structure.

`normalize` removes what does not change an answer's value (in the spirit of
the MATH / Minerva answer normalisers): math delimiters, `\\left` / `\\right`,
spacing commands, `\\dfrac` / `\\tfrac`, degree signs, percent and dollar
signs, trailing units (`\\text{ cm}`, "45 mph"), a leading "x =" or
"x \\in", a trailing period, the right side of `\\approx`, and it completes
shorthand (`\\frac12` -> `\\frac{1}{2}`, `\\sqrt2` -> `\\sqrt{2}`).

`parse` turns a normalised answer into a small tree: `("seq", "(", ")",
items)` for tuples and intervals, `("set", items)` for unordered lists (in the order written)
("2, 3", `\\{2, 3\\}`, the two values of `a \\pm b`), `("matrix", rows)`,
`("union", parts)`, or an atom string.
"""

from __future__ import annotations

import re
from typing import Any

Tree = Any  # str | tuple

_DELIMS = re.compile(r"\$|\\\[|\\\]|\\\(|\\\)|\\displaystyle|\\(?:big|Big|bigg|Bigg)[lr]?\b")
_THIN = re.compile(r"(?<!\\)\\[!,]")
_SPACING = re.compile(r"(?<!\\)\\[;: ]|\\q?quad\b|~")
_LEFT_RIGHT = re.compile(r"\\(?:left|right)\s*(?=[()\[\]|.]|\\[{}|])")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ\b|°|\\degree\b")
_TEXTLIKE = re.compile(r"\\(?:textbf|mbox|mathrm|textrm|mathbf|textit|text)\s*\{")
_UNIT_TEXT = re.compile(r"^(.*?\S)\s*\\text\{[^{}]*\}(?:\s*\^\s*\{?\d\}?)?$")
_UNIT_WORDS = re.compile(r"^(.*?[\d}])\s+(?:[A-Za-z]{2,}\.?\s*){1,3}(?:\^\s*\{?\d\}?)?$")
_LHS = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*(?:=|\\in\b)\s*(?=\S)")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_HALF1 = re.compile(r"\\frac\s*(\d)\s*(?=\{)")
_FRAC_HALF2 = re.compile(r"(\\frac\s*\{[^{}]*\})\s*(\d)")
_SQRT_SHORT = re.compile(r"\\sqrt\s*(\d+|[a-zA-Z])")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_MATRIX = re.compile(r"^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.S)
_NOT_UNITS = {"pi", "sqrt", "frac", "infty", "cdot", "times"}


def normalize(text: str) -> str:
  """The answer string with value-preserving spelling differences removed."""
  s = text.strip()
  s = s.replace("\\$", "").replace("\\%", "").replace("%", "")
  s = _DELIMS.sub("", s)
  s = _LEFT_RIGHT.sub("", s)
  s = _THIN.sub("", s)
  s = _SPACING.sub(" ", s)
  s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("{,}", ",")
  s = _TEXTLIKE.sub(r"\\text{", s)
  s = _DEGREES.sub("", s)
  s = re.sub(r"\s+", " ", s).strip()
  s = re.sub(r"[\s.,;:]+$", "", s)
  if "\\approx" in s:
    s = s.split("\\approx")[0].strip()
  for _ in range(3):
    m = _UNIT_TEXT.match(s)
    if m and not m.group(1).endswith(("=", "\\in")):
      s = m.group(1).strip()
      continue
    m = _UNIT_WORDS.match(s)
    if m and not any(w.lower() in _NOT_UNITS for w in re.findall(r"[A-Za-z]+", s[m.end(1):])):
      s = m.group(1).strip()
      continue
    break
  s = _LHS.sub("", s, count=1)
  s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
  s = _FRAC_HALF1.sub(r"\\frac{\1}", s)
  s = _FRAC_HALF2.sub(r"\1{\2}", s)
  s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
  return s.strip()


def top_level_split(s: str, sep: str) -> list[str]:
  """`s` split at `sep` outside (), [], {} and \\{ \\}."""
  parts, depth, start, i = [], 0, 0, 0
  while i < len(s):
    if depth == 0 and s.startswith(sep, i):
      parts.append(s[start:i])
      start = i + len(sep)
      i = start
      continue
    if s.startswith("\\{", i) or s.startswith("\\}", i):
      depth += 1 if s[i + 1] == "{" else -1
      i += 2
      continue
    ch = s[i]
    if ch == "\\":
      i += 2
      continue
    if ch in "([{":
      depth += 1
    elif ch in ")]}":
      depth -= 1
    i += 1
  parts.append(s[start:])
  return parts


def _closes_at_end(s: str) -> bool:
  """Whether the bracket opening `s` is closed by its last character."""
  depth = 0
  for i, ch in enumerate(s):
    if ch in "([{":
      depth += 1
    elif ch in ")]}":
      depth -= 1
      if depth == 0:
        return i == len(s) - 1
  return False


def parse(text: str, *, list_hint: bool = False) -> Tree:
  """The structure of a normalised answer (module docstring).

  Args:
    text: a `normalize`d answer.
    list_hint: the question asks for a comma-separated list, so "70,110" is
      two answers, not seventy thousand one hundred and ten.
  """
  s = text.strip()
  m = _MATRIX.match(s)
  if m:
    rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
    return ("matrix", tuple(tuple(parse(normalize(c)) for c in r.split("&")) for r in rows))
  if s.count("\\pm") + s.count("\\mp") == 1:
    a, b = (s.replace("\\pm", op).replace("\\mp", op) for op in ("+", "-"))
    return ("set", (parse(normalize(a)), parse(normalize(b))))
  parts = top_level_split(s, "\\cup")
  if len(parts) > 1:
    return ("union", tuple(parse(normalize(p)) for p in parts))
  if s.startswith("\\{") and s.endswith("\\}"):
    items = top_level_split(s[2:-2], ",")
    return ("set", tuple(parse(normalize(p)) for p in items))
  if s[:1] in "([" and s[-1:] in ")]" and _closes_at_end(s):
    inner = s[1:-1]
    items = top_level_split(inner, ",")
    if len(items) > 1:
      return ("seq", s[0], s[-1], tuple(parse(normalize(p)) for p in items))
    if s[0] == "(":
      return parse(normalize(inner), list_hint=list_hint)
  items = top_level_split(s, ",")
  if len(items) > 1:
    if _THOUSANDS.match(s.replace(" ", "")) and not list_hint and ", " not in s:
      return s.replace(",", "")
    return ("set", tuple(parse(normalize(p)) for p in items if p.strip()))
  return s
