"""Numbers in text, read exactly (`fractions.Fraction`) and written canonically.

Reads: integers, thousands separators ("1,234"), decimals ("0.50", ".5"),
fractions ("1/2"), mixed numbers ("1 1/2", "1½", "2 and a half"), signs
(ASCII and U+2212 minus; a "-" right after a digit is subtraction, not a
sign), currency and percent signs around the number, scale words ("1.5
million"), and number words ("eighteen", "twenty-five", "one hundred and
five", "half a cup", "two thirds", "a dozen").

Numbers written with more than `MAX_DIGITS` characters are not read (no answer
needs them, and Python refuses to convert ints of over 4300 digits).

Writes (`format_number`): integers as "18"; terminating decimals as "1234.5";
other rationals as "1/3". So "$18.00", "18.0" and "eighteen" are "18", and
"1/2", "0.50", "½" are "0.5".
"""

from __future__ import annotations

import decimal
import re
from fractions import Fraction
from typing import NamedTuple

_VULGAR = {"½": Fraction(1, 2), "⅓": Fraction(1, 3), "⅔": Fraction(2, 3), "¼": Fraction(1, 4),
           "¾": Fraction(3, 4), "⅕": Fraction(1, 5), "⅖": Fraction(2, 5), "⅗": Fraction(3, 5),
           "⅘": Fraction(4, 5), "⅙": Fraction(1, 6), "⅚": Fraction(5, 6), "⅛": Fraction(1, 8),
           "⅜": Fraction(3, 8), "⅝": Fraction(5, 8), "⅞": Fraction(7, 8)}
_V = "".join(_VULGAR)
_NUMBER = re.compile(
    r"(?<![\w.])(?:(?P<sign>[-+\u2212])(?<![\w)]-)(?<![\w)]\u2212)\$?)?"
    r"(?:(?P<whole>\d+)\s+(?P<mn>\d+)/(?P<md>\d+)(?![\d/])"
    r"|(?P<num>\d+)/(?P<den>\d+)(?![\d/])"
    rf"|(?P<int>\d{{1,3}}(?:,\d{{3}})+(?!\d)|\d+)(?P<dec>\.\d+)?(?P<vul>[{_V}])?"
    r"|(?P<lead>\.\d+)"
    rf"|(?P<vonly>[{_V}]))"
    r"(?P<scale>\s*(?:thousand|million|billion|trillion)\b)?"
    r"(?P<andhalf>\s+and\s+(?:a|one)\s+half\b)?")
MAX_DIGITS = 1000
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
_PARTS = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4,
          "fourth": 4, "fourths": 4, "fifth": 5, "fifths": 5}
_WORD = re.compile(r"[A-Za-z]+")


class Number(NamedTuple):
  """A number found in text: its exact value and [start, end) span."""
  value: Fraction
  start: int
  end: int


def _digits(m: re.Match, scale: bool) -> Fraction:
  g = m.groupdict()
  if g["whole"] is not None:
    value = int(g["whole"]) + Fraction(int(g["mn"]), int(g["md"]) or 1)
  elif g["num"] is not None:
    den = int(g["den"])
    value = Fraction(int(g["num"]), den) if den else Fraction(int(g["num"]))
  elif g["int"] is not None:
    value = Fraction(decimal.Decimal(g["int"].replace(",", "") + (g["dec"] or "")))
    if g["vul"]:
      value += _VULGAR[g["vul"]]
  elif g["lead"] is not None:
    value = Fraction(decimal.Decimal("0" + g["lead"]))
  else:
    value = _VULGAR[g["vonly"]]
  if g["scale"] and scale:
    value *= _SCALES[g["scale"].strip().lower()]
  if g["andhalf"]:
    value += Fraction(1, 2)
  if g["sign"] in ("-", "\u2212"):
    value = -value
  return value


def find_digits(text: str, scale: bool = True) -> list[Number]:
  """Every number written with digits (or vulgar fractions), in order.

  Args:
    text: any text.
    scale: multiply by a following "thousand" / "million" / ... word.
  """
  return [Number(_digits(m, scale), m.start(), m.end()) for m in _NUMBER.finditer(text)
          if m.end() - m.start() <= MAX_DIGITS]


def find_words(text: str) -> list[Number]:
  """Every number written in words ("twenty-five", "one half", "a dozen"), in order."""
  words = [(m.group(0).lower(), m.start(), m.end()) for m in _WORD.finditer(text)]
  out: list[Number] = []
  i = 0
  while i < len(words):
    value, j = _parse_words(words, i)
    if value is None:
      i += 1
      continue
    out.append(Number(value, words[i][1], words[j - 1][2]))
    i = j
  return out


def _parse_words(words, i):
  """(value, next index) for the number words starting at `i`, or (None, i)."""
  total = Fraction(0)
  current = Fraction(0)
  seen = False
  j = i
  while j < len(words):
    w = words[j][0]
    nxt = words[j + 1][0] if j + 1 < len(words) else ""
    if w in _UNITS:
      current += _UNITS[w]
    elif w in _TENS:
      current += _TENS[w]
    elif w == "hundred" and seen:
      current = max(current, Fraction(1)) * 100
    elif w in _SCALES and seen:
      total += max(current, Fraction(1)) * _SCALES[w]
      current = Fraction(0)
    elif w == "dozen":
      current = max(current, Fraction(1)) * 12
    elif w == "a" and nxt in ("half", "dozen", "quarter", "third") and not seen:
      current = Fraction(1)
    elif (w == "and" and seen and nxt == "a" and j + 2 < len(words)
          and words[j + 2][0] == "half"):
      return total + current + Fraction(1, 2), j + 3
    elif (w == "and" and seen and words[j - 1][0] in ("hundred", *_SCALES)
          and (nxt in _UNITS or nxt in _TENS)):
      pass
    elif w in _PARTS and (seen or w in ("half", "halves")):
      if w in ("half", "halves") and not seen:
        current = Fraction(1)
      current = current / _PARTS[w]
      seen = True
      j += 1
      break
    else:
      break
    seen = True
    j += 1
  if not seen or (j > i and words[j - 1][0] in ("and", "a")):
    return None, i
  return total + current, j


def find_numbers(text: str, scale: bool = True) -> list[Number]:
  """The numbers written with digits; the ones written in words when there are none."""
  return find_digits(text, scale) or find_words(text)


def format_number(value: Fraction) -> str:
  """Canonical text of an exact number: "18", "1234.5", "-0.25", "1/3"."""
  if value.denominator == 1:
    return str(value.numerator)
  den = value.denominator
  for p in (2, 5):
    while den % p == 0:
      den //= p
  if den != 1:
    return f"{value.numerator}/{value.denominator}"
  with decimal.localcontext() as ctx:
    ctx.prec = 100
    text = format(decimal.Decimal(value.numerator) / decimal.Decimal(value.denominator), "f")
  return text.rstrip("0").rstrip(".") if "." in text else text
