"""The `math` rule: LaTeX answers grouped by mathematical equivalence (sympy).

`\\frac{1}{2}`, `0.5`, `\\dfrac12` and `\\frac{2}{4}` are one class; so are
`2\\sqrt{2}` and `\\sqrt{8}`, `x^2+2x+1` and `(x+1)^2`, `(-2, 2)` and
`\\left(-2,2\\right)`, "2, 3" and `\\{3, 2\\}`, `\\text{(C)}` and "(C)".

Answer span: the last `\\boxed{}` (several boxes in the last sentence form a
list) or the text after the last answer marker ("The final answer is $2,3$.");
without one, by style:
- concise: the first line;
- sentence: the last `$...$` of the first sentence (its right side after
  "="), else the text after its last "is" / "equals" / "=";
- cot: the last `$...$` of the response (its right side after "=").
The span is normalised and split into structure by `semcal_jax.semantic.latex`
and each atom keyed by `semcal_jax.semantic.symbolic`: "n:" exact numbers,
"e:" sympy expressions, "t:" text (`\\text{Sunday}`, "Sunday"), "c:" choice
letters, "s:" anything sympy cannot read (its normalised string). Keys that
differ are still one class when `equivalent` finds equal values, so grouping
is deterministic (classes in order of first appearance) and cached.

The question, when given, tells a list ("separated by commas": "70,110" is
two numbers) and a multiple-choice question ("(A) ... (B)": "C" is a choice).
"""

from __future__ import annotations

import functools
import re

from semcal_jax.semantic import base, latex, spans, symbolic, text_norm

_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\[(.+?)\\\]|\\\((.+?)\\\)", re.S)
_LIST_Q = re.compile(r"separated by commas|comma[- ]separated|all (?:the |of the )?(?:\w+ ){0,2}"
                     r"(?:solutions|values|roots|zeros|answers)", re.IGNORECASE)
_CHOICE_Q = re.compile(r"\(A\).*\(B\)", re.S)
_CUE = re.compile(r"\b(?:is|are|equals|was|be)\b|=|\bto\b", re.IGNORECASE)
_TEXT = re.compile(r"^\\text\{(.*)\}$", re.S)
_CHOICE = re.compile(r"^\(([A-Ea-e])\)$")
_WORDS = re.compile(r"^[A-Za-z][A-Za-z\s'\-]{2,}$")
_TREES: dict[str, tuple] = {}


class MathEquivalence(base.CollapsingFunction):
  """Symbolic equivalence of LaTeX answers (module docstring)."""

  name = "math"

  def __init__(self):
    symbolic.require_parser()

  def extract(self, text, style="concise", *, question=None):
    base.check_style(style)
    return self._extract(text, style, question, reference=False)

  def reference_key(self, answer, *, question=None):
    return self._extract(answer, "concise", question, reference=True)

  def _extract(self, text, style, question, reference):
    text = spans.clean(text)
    if not text:
      return None
    span = spans.answer_span(text, prefer_boxed=True)
    if span is not None:
      s = span.text
    elif reference:
      s = text
    elif style == "concise":
      s = spans.first_line(text)
    elif style == "sentence":
      s = _sentence_answer(spans.first_sentence(text))
    else:
      s = _last_math(text)
    if not s or (not reference and spans.is_abstention(s)):
      return None
    key = _key(s, bool(question and _LIST_Q.search(question)),
               bool(question and _CHOICE_Q.search(question)))
    return None if key is None else base.Extraction(key, key)

  def equivalent(self, a: str, b: str) -> bool:
    return _equivalent(a, b)


def _sentence_answer(sentence: str) -> str | None:
  if not sentence or spans.is_abstention(sentence):
    return None
  found = _MATH_SPAN.findall(sentence)
  if found:
    return latex.top_level_split(next(g for g in found[-1] if g), "=")[-1]
  cues = list(_CUE.finditer(sentence))
  return spans.strip_end(sentence[cues[-1].end():]) if cues else None


def _last_math(text: str) -> str | None:
  found = _MATH_SPAN.findall(text)
  if not found:
    return None
  s = next(g for g in found[-1] if g)
  return latex.top_level_split(s, "=")[-1]


@functools.lru_cache(maxsize=1 << 16)
def _key(s: str, list_hint: bool, choice_hint: bool) -> str | None:
  s = latex.normalize(s)
  if not s:
    return None
  if _CHOICE.match(s):
    return "c:" + s[1].upper()
  return _tree_key(latex.parse(s, list_hint=list_hint), choice_hint)


def _tree_key(tree, choice_hint: bool) -> str | None:
  if isinstance(tree, str):
    return _atom(tree, choice_hint)
  kind = tree[0]
  items = tree[-1]
  if kind == "matrix":
    rows = tuple(tuple(_tree_key(c, choice_hint) or "?" for c in row) for row in items)
    key = "[" + ";".join(",".join(r) for r in rows) + "]"
    _TREES[key] = ("matrix", rows)
    return key
  keys = [_tree_key(t, choice_hint) for t in items]
  if any(k is None for k in keys):
    return None
  if kind == "set":
    distinct: list[str] = []
    for k in keys:
      if not any(_equivalent(k, d) for d in distinct):
        distinct.append(k)
    if len(distinct) == 1:
      return distinct[0]
    keys = sorted(distinct)
    key = "{" + ",".join(keys) + "}"
  elif kind == "seq":
    key = tree[1] + ",".join(keys) + tree[2]
  else:
    key = "U(" + ",".join(keys) + ")"
  _TREES[key] = (kind if kind != "seq" else tree[1] + tree[2], tuple(keys))
  return key


def _atom(s: str, choice_hint: bool) -> str | None:
  s = s.strip()
  m = _TEXT.match(s)
  if m:
    inner = m.group(1).strip()
    c = _CHOICE.match(inner) or re.match(r"^([A-E])$", inner)
    if c:
      return "c:" + c.group(1).upper()
    norm = text_norm.normalize(inner)
    return "t:" + norm if norm else None
  c = _CHOICE.match(s) or (re.match(r"^([A-E])$", s) if choice_hint else None)
  if c:
    return "c:" + c.group(1).upper()
  if _WORDS.match(s):
    return "t:" + text_norm.normalize(s)
  key = symbolic.atom_key(s)
  if key is not None:
    return key
  return "s:" + re.sub(r"\s+", "", s)


@functools.lru_cache(maxsize=1 << 16)
def _equivalent(a: str, b: str) -> bool:
  if a == b:
    return True
  if a[:2] in ("n:", "e:", "q:") and b[:2] in ("n:", "e:", "q:"):
    return symbolic.equivalent(a, b)
  ta, tb = _TREES.get(a), _TREES.get(b)
  if ta is None or tb is None or ta[0] != tb[0] or len(ta[1]) != len(tb[1]):
    return False
  if ta[0] == "matrix":
    return all(len(ra) == len(rb) and all(map(_equivalent, ra, rb))
               for ra, rb in zip(ta[1], tb[1]))
  if ta[0] != "set":
    return all(map(_equivalent, ta[1], tb[1]))
  left = list(tb[1])
  for k in ta[1]:
    j = next((j for j, o in enumerate(left) if _equivalent(k, o)), None)
    if j is None:
      return False
    left.pop(j)
  return True
