"""The `numeric` rule: the answer's number, written canonically, is the class key.

For GSM8K, SVAMP and other word problems with numeric answers. Answer span:
the text after the last answer marker ("The answer is", "Answer:", "####") or
the last `\\boxed{}`; without one, by style:
- concise: the first line; its first number, or the number after the last "=";
- sentence: the first sentence that is not a filler opener; its last number,
  or the number after the last "=";
- cot: the number after the last "=" of the last line, else the last number
  of the worked solution.
GSM8K calculator notes (`<<9*2=18>>`) are removed first, negated candidates are
dropped ("not $1,234, it's $1,234.50"), a hedge "14 or 32" is the class
"14 or 32" (sorted), and a span with no number is unparsed. Numbers are read
by `semcal_jax.semantic.numbers` (commas, units, currency, ".0", fractions,
negatives, number words) and keyed by `numbers.format_number`; scale words
("4 million") multiply unless the question itself counts in that scale.
"""

from __future__ import annotations

import re

from semcal_jax.semantic import base, numbers, spans

_CALC = re.compile(r"<<[^<>]*>>")
_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_LATEX_DROP = re.compile(r"\\[!,;: ]|\\left|\\right|\{,\}")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_SCALE_Q = re.compile(r"\b(?:thousand|million|billion|trillion)s?\b", re.IGNORECASE)
_OR_BETWEEN = re.compile(r"^[^\d]{0,15}?\bor\b\s*[$]?$", re.IGNORECASE)


def _prepare(text: str) -> str:
  text = _CALC.sub("", text)
  text = _FRAC.sub(r"\1/\2", text)
  text = _TEXT.sub(r" \1 ", text)
  text = _LATEX_DROP.sub("", text)
  text = text.replace("\\$", "$").replace("\\%", "%").replace("\\cdot", "*")
  text = text.replace("\\times", "*")
  return text.replace("$", "")


class NumericMatch(base.CollapsingFunction):
  """Canonical numbers (module docstring)."""

  name = "numeric"

  def extract(self, text, style="concise", *, question=None):
    base.check_style(style)
    text = _prepare(spans.clean(text))
    if not text:
      return None
    span = spans.answer_span(text, prefer_boxed=True)
    if span is not None:
      body, pick = span.text, "first"
    elif style == "concise":
      body, pick = spans.first_line(text), "first"
    elif style == "sentence":
      body, pick = spans.first_sentence(text), "last"
    else:
      last_line = text.strip().splitlines()[-1]
      body, pick = (last_line, "first") if "=" in last_line else (text, "last")
    body = spans.remove_negations(body)
    if "=" in body and (pick == "first" or style == "sentence"):
      body = body[body.rfind("=") + 1:]
      pick = "first"
    found = numbers.find_numbers(body, scale=not _mentions_scale(question))
    if not found:
      return None
    i = 0 if pick == "first" else len(found) - 1
    if span is not None or style != "cot":
      pair = _disjunction(body, found, i)
      if pair is not None:
        key = " or ".join(sorted(numbers.format_number(v) for v in pair))
        return base.Extraction(key, key)
    key = numbers.format_number(found[i].value)
    return base.Extraction(key, key)


def _mentions_scale(question: str | None) -> bool:
  """The question counts in thousands / millions, so "4 million" answers "4"."""
  return bool(question and _SCALE_Q.search(question))


def _disjunction(body: str, found: list[numbers.Number], i: int):
  """The two values of "X or Y" around the picked number, or None."""
  for a, b in ((i, i + 1), (i - 1, i)):
    if 0 <= a and b < len(found) and _OR_BETWEEN.match(body[found[a].end:found[b].start]):
      return found[a].value, found[b].value
  return None
