"""The decoder-only transformer (Flax NNX) and its KV cache.

Layers are stacked: every parameter of `blocks` has a leading `[L]` axis, and
the forward pass is one `lax.scan` over layers (compile time independent of
depth, as pod-scale models need). Per-layer differences (Gemma's local/global
layers with their own window and RoPE base) are scanned-over arrays.

One forward serves training and sampling: tokens are written into a KV cache
at a slot, and attention reads the whole cache. For a plain full-sequence pass
(`Transformer.__call__` without a cache) a cache of exactly T slots is made on
the fly. Padding is marked by position -1 and never attended to.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from semcal_jax.models import layers
from semcal_jax.models.config import ModelConfig


class KVCache(NamedTuple):
  """Keys/values of all layers: `k, v [L, B, S, K, Dh]`; `positions [B, S]` of each
  slot (-1 = empty or padding)."""
  k: jax.Array
  v: jax.Array
  positions: jax.Array

  @classmethod
  def empty(cls, cfg: ModelConfig, batch: int, slots: int, dtype) -> "KVCache":
    shape = (cfg.num_layers, batch, slots, cfg.num_kv_heads, cfg.head_dim)
    return cls(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype),
               jnp.full((batch, slots), -1, jnp.int32))

  def repeat(self, n: int) -> "KVCache":
    """Each row repeated n times on the batch axis (prefix shared by n samples)."""
    return KVCache(jnp.repeat(self.k, n, axis=1), jnp.repeat(self.v, n, axis=1),
                   jnp.repeat(self.positions, n, axis=0))

  @property
  def slots(self) -> int:
    return self.positions.shape[1]


class Transformer(nnx.Module):
  """Decoder-only LM. `__call__(tokens [B, T]) -> logits [B, T, V]`."""

  def __init__(self, cfg: ModelConfig, *, dtype=jnp.float32, rngs: nnx.Rngs):
    self.config = cfg
    self.dtype = dtype
    self.embed = nnx.Param(nnx.initializers.normal(0.02)(rngs.params(),
                                                         (cfg.vocab_size, cfg.hidden_size), dtype))

    @nnx.split_rngs(splits=cfg.num_layers)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_blocks(rngs):
      return layers.Block(cfg, dtype=dtype, rngs=rngs)

    self.blocks = make_blocks(rngs)
    self.final_norm = layers.RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps,
                                     offset=cfg.norm_offset, dtype=dtype, rngs=rngs)
    if not cfg.tie_embeddings:
      self.lm_head = nnx.Param(nnx.initializers.normal(0.02)(
          rngs.params(), (cfg.hidden_size, cfg.vocab_size), dtype))

  # Per-layer constants, scanned over with the stacked parameters.
  def layer_tables(self):
    """`(inv_freq [L, Dh/2], window [L])` for the scan over layers."""
    cfg = self.config
    local = jnp.asarray(cfg.layer_is_local())
    glob = layers.rope_inv_freq(cfg.rope, cfg.head_dim)
    loc = layers.rope_inv_freq(cfg.local_rope or cfg.rope, cfg.head_dim)
    inv_freq = jnp.where(local[:, None], loc[None], glob[None])
    window = jnp.where(local, cfg.sliding_window or 0, 0).astype(jnp.int32)
    return inv_freq, window

  def embed_tokens(self, tokens):
    x = jnp.take(self.embed[...], tokens, axis=0)
    scale = self.config.embed_scale
    return x * jnp.asarray(scale, x.dtype) if scale != 1.0 else x

  def hidden_states(self, tokens, positions, cache: KVCache, slot, prefix: KVCache | None = None):
    """Runs all layers; returns `(h [B, T, D] after the final norm, new cache)`.

    Args:
      tokens: `[B, T]` int32; positions: `[B, T]` int32 (-1 = padding).
      cache: KVCache with S >= slot + T slots.
      slot: int32 scalar, cache slot of `tokens[:, 0]`.
      prefix: optional read-only KVCache of P rows (`B % P == 0`) shared by
        consecutive groups of `B // P` rows, e.g. one prompt and its M samples.
    """
    x = self.embed_tokens(tokens)
    k_pos = jax.lax.dynamic_update_slice_in_dim(cache.positions, positions.astype(jnp.int32),
                                                slot, axis=1)
    inv_freq, window = self.layer_tables()
    graphdef, state = nnx.split(self.blocks)

    def body(h, xs):
      layer_state, inv, win, ck, cv, pk, pv = xs
      block = nnx.merge(graphdef, layer_state)
      shared = None if prefix is None else (pk, pv, prefix.positions)
      h, ck, cv = block(h, positions, inv, win, ck, cv, k_pos, slot, shared)
      return h, (ck, cv)

    pk, pv = (None, None) if prefix is None else (prefix.k, prefix.v)
    x, (ck, cv) = jax.lax.scan(body, x, (state, inv_freq, window, cache.k, cache.v, pk, pv))
    return self.final_norm(x), KVCache(ck, cv, k_pos)

  def logits_from_hidden(self, h):
    """`[..., D] -> [..., V]`, in float32."""
    head = self.embed[...].T if self.config.tie_embeddings else self.lm_head[...]
    return layers.dense(h, head).astype(jnp.float32)

  def __call__(self, tokens, positions=None):
    """Full-sequence forward (training, scoring): `tokens [B, T] -> logits [B, T, V]`.

    `positions` defaults to `0..T-1`; pass -1 where a token is padding.
    """
    b, t = tokens.shape
    if positions is None:
      positions = jnp.broadcast_to(jnp.arange(t, dtype=jnp.int32), (b, t))
    cache = KVCache.empty(self.config, b, t, self.dtype)
    h, _ = self.hidden_states(tokens, positions, cache, 0)
    return self.logits_from_hidden(h)

  def step(self, tokens, positions, cache: KVCache, slot, prefix: KVCache | None = None):
    """Sampling forward: writes `tokens [B, T]` at `slot`; returns `(logits [B, T, V], cache)`.

    Prefill is a step with the whole (padded) prompt; decoding is a step with T = 1,
    optionally attending to a shared `prefix` cache (see `hidden_states`).
    """
    h, cache = self.hidden_states(tokens, positions, cache, slot, prefix)
    return self.logits_from_hidden(h), cache


def init_model(cfg: ModelConfig, *, dtype=jnp.float32, seed: int = 0) -> Transformer:
  """A randomly initialised model (tests, synthetic experiments)."""
  return Transformer(cfg, dtype=dtype, rngs=nnx.Rngs(seed))


def abstract_model(cfg: ModelConfig, *, dtype=jnp.float32) -> Transformer:
  """The model's structure with `jax.ShapeDtypeStruct` leaves (no memory)."""
  return nnx.eval_shape(lambda: Transformer(cfg, dtype=dtype, rngs=nnx.Rngs(0)))


__all__ = ["KVCache", "Transformer", "init_model", "abstract_model"]
