"""Tiny models, a digit tokenizer and toy verifiable tasks for the training tests."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from semcal_jax.data.question import Question
from semcal_jax.models import ModelConfig, init_model
from semcal_jax.models.loading import LoadedModel

BOS, EOS, SPACE, NEWLINE = 12, 13, 10, 11
VOCAB = 16


class DigitTokenizer:
  """Ids 0-9 are the digits, 10 space, 11 newline, 12 BOS, 13 EOS, 14 'Q', 15 '?'."""
  _TEXT = [str(i) for i in range(10)] + [" ", "\n", "", "", "Q", "?"]
  bos_id, eos_id, pad_id = BOS, EOS, None
  stop_ids = (EOS,)
  vocab_size = VOCAB

  def encode(self, text: str, add_bos: bool | None = None) -> list[int]:
    ids = [self._TEXT.index(ch) for ch in text]
    return ([BOS] if add_bos is not False else []) + ids

  def decode(self, ids, skip_special_tokens: bool = False) -> str:
    return "".join(self._TEXT[int(i)] for i in ids)


def config(vocab: int = VOCAB, **kw) -> ModelConfig:
  args = dict(family="llama", vocab_size=vocab, hidden_size=32, num_layers=2, num_heads=4,
              num_kv_heads=2, head_dim=8, intermediate_size=64)
  args.update(kw)
  return ModelConfig(**args)


def model(seed: int = 0, embed_scale: float = 5.0, **kw):
  """A random tiny model; the embedding (tied head) is scaled so that its
  next-token distributions are neither uniform nor one-hot."""
  m = init_model(config(**kw), seed=seed)
  m.embed.set_value(m.embed.get_value() * embed_scale)
  return m


def loaded(m, tokenizer=None, mesh=None) -> LoadedModel:
  return LoadedModel(model=m, tokenizer=tokenizer, config=m.config, mesh=mesh, dtype=jnp.float32,
                     name="tiny", source="test")


# Toy RL task: prompt [BOS, a]; reward 1 when the first generated token is one of
# the 4 tokens after a (mod 16): a random policy scores ~1/4.
RL_PROMPTS = [[BOS, a] for a in range(2, 10)]


def rl_reward(ro, idx) -> np.ndarray:
  del idx
  return np.array([[float(1 <= (c[0] - p[1]) % VOCAB <= 4) for c in cs]
                   for p, cs in zip(ro.prompts, ro.completions)], np.float32)


def qa_questions(n: int = 8) -> list[Question]:
  """Toy questions "Q<a>?" whose answer is (a + 1) mod 10."""
  return [Question(id=f"toy-{a}", question=f"Q{a}?", answers=(str((a + 1) % 10),),
                   dataset="toy", split="test") for a in range(n)]


def qa_prompt(q: Question) -> list[int]:
  return DigitTokenizer().encode(q.question + " ")
