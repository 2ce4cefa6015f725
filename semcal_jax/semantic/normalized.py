"""The `normalized` rule: the answer span, SQuAD-normalised, is the class key.

Answer span by style:
- concise: the first line (a sentence-like line, "The Kentucky Derby is held
  at ...", is read as a sentence);
- sentence: the first sentence that is not a filler opener ("Sure!"), then
  the answer inside it (`semcal_jax.semantic.sentence`);
- cot: the text after the last "the answer is" / "Answer:" / "####" or the
  last `\\boxed{}`; none of them: unparsed.
In every style an explicit answer marker wins, negated candidates are dropped
("not Henry V, it's Henry IV" -> "Henry IV"), so are hedges around a committed
answer ("I think it's iron, but I'm not sure" -> "iron"), a hedge "X or Y"
becomes the class "x or y" (sorted), and abstentions ("I don't know") are
unparsed.

Reference matching: a response matches when its key equals an alias's key, or
(`contains=True`, the default) when the alias's words appear, in order, in
the response's normalised answer text ("a small, sturdy horse" matches
"Horse"), except for aliases that are themselves in the question, inside a
hedge, or that hold a number while the response holds another one
("October 8, 1966" does not match "1966").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from semcal_jax.semantic import base, sentence, spans, text_norm

_OR = re.compile(r"^(?:either\s+)?(.+?)\s+or\s+(.+)$", re.IGNORECASE)
_LEADING = re.compile(r"^(?:answer\s*:|a\s*:)\s*", re.IGNORECASE)


class NormalizedMatch(base.CollapsingFunction):
  """SQuAD-normalised answer spans (module docstring).

  Args:
    contains: also match a reference alias contained in the answer text.
  """

  name = "normalized"

  def __init__(self, contains: bool = True):
    self.contains = contains

  def extract(self, text, style="concise", *, question=None):
    base.check_style(style)
    text = spans.clean(text)
    if not text:
      return None
    span = spans.answer_span(text)
    if span is not None and span.kind == "boxed":
      span = spans.Span(re.sub(r"\\text\{([^{}]*)\}", r"\1", span.text), "boxed")
    if span is not None:
      return self._from_span(span.text, question)
    if style == "cot":
      return None
    line = spans.first_line(text)
    if style == "concise" and not sentence.looks_like_sentence(line):
      return self._from_span(line, question)
    sent = spans.strip_end(spans.remove_hedges(
        spans.strip_end(spans.first_sentence(line if style == "concise" else text))))
    if not sent or spans.is_abstention(sent):
      return None
    sent = spans.remove_negations(sent) or sent
    found = sentence.extract(sent, question)
    if found is None:
      return None
    context = "" if found.disjunction else text_norm.normalize(sent)
    return base.Extraction(found.key, context)

  def reference_key(self, answer, *, question=None):
    """A reference alias: the whole text normalised, "X or Y" sorted like responses (no
    negation or abstention rules)."""
    del question
    text = (answer or "").strip()
    key = _disjunction(text) or text_norm.normalize(text) or _symbols(text) or text.lower()
    return base.Extraction(key, key) if key else None

  def _from_span(self, span: str, question: str | None) -> base.Extraction | None:
    span = spans.remove_hedges(spans.strip_end(_LEADING.sub("", span.strip())))
    span = spans.strip_end(span)
    if not span or spans.is_abstention(span):
      return None
    span = spans.remove_negations(span) or span
    hedge = _disjunction(span)
    if hedge:
      return base.Extraction(hedge, "")
    if sentence.looks_like_sentence(span) and len(span.split()) > 5:
      found = sentence.extract(span, question)
      if found is not None:
        context = "" if found.disjunction else text_norm.normalize(span)
        return base.Extraction(found.key, context)
    key = text_norm.normalize(span) or _symbols(span)
    return base.Extraction(key, key) if key else None

  def matches_reference(self, ext: base.Extraction, references: Sequence[base.Extraction], *,
                        question: str | None = None) -> bool:
    keys = {r.key for r in references}
    if ext.key in keys:
      return True
    if not self.contains or not ext.context:
      return False
    context = ext.context.split()
    qtoks = text_norm.tokens(question or "")
    for ref in keys:
      rtoks = ref.split()
      if text_norm.contains(qtoks, rtoks) >= 0:
        continue
      at = text_norm.contains(context, rtoks)
      if at < 0:
        continue
      if any(t[0].isdigit() for t in rtoks):
        outside = context[:at] + context[at + len(rtoks):]
        if any(t[0].isdigit() for t in outside):
          continue
      return True
    return False


def _disjunction(text: str) -> str | None:
  """"X or Y" (two short parts) as the class "x or y", parts sorted; else None."""
  m = _OR.match(text)
  if not m or any(len(p.split()) > 6 for p in m.groups()):
    return None
  parts = sorted(text_norm.normalize(p) for p in m.groups())
  return " or ".join(parts) if all(parts) else None


def _symbols(text: str) -> str:
  """The symbol characters of a text that normalises to nothing ("£" stays "£")."""
  chars = [c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c)[0] == "S"]
  return "".join(chars)
