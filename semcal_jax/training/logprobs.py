"""Per-token log-probabilities of continuations given a shared prompt, as the sampler sees them.

Every training batch has the same layout (see `batches.py`): E examples, each
a left-padded prompt `[P]` and S right-padded continuations `[S, T]` of it
(S = 1 for SFT, 2 for DPO's chosen / rejected, G for a GRPO group, K for the
candidate answers of the soft-label probe). The prompt is run once per
example and its KV cache is shared by the S continuations (the model's
`prefix` attention, exactly as in sampling), so a GRPO group of G samples
costs one prompt forward, not G.

    lp = continuation_logprobs(model, batch)            # [E, S, T]
    lp[e, s, t] = log p(tokens[e, s, t] | prompt[e], tokens[e, s, :t]) / at temperature

Positions: the prompt's real tokens are at `0..n-1` (padding at -1, left), a
continuation's at `n..`; padding after a continuation has position -1 and its
log-probability is meaningless (mask it). The log-softmax over the vocabulary
is taken in chunks of about `logit_chunk` rows (split along T) under
`jax.checkpoint`, so the `[rows, V]` logits of a
262k vocabulary are never all alive at once, in the forward or the backward.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp

from semcal_jax.models.transformer import KVCache, Transformer


def _chunk_logprobs(model: Transformer, h, targets, temperature: float, chunk: int | None):
  """`h [N, T, D]`, `targets [N, T]` -> `log softmax(head(h) / temperature)[targets]` `[N, T]`.

  Chunks run over the T axis (about `chunk` rows of N * c tokens each), so the
  row axis N keeps its data-parallel sharding."""

  def one(hc, tc):
    logits = model.logits_from_hidden(hc) / temperature  # [N, C, V] float32
    top = jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
    lse = top[..., 0] + jnp.log(jnp.sum(jnp.exp(logits - top), axis=-1))
    return jnp.take_along_axis(logits, tc[..., None], axis=-1)[..., 0] - lse

  n, t = targets.shape
  c = t if not chunk else max(1, min(t, chunk // max(n, 1)))
  if c >= t:
    return one(h, targets)
  pad = (-t) % c
  hp = jnp.pad(h, ((0, 0), (0, pad), (0, 0))).reshape(n, -1, c, h.shape[-1]).swapaxes(0, 1)
  tp = jnp.pad(targets, ((0, 0), (0, pad))).reshape(n, -1, c).swapaxes(0, 1)
  out = jax.lax.map(lambda xs: jax.checkpoint(one)(*xs), (hp, tp))  # [chunks, N, C]
  return out.swapaxes(0, 1).reshape(n, -1)[:, :t]


def continuation_logprobs(model: Transformer, batch: Mapping[str, jax.Array], *,
                          temperature: float = 1.0, logit_chunk: int | None = 512) -> jax.Array:
  """Log-probabilities `[E, S, T]` (float32) of `batch["tokens"]` (module docstring).

  Args:
    model: the (merged) `Transformer`.
    batch: `prompt` int32 `[E, P]` (left-padded), `prompt_positions` `[E, P]`
      (-1 on padding), `tokens` int32 `[E, S, T]`, `positions` `[E, S, T]`.
    temperature: the distribution's temperature (1 = the model's own).
    logit_chunk: about this many rows (tokens) per chunk of the vocabulary
      projection, split along T (None: all at once).
  """
  prompt, prompt_pos = batch["prompt"], batch["prompt_positions"]
  tokens, positions = batch["tokens"], batch["positions"]
  e, p = prompt.shape
  _, s, t = tokens.shape
  cfg = model.config
  h_prompt, prefix = model.hidden_states(prompt, prompt_pos, KVCache.empty(cfg, e, p, model.dtype),
                                         0)
  flat_tok = tokens.reshape(e * s, t)
  h_cont, _ = model.hidden_states(flat_tok, positions.reshape(e * s, t),
                                  KVCache.empty(cfg, e * s, t, model.dtype), 0, prefix=prefix)
  first = jnp.repeat(h_prompt[:, -1], s, axis=0)  # [E*S, D]: predicts each continuation's token 0
  pred = jnp.concatenate([first[:, None], h_cont[:, :-1]], axis=1)  # [E*S, T, D]
  lp = _chunk_logprobs(model, pred, flat_tok, float(temperature), logit_chunk)
  return lp.reshape(e, s, t)


__all__ = ["continuation_logprobs"]
