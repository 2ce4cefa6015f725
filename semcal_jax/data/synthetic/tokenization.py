"""Word-level tokenizer and the exact collapsing function B of the synthetic world."""

from __future__ import annotations

import numpy as np
import tokenizers
from tokenizers import models as tok_models, pre_tokenizers

from semcal_jax.data.synthetic import corpus
from semcal_jax.data.synthetic.world import World
from semcal_jax.models.tokenizer import Tokenizer
from semcal_jax.semantic import base


def make_tokenizer(world: World) -> Tokenizer:
  """A `tokenizers` WordLevel tokenizer over the world's vocabulary (texts are
  space-separated words; decoding joins tokens with spaces)."""
  vocab = {w: i for i, w in enumerate(corpus.vocabulary(world))}
  backend = tokenizers.Tokenizer(tok_models.WordLevel(vocab, unk_token=corpus.UNK))
  backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
  backend.add_special_tokens([corpus.PAD, corpus.BOS, corpus.EOS, corpus.UNK])
  return Tokenizer(backend, special_tokens={"bos_token": corpus.BOS, "eos_token": corpus.EOS,
                                            "pad_token": corpus.PAD, "unk_token": corpus.UNK},
                   source=f"synthetic world (seed {world.seed})")


class SyntheticCollapsing(base.CollapsingFunction):
  """B of the synthetic world: the answer value a response names.

  concise: the whole response must be one surface form; sentence: the last
  surface form in it; cot: the surface form after "answer is". Anything else is
  unparsed (-1). Keys are the answer values themselves, so the class of a
  response is exactly the value p* is defined over.
  """

  name = "synthetic"

  def __init__(self, world: World):
    self.world = world
    forms = sorted(((f.lower(), v) for v, fs in world.surface_forms.items() for f in fs),
                   key=lambda t: -len(t[0]))
    self._forms = forms  # longest first, so "the city of X" wins over "X"

  def _find_last(self, text: str) -> str | None:
    padded = f" {text.lower()} "
    best, best_pos = None, -1
    for surface, value in self._forms:
      pos = padded.rfind(f" {surface} ")
      if pos > best_pos:  # a longer form starting earlier than a shorter one inside it
        best, best_pos = value, pos
      elif pos == best_pos and best is not None and pos >= 0:
        continue
    return best

  def canonical(self, text, style="concise", *, question=None):
    del question
    if text is None:
      return None
    text = text.replace(corpus.EOS, " ").strip()
    if text.endswith(" ."):
      text = text[:-2].strip()
    if style == "concise":
      return self.world.value_of(text)
    if style == "cot":
      head, sep, tail = text.rpartition("answer is ")
      if not sep:
        return None
      return self.world.value_of(tail.strip(" ."))
    return self._find_last(text)


def first_token_targets(world: World, tok: Tokenizer, value: str) -> np.ndarray:
  """Ids of the first token of every surface form of `value` (token-level correctness)."""
  return np.unique([tok.encode(f, add_bos=False)[0] for f in world.surface_forms[value]])
