"""Finding the answer span in a response: shared by every rule.

- `clean`: a base model often runs past its answer into the next few-shot
  turn ("18\\n\\nQuestion: ..."); that tail is cut, as are end tokens and
  markdown emphasis.
- `answer_span`: the text after the last answer marker ("the answer is",
  "Answer:", "Final answer:", "####"), or the content of the last `\\boxed{}`
  (all boxes of the last sentence when there are several).
- `sentences`, `first_sentence`: sentence splitting that keeps decimals, LaTeX
  and initials ("J. R. R. Tolkien") in one piece.
- `remove_negations`: "not 5, it's 7" -> "7"; "Canberra, not Sydney" -> "Canberra".
- `remove_hedges`: "I think it's iron, but I'm not sure." -> "iron".
- `is_abstention`: "I don't know", "I'm not sure", ...
"""

from __future__ import annotations

import re
from typing import NamedTuple

_END_TOKENS = re.compile(r"<\|endoftext\|>|<\|im_end\|>|<\|eot_id\|>|<end_of_turn>|<eos>|</s>")
_CONTINUATION = re.compile(r"\n\s*(?:Question|Problem|Q)\s*:")
_MARKDOWN = re.compile(r"\*\*|__|`")
_MARKERS = re.compile(
    r"####|"
    r"(?:^|(?<=\n)|(?<=[.!?]\s))[ \t>#*-]*(?:the\s+)?(?:final\s+)?answer\s*:|"
    r"\b(?:final\s+)?answer\s+(?:to\s+(?:the|this)\s+(?:question|problem)\s+)?"
    r"(?:is|was|would\s+be|will\s+be|should\s+be|must\s+be)\s*:?"
    r"(?!\s*(?:correct|incorrect|right|wrong|not\s+correct)\s*(?:[.,;!]|$|because\b|since\b|"
    r"by\b|as\b))",
    re.IGNORECASE)
_BOX = re.compile(r"\\(?:boxed|fbox)\s*")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "mt", "no", "e.g", "i.e",
                  "etc", "approx", "ft", "oz", "lb", "lbs"}
_FILLER = re.compile(
    r"^(?:sure|certainly|of course|okay|ok|great question|good question|absolutely|hmm+|"
    r"well|alright|let me think|let's think|let us think|here is|here's)\b", re.IGNORECASE)
_ABSTAIN = re.compile(
    r"\b(?:i\s+(?:do\s+not|don'?t|dont)\s+(?:know|have)|i'?m\s+not\s+sure|i\s+am\s+not\s+sure|"
    r"not\s+sure|i\s+(?:can\s*not|can'?t|cannot)\s+(?:answer|determine|simplify|tell|say|find)|"
    r"i'?m\s+sorry|unknown|no\s+idea|not\s+enough\s+information|need\s+more\s+information)\b",
    re.IGNORECASE)
_HEDGE_TAIL = re.compile(r"[,;]?\s*(?:but|though|although|yet)\s+i'?m\s+not\s+(?:sure|certain|"
                         r"positive)\s*[.!]?$|[,;]?\s*(?:i\s+think|i\s+believe|probably)\s*[.!]?$",
                         re.IGNORECASE)
_HEDGE_LEAD = re.compile(r"^(?:(?:i\s+think|i\s+believe|probably|maybe|perhaps)\s*,?\s+)?"
                         r"(?:it'?s|it\s+is|it\s+was|that'?s|that\s+is|this\s+is)\s+",
                         re.IGNORECASE)
_THEN = r"(?:but\s+|it'?s\s+|it\s+is\s+|rather\s+|instead\s+)"
_NEG_LEAD = re.compile(r"^\s*(?:it'?s\s+|it\s+is\s+)?not\s+[^;]+?[,;](?=\s)\s*" + _THEN + "?",
                       re.IGNORECASE)
_NEG_MID = re.compile(r"\bnot\s+[^;]+?[,;](?=\s)\s*" + _THEN, re.IGNORECASE)
_NEG_BUT = re.compile(r"\bnot\s+(.+?)\s+but\s+", re.IGNORECASE)
_NEG_TAIL = re.compile(r"\s*[,;]?\s*(?:and\s+|but\s+)?\bnot\s+[^,;.]*$", re.IGNORECASE)


class Span(NamedTuple):
  """An answer span: its text and how it was found ("boxed", "marker", "")."""
  text: str
  kind: str


def clean(text: str | None) -> str:
  """End tokens, the few-shot continuation and markdown emphasis removed."""
  if not text:
    return ""
  text = _END_TOKENS.split(text, maxsplit=1)[0]
  m = _CONTINUATION.search(text)
  if m and text[:m.start()].strip():
    text = text[:m.start()]
  return _MARKDOWN.sub("", text).strip()


def matching_brace(text: str, open_index: int) -> int:
  """Index of the `}` closing the `{` at `open_index`, or -1 when unbalanced."""
  depth = 0
  i = open_index
  while i < len(text):
    ch = text[i]
    if ch == "\\":
      i += 2
      continue
    if ch == "{":
      depth += 1
    elif ch == "}":
      depth -= 1
      if depth == 0:
        return i
    i += 1
  return -1


def boxed(text: str) -> list[tuple[int, int, str]]:
  """Every `\\boxed{...}` / `\\fbox{...}` (also `\\boxed 5`): (start, end, content)."""
  out = []
  for m in _BOX.finditer(text):
    j = m.end()
    if j < len(text) and text[j] == "{":
      k = matching_brace(text, j)
      if k < 0:
        continue
      out.append((m.start(), k + 1, text[j + 1:k].strip()))
    else:
      tok = re.match(r"[^\s$]+", text[j:])
      if tok:
        out.append((m.start(), j + tok.end(), tok.group(0)))
  return out


def _is_sentence_end(text: str, i: int, in_math: bool) -> bool:
  ch = text[i]
  if ch == "\n":
    return True
  if ch not in ".!?" or in_math:
    return False
  nxt = text[i + 1] if i + 1 < len(text) else ""
  if nxt and not nxt.isspace() and nxt not in "\"')]*":
    return False
  if ch == ".":
    if re.search(r"(?:^|[\s.])[A-Z]$", text[:i]):  # an initial: "J. R. R. Tolkien", "J.R.R."
      return False
    word = re.search(r"([A-Za-z.]+)$", text[:i])
    if word and word.group(1).lower() in _ABBREVIATIONS:
      return False
  return True


def sentence_end(text: str, start: int = 0) -> int:
  """Index just past the sentence that starts at `start` (or len(text))."""
  in_math = False
  depth = 0
  i = start
  while i < len(text):
    ch = text[i]
    if ch == "\\":
      i += 2
      continue
    if ch == "$":
      in_math = not in_math
    elif ch == "{":
      depth += 1
    elif ch == "}":
      depth = max(0, depth - 1)
    elif depth == 0 and _is_sentence_end(text, i, in_math):
      return i + 1
    i += 1
  return len(text)


def sentences(text: str) -> list[str]:
  """The non-empty sentences of `text`, stripped, in order."""
  out = []
  i = 0
  while i < len(text):
    j = sentence_end(text, i)
    s = text[i:j].strip()
    if s:
      out.append(s)
    i = j
  return out


def strip_end(text: str) -> str:
  """Trailing sentence punctuation and whitespace removed."""
  return text.strip().rstrip(".!?;:,").strip()


def is_filler(sentence: str) -> bool:
  """A short opener with no answer in it ("Sure!", "Great question!")."""
  return bool(_FILLER.match(sentence)) and len(sentence.split()) <= 5


def first_sentence(text: str) -> str:
  """The first sentence that is not a filler opener ("" if none)."""
  for s in sentences(text):
    if not is_filler(s):
      return s
  return ""


def first_line(text: str) -> str:
  """The first non-empty line."""
  for line in text.splitlines():
    if line.strip():
      return line.strip()
  return ""


def answer_span(text: str, prefer_boxed: bool = False) -> Span | None:
  """The span after the last answer marker or the last box, whichever is later.

  Boxes: when the last box's sentence holds several different boxes ("x =
  \\boxed{2} or x = \\boxed{3}") their contents are joined with ", ".

  Args:
    text: a cleaned response.
    prefer_boxed: (math answers) a marker after the last box counts only when
      its span holds a digit, `$` or a backslash ("The final answer is
      positive, because ..." does not replace `\\boxed{\\frac{130}{231}}`).
  """
  best: Span | None = None
  best_pos = -1
  boxes = boxed(text)
  if boxes:
    last = boxes[-1]
    sent_start = max(text.rfind("\n", 0, last[0]), _last_sentence_start(text, last[0]))
    same = list(dict.fromkeys(b[2] for b in boxes if b[0] >= sent_start))
    best = Span(", ".join(same) if len(same) > 1 else last[2], "boxed")
    best_pos = last[0]
  for m in _MARKERS.finditer(text):
    if m.start() > best_pos:
      j = m.end()
      k = sentence_end(text, j)
      span = text[j:k].strip()
      if span.startswith(":"):
        span = span[1:].strip()
      if not span and k < len(text):  # "Answer:\n18"
        k2 = sentence_end(text, k)
        span = text[k:k2].strip()
      if prefer_boxed and boxes and not re.search(r"[\d$\\]", span):
        continue
      best, best_pos = Span(strip_end(span) if not span.endswith("$") else span.strip(),
                            "marker"), m.start()
  return best


def _last_sentence_start(text: str, pos: int) -> int:
  i = 0
  start = 0
  while i < pos:
    j = sentence_end(text, i)
    if j > pos:
      break
    start = j
    i = j
  return start


def remove_hedges(text: str) -> str:
  """A committed answer's hedges removed: "I think it's X, but I'm not sure." -> "X"."""
  out = _HEDGE_TAIL.sub("", text.strip())
  return _HEDGE_LEAD.sub("", out).strip() or text.strip()


def remove_negations(text: str) -> str:
  """Negated candidates removed: "not 5, it's 7" -> "7", "Paris, not Lyon" -> "Paris"."""
  out = _NEG_LEAD.sub("", text, count=1)
  out = _NEG_MID.sub("", out)
  out = _NEG_BUT.sub("", out)
  out = _NEG_TAIL.sub("", out)
  return out.strip()


def is_abstention(text: str) -> bool:
  """The text declines to answer ("I don't know", "I'm not sure", ...)."""
  return bool(_ABSTAIN.search(text))
