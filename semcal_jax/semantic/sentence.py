"""The answer inside a one-sentence response ("A dik-dik is a small antelope.").

Heuristic, no model: the sentence's words are split into question words
(present in the question, up to a plural / -ly / -ed ending), glue words
(articles, auxiliaries, prepositions, pronouns, frame words such as "type of"
or "called") and content words. Maximal runs of content words (joined by "of",
"and", "de", ...; extended over adjacent capitalised question words, so
"Sweet Sensation" survives the question "... Sad, Sweet Dreamer?") are the
candidates. The best candidate is the one that follows a cue ("is", "was",
"called", "as", "by"), then the one of the type the question asks for (digits
for "when" / "how many", capitalised words for "who" / "which"), then the
earliest. With no candidate, the text after the last cue word is used.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from semcal_jax.semantic import text_norm

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_GLUE = frozenset("""
a an the is was are were be been being am s has had have having do does did it its it's this
that these those he she they his her their them him we you i there here which who whom whose what
of in on at by for from to with as into onto about after before during since near than over under
within between and or but so because either neither also originally first actually probably
likely now then still once formerly later usually typically generally just only really
certainly definitely believe think answer correct type kind sort breed species form member variety example name named called
known titled written painted composed directed founded invented discovered built made located
situated held played sung
""".split())
_CUES = frozenset("is was are were be became becomes as called named titled by".split())
_CONNECTORS = frozenset("of and de la le du da van von y st".split())
_BE = frozenset("is was are were has had became called named known".split())
_NUMBER_Q = re.compile(r"\b(?:when|what year|which year|what date|how (?:many|much|old|long|far|"
                       r"tall|big|high|deep|often))\b", re.IGNORECASE)
_ENTITY_Q = re.compile(r"\b(?:who|whom|whose|which|where)\b", re.IGNORECASE)
_NUMBER_WORDS = frozenset("zero one two three four five six seven eight nine ten eleven twelve "
                          "hundred thousand million billion".split())


class _Tok(NamedTuple):
  norm: str
  capital: bool


def _stem(word: str) -> str:
  for suffix in ("ies", "es", "s", "ly", "ed", "ing"):
    if len(word) > len(suffix) + 3 and word.endswith(suffix):
      return word[:-len(suffix)] + ("y" if suffix == "ies" else "")
  return word


def _tokens(text: str) -> list[_Tok]:
  out = []
  for m in _WORD.finditer(text):
    for part in text_norm.normalize(m.group(0)).split() or [""]:
      out.append(_Tok(part, m.group(0)[:1].isupper()))
  return out


def looks_like_sentence(text: str) -> bool:
  """Four or more words with a verb of being or naming ("X is Y", "X was called Y")."""
  toks = [t.norm for t in _tokens(text)]
  return len(toks) >= 4 and any(t in _BE for t in toks)


class SentenceAnswer(NamedTuple):
  """The extracted answer words (normalised) and whether they are a disjunction."""
  key: str
  disjunction: bool


def extract(sentence: str, question: str | None) -> SentenceAnswer | None:
  """The normalised answer inside `sentence`, or None when there is none."""
  toks = _tokens(sentence)
  if not toks:
    return None
  qstems = {_stem(t) for t in text_norm.tokens(question or "")}
  kinds = []  # "q" question word, "g" glue, "c" content, "" dropped article
  for t in toks:
    if not t.norm:
      kinds.append("")
    elif _stem(t.norm) in qstems:
      kinds.append("q")
    elif t.norm in _GLUE:
      kinds.append("g")
    else:
      kinds.append("c")
  runs = _runs(toks, kinds)
  if not runs:
    return _after_last_cue(toks)
  ors = [i for i, (a, b) in enumerate(zip(runs, runs[1:]))
         if any(toks[k].norm == "or" for k in range(a[1], b[0]))]
  if ors:
    i = ors[-1]
    parts = sorted(_join(toks, runs[j]) for j in (i, i + 1))
    return SentenceAnswer(" or ".join(parts), True)
  best = max(range(len(runs)), key=lambda i: (_score(toks, kinds, runs, i, question), -i))
  return SentenceAnswer(_join(toks, runs[best]), False)


def _runs(toks: list[_Tok], kinds: list[str]) -> list[tuple[int, int]]:
  """Maximal [start, end) runs of content words, joined by connectors."""
  runs: list[tuple[int, int]] = []
  i = 0
  n = len(toks)
  while i < n:
    if kinds[i] != "c":
      i += 1
      continue
    j = i + 1
    while j < n:
      if kinds[j] == "c":
        j += 1
      elif (toks[j].norm in _CONNECTORS or kinds[j] == "") and j + 1 < n and kinds[j + 1] == "c":
        j += 2
      else:
        break
    start, end = i, j
    while start > 0 and kinds[start - 1] == "q" and toks[start - 1].capital and toks[start].capital:
      start -= 1
    while end < n and kinds[end] == "q" and toks[end].capital and toks[end - 1].capital:
      end += 1
    runs.append((start, end))
    i = j
  return runs


def _join(toks: list[_Tok], run: tuple[int, int]) -> str:
  return " ".join(t.norm for t in toks[run[0]:run[1]] if t.norm)


def _score(toks, kinds, runs, i, question) -> int:
  start, end = runs[i]
  prev_end = runs[i - 1][1] if i > 0 else 0
  cue = any(kinds[k] == "g" and toks[k].norm in _CUES for k in range(prev_end, start))
  words = [t for t in toks[start:end] if t.norm and t.norm not in _CONNECTORS]
  type_match = False
  if question and _NUMBER_Q.search(question):
    type_match = any(t.norm[0].isdigit() or t.norm in _NUMBER_WORDS for t in words)
  elif question and _ENTITY_Q.search(question):
    type_match = all(t.capital for t in words)
  return 2 * cue + type_match


def _after_last_cue(toks: list[_Tok]) -> SentenceAnswer | None:
  last = max((k for k, t in enumerate(toks) if t.norm in _CUES), default=-1)
  rest = " ".join(t.norm for t in toks[last + 1:] if t.norm)
  return SentenceAnswer(rest, False) if rest else None
