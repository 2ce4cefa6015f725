"""Building blocks of the decoder: RMSNorm, RoPE, attention with a KV cache, MLP.

Shapes: B batch, T new tokens, S cache slots (keys), D hidden, H query heads,
K key/value heads, G = H / K, Dh head dim, F MLP width.

Numerics follow `transformers` in float32: norms and softmax are computed in
float32 whatever the parameter dtype; the rest runs in the parameter dtype.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from semcal_jax.models.config import ModelConfig, RopeConfig

_INIT = nnx.initializers.normal(0.02)
NEG_INF = -2.3819763e38  # large finite negative, as in gemma/transformers masks


def _param(rngs, shape, dtype, init=_INIT):
  return nnx.Param(init(rngs.params(), shape, dtype))


class RMSNorm(nnx.Module):
  """`x / rms(x) * (offset + scale)`, computed in float32 (offset 1 for Gemma)."""

  def __init__(self, dim: int, *, eps: float, offset: float, dtype, rngs: nnx.Rngs):
    self.scale = nnx.Param(jnp.full((dim,), 1.0 - offset, dtype))
    self.eps = eps
    self.offset = offset

  def __call__(self, x):
    dtype = x.dtype
    x = x.astype(jnp.float32)
    x = x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + self.eps)
    scale = self.scale[...].astype(jnp.float32) + self.offset
    if self.offset:  # gemma: (x * (1 + w)).type_as(x)
      return (x * scale).astype(dtype)
    return scale.astype(dtype) * x.astype(dtype)  # llama: w * x.to(input_dtype)


def rope_inv_freq(rope: RopeConfig, head_dim: int) -> jax.Array:
  """Inverse frequencies `[Dh/2]` (float32), with linear or Llama-3 scaling."""
  inv = 1.0 / (rope.theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim))
  if rope.kind == "linear":
    inv = inv / rope.factor
  elif rope.kind == "llama3":
    low_wavelen = rope.original_max_position / rope.low_freq_factor
    high_wavelen = rope.original_max_position / rope.high_freq_factor
    wavelen = 2 * math.pi / inv
    scaled = jnp.where(wavelen > low_wavelen, inv / rope.factor, inv)
    smooth = (rope.original_max_position / wavelen - rope.low_freq_factor) / (
        rope.high_freq_factor - rope.low_freq_factor)
    smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled
    medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    inv = jnp.where(medium, smoothed, scaled)
  return inv


def apply_rope(x, positions, inv_freq):
  """Rotary embedding, HF layout (halves, `rotate_half`).

  Args:
    x: `[B, T, N, Dh]`; positions: `[B, T]` int; inv_freq: `[Dh/2]` float32.
  """
  angles = positions[..., None].astype(jnp.float32) * inv_freq  # [B, T, Dh/2]
  emb = jnp.concatenate([angles, angles], axis=-1)[:, :, None, :]
  cos, sin = jnp.cos(emb).astype(x.dtype), jnp.sin(emb).astype(x.dtype)
  half = x.shape[-1] // 2
  rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
  return x * cos + rotated * sin


class Attention(nnx.Module):
  """Grouped-query attention with optional q/k/v bias, q/k norm and sliding window."""

  def __init__(self, cfg: ModelConfig, *, dtype, rngs: nnx.Rngs):
    d, h, k, dh = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    self.q = _param(rngs, (d, h, dh), dtype)
    self.k = _param(rngs, (d, k, dh), dtype)
    self.v = _param(rngs, (d, k, dh), dtype)
    self.o = _param(rngs, (h, dh, d), dtype)
    if cfg.qkv_bias:
      zeros = nnx.initializers.zeros
      self.q_bias = _param(rngs, (h, dh), dtype, zeros)
      self.k_bias = _param(rngs, (k, dh), dtype, zeros)
      self.v_bias = _param(rngs, (k, dh), dtype, zeros)
    if cfg.qk_norm:
      norm = dict(eps=cfg.rms_norm_eps, offset=cfg.norm_offset, dtype=dtype, rngs=rngs)
      self.q_norm = RMSNorm(dh, **norm)
      self.k_norm = RMSNorm(dh, **norm)
    self.qkv_bias = cfg.qkv_bias
    self.qk_norm = cfg.qk_norm
    self.scale = cfg.attn_scale
    self.groups = h // k

  def __call__(self, x, positions, inv_freq, window, cache_k, cache_v, k_pos, slot):
    """One attention layer over `T` new tokens written into the cache at `slot`.

    Args:
      x: `[B, T, D]`; positions: `[B, T]` (-1 for padding).
      inv_freq: `[Dh/2]` RoPE frequencies of this layer.
      window: int32 scalar, sliding window (0 = global attention).
      cache_k, cache_v: `[B, S, K, Dh]` this layer's cache.
      k_pos: `[B, S]` position of each cache slot after the write (-1 = empty).
      slot: int32 scalar, first cache slot written.

    Returns:
      `(out [B, T, D], cache_k, cache_v)`.
    """
    q = jnp.einsum("btd,dhk->bthk", x, self.q[...])
    k = jnp.einsum("btd,dnk->btnk", x, self.k[...])
    v = jnp.einsum("btd,dnk->btnk", x, self.v[...])
    if self.qkv_bias:
      q, k, v = q + self.q_bias[...], k + self.k_bias[...], v + self.v_bias[...]
    if self.qk_norm:
      q, k = self.q_norm(q), self.k_norm(k)
    pos = jnp.maximum(positions, 0)
    q = apply_rope(q, pos, inv_freq)
    k = apply_rope(k, pos, inv_freq)
    cache_k = jax.lax.dynamic_update_slice_in_dim(cache_k, k.astype(cache_k.dtype), slot, axis=1)
    cache_v = jax.lax.dynamic_update_slice_in_dim(cache_v, v.astype(cache_v.dtype), slot, axis=1)
    b, t, h, dh = q.shape
    kv = cache_k.shape[2]
    qg = q.reshape(b, t, kv, self.groups, dh)
    logits = jnp.einsum("btkgd,bskd->bkgts", qg, cache_k.astype(q.dtype)).astype(jnp.float32)
    logits = logits * self.scale
    qp, kp = positions[:, :, None], k_pos[:, None, :]  # [B, T, 1], [B, 1, S]
    mask = (kp >= 0) & (kp <= qp) & ((window <= 0) | (qp - kp < window))
    logits = jnp.where(mask[:, None, None], logits, NEG_INF)
    probs = jax.nn.softmax(logits, axis=-1).astype(q.dtype)
    out = jnp.einsum("bkgts,bskd->btkgd", probs, cache_v.astype(q.dtype)).reshape(b, t, h, dh)
    return jnp.einsum("bthk,hkd->btd", out, self.o[...]), cache_k, cache_v


class MLP(nnx.Module):
  """Gated MLP: `down(act(gate(x)) * up(x))`, SiLU or GeLU(tanh)."""

  def __init__(self, cfg: ModelConfig, *, dtype, rngs: nnx.Rngs):
    d, f = cfg.hidden_size, cfg.intermediate_size
    self.gate = _param(rngs, (d, f), dtype)
    self.up = _param(rngs, (d, f), dtype)
    self.down = _param(rngs, (f, d), dtype)
    self.activation = cfg.activation

  def __call__(self, x):
    gate = x @ self.gate[...]
    if self.activation == "silu":
      gate = jax.nn.silu(gate)
    else:
      gate = jax.nn.gelu(gate, approximate=True)
    return (gate * (x @ self.up[...])) @ self.down[...]


class Block(nnx.Module):
  """Pre-norm decoder block (Gemma adds post-norms on both branches)."""

  def __init__(self, cfg: ModelConfig, *, dtype, rngs: nnx.Rngs):
    norm = dict(eps=cfg.rms_norm_eps, offset=cfg.norm_offset, dtype=dtype, rngs=rngs)
    d = cfg.hidden_size
    self.input_norm = RMSNorm(d, **norm)
    self.attn = Attention(cfg, dtype=dtype, rngs=rngs)
    self.pre_mlp_norm = RMSNorm(d, **norm)
    self.mlp = MLP(cfg, dtype=dtype, rngs=rngs)
    if cfg.sandwich_norm:
      self.post_attn_norm = RMSNorm(d, **norm)
      self.post_mlp_norm = RMSNorm(d, **norm)
    self.sandwich = cfg.sandwich_norm

  def __call__(self, x, positions, inv_freq, window, cache_k, cache_v, k_pos, slot):
    h, cache_k, cache_v = self.attn(self.input_norm(x), positions, inv_freq, window, cache_k,
                                    cache_v, k_pos, slot)
    if self.sandwich:
      h = self.post_attn_norm(h)
    x = x + h
    h = self.mlp(self.pre_mlp_norm(x))
    if self.sandwich:
      h = self.post_mlp_norm(h)
    return x + h, cache_k, cache_v
