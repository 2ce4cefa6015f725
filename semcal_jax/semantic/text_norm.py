"""SQuAD-style answer normalisation (lower case, no punctuation, articles or accents).

As in the SQuAD / TriviaQA evaluation scripts, with two deliberate changes:
punctuation becomes a space rather than vanishing (so "J.R.R. Tolkien",
"J. R. R. Tolkien" and "Self-raising" / "Self raising" agree), apostrophes
vanish ("Gandhi's" -> "gandhis"), and accents are stripped ("Pelé" == "Pele").
"""

from __future__ import annotations

import functools
import re
import unicodedata

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u02bc]")
_SPACES = re.compile(r"\s+")


def _strip_accents(text: str) -> str:
  decomposed = unicodedata.normalize("NFKD", text)
  return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _punct_to_space(text: str) -> str:
  out = []
  for ch in text:
    cat = unicodedata.category(ch)
    out.append(" " if cat[0] in "PSZC" else ch)
  return "".join(out)


@functools.lru_cache(maxsize=1 << 16)
def normalize(text: str) -> str:
  """SQuAD-style normal form of `text` ("" when nothing is left).

  >>> normalize("The  Beatles!")
  'beatles'
  """
  text = _strip_accents(text).lower()
  text = _APOSTROPHES.sub("", text)
  text = _punct_to_space(text)
  text = _ARTICLES.sub(" ", text)
  return _SPACES.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
  """The normalised words of `text`."""
  return normalize(text).split()


def contains(haystack: list[str], needle: list[str]) -> int:
  """Start index of `needle` as a contiguous run in `haystack`, or -1."""
  n = len(needle)
  if n == 0 or n > len(haystack):
    return -1
  for i in range(len(haystack) - n + 1):
    if haystack[i:i + n] == needle:
      return i
  return -1
