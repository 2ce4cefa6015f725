"""Building blocks of the decoder: RMSNorm, RoPE, attention with a KV cache, MLP.

Shapes: B batch, T new tokens, S cache slots (keys), D hidden, H query heads,
K key/value heads, G = H / K, Dh head dim, F MLP width.

Numerics follow `transformers` in float32: norms and softmax are computed in
float32 whatever the parameter dtype; the rest runs in the parameter dtype.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import math

import jax
import jax.numpy as jnp
from flax import nnx

from semcal_jax.models.config import ModelConfig, RopeConfig

_INIT = nnx.initializers.normal(0.02)
NEG_INF = -2.3819763e38  # large finite negative, as in gemma/transformers masks


# Row-chunk size of batch-invariant matmuls (None = plain matmuls). Read at trace time.
_ROW_CHUNK: contextvars.ContextVar[int | None] = contextvars.ContextVar("row_chunk", default=None)


@contextlib.contextmanager
def batch_invariant(row_chunk: int | None):
  """Within this context (at trace time), every projection multiplies rows in
  chunks of exactly `row_chunk`, so a row's result never depends on how many
  other rows share the batch or the device. CPU and accelerator GEMM kernels
  pick their blocking from the matrix shape, which otherwise changes the
  floating-point summation order (and so the sampled tokens) with the batch."""
  token = _ROW_CHUNK.set(row_chunk)
  try:
    yield
  finally:
    _ROW_CHUNK.reset(token)


def dense(x, w):
  """`x [..., D] @ w [D, ...] -> [..., ...]`, batch-invariant inside `batch_invariant`."""
  lead, d = x.shape[:-1], x.shape[-1]
  out_shape = w.shape[1:]
  w2 = w.reshape(d, -1)
  chunk = _ROW_CHUNK.get()
  rows = x.reshape(-1, d)
  if chunk is None:
    out = rows @ w2
  else:
    n = rows.shape[0]
    padded = jnp.pad(rows, ((0, (-n) % chunk), (0, 0)))
    out = jax.lax.map(lambda c: c @ w2, padded.reshape(-1, chunk, d)).reshape(-1, w2.shape[1])[:n]
  return out.reshape(lead + out_shape)


def dense_many(x, ws):
  """`[dense(x, w) for w in ws]` (each `w [D, ...]`), as one GEMM over the
  concatenated weights when x holds many tokens per row (`[B, T > 1, D]`,
  training and scoring), where one wide GEMM runs nearer peak than several
  narrow ones. A decode step (T = 1) keeps separate GEMMs, since concatenating
  would copy the weights once per generated token, and so does batch-invariant
  mode, whose row blocks must not change with the weights' layout."""
  fuse = x.ndim == 3 and x.shape[1] > 1 and _ROW_CHUNK.get() is None
  if not fuse:
    return tuple(dense(x, w) for w in ws)
  d = x.shape[-1]
  widths = [math.prod(w.shape[1:]) for w in ws]
  out = dense(x, jnp.concatenate([w.reshape(d, -1) for w in ws], axis=1))
  parts = jnp.split(out, list(itertools.accumulate(widths))[:-1], axis=-1)
  return tuple(p.reshape(x.shape[:-1] + w.shape[1:]) for p, w in zip(parts, ws))


def rowwise(fn, *xs):
  """`fn` applied to rows: `xs` share leading dims `[...]`; `fn` maps `[C, *trail]`
  arrays to `[C, *out]`. Inside `batch_invariant` the rows go through `fn` in
  blocks of exactly the chunk size (XLA's reductions, like its GEMMs, pick
  their vectorisation from the shape), outside it `fn` sees all rows at once."""
  chunk = _ROW_CHUNK.get()
  lead = xs[0].shape[:-1] if xs[0].ndim else ()
  flat = [x.reshape((-1,) + x.shape[len(lead):]) for x in xs]
  n = flat[0].shape[0]
  if chunk is None:
    out = fn(*flat)
  else:
    pad = (-n) % chunk
    blocks = [jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)).reshape(
        (-1, chunk) + x.shape[1:]) for x in flat]
    out = jax.tree.map(lambda o: o.reshape((-1,) + o.shape[2:])[:n],
                       jax.lax.map(lambda b: fn(*b), blocks))
  return jax.tree.map(lambda o: o.reshape(lead + o.shape[1:]), out)


def _param(rngs, shape, dtype, init=_INIT):
  return nnx.Param(init(rngs.params(), shape, dtype))


class RMSNorm(nnx.Module):
  """`x / rms(x) * (offset + scale)`, computed in float32 (offset 1 for Gemma)."""

  def __init__(self, dim: int, *, eps: float, offset: float, dtype, rngs: nnx.Rngs):
    self.scale = nnx.Param(jnp.full((dim,), 1.0 - offset, dtype))
    self.eps = eps
    self.offset = offset

  def _normalize(self, x):
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + self.eps)

  def __call__(self, x):
    dtype = x.dtype
    x = rowwise(self._normalize, x.astype(jnp.float32))
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

  def __call__(self, x, positions, inv_freq, window, cache_k, cache_v, k_pos, slot,
               prefix=None):
    """One attention layer over `T` new tokens written into the cache at `slot`.

    Args:
      x: `[B, T, D]`; positions: `[B, T]` (-1 for padding).
      inv_freq: `[Dh/2]` RoPE frequencies of this layer.
      window: int32 scalar, sliding window (0 = global attention).
      cache_k, cache_v: `[B, S, K, Dh]` this layer's cache.
      k_pos: `[B, S]` position of each cache slot after the write (-1 = empty).
      slot: int32 scalar, first cache slot written.
      prefix: optional `(pk, pv, ppos)` = `[P, Sp, K, Dh]` x2 and `[P, Sp]`, a
        read-only cache shared by groups of `B // P` consecutive rows (the
        prompt of M samples): attended to as if it preceded each row's cache,
        without being repeated M times.

    Returns:
      `(out [B, T, D], cache_k, cache_v)`.
    """
    q, k, v = dense_many(x, (self.q[...], self.k[...], self.v[...]))
    if self.qkv_bias:
      q, k, v = q + self.q_bias[...], k + self.k_bias[...], v + self.v_bias[...]
    if self.qk_norm:
      q, k = self.q_norm(q), self.k_norm(k)
    pos = jnp.maximum(positions, 0)
    q = apply_rope(q, pos, inv_freq)
    k = apply_rope(k, pos, inv_freq)
    if isinstance(slot, int) and slot == 0 and cache_k.shape[1] == k.shape[1]:
      # The new tokens fill the whole cache (training, scoring): no update op,
      # so the backward pass does not route gradients through one.
      cache_k, cache_v = k.astype(cache_k.dtype), v.astype(cache_v.dtype)
    else:
      cache_k = jax.lax.dynamic_update_slice_in_dim(cache_k, k.astype(cache_k.dtype), slot, axis=1)
      cache_v = jax.lax.dynamic_update_slice_in_dim(cache_v, v.astype(cache_v.dtype), slot, axis=1)
    b, t, h, dh = q.shape
    kv = cache_k.shape[2]
    g = self.groups
    qg = q.reshape(b, t, kv, g, dh)
    logits = _scores(qg, cache_k.astype(q.dtype)).astype(jnp.float32)  # [B, K, G, T, S]
    logits = jnp.where(_mask(positions, k_pos, window)[:, None, None], logits * self.scale,
                       NEG_INF)
    if prefix is None:
      probs = rowwise(_softmax, logits).astype(q.dtype)
      out = _weighted(probs, cache_v.astype(q.dtype))
    else:
      pk, pv, ppos = prefix
      groups = pk.shape[0]
      qp = qg.reshape(groups, b // groups, t, kv, g, dh)
      plog = _prefix_scores(qp, pk.astype(q.dtype)).astype(jnp.float32)  # [P, M, K, G, T, Sp]
      pmask = _mask(positions.reshape(groups, b // groups, t), ppos[:, None], window)
      plog = jnp.where(pmask[:, :, None, None], plog * self.scale, NEG_INF)
      plog = plog.reshape(b, kv, g, t, -1)
      probs = rowwise(_softmax, jnp.concatenate([plog, logits], axis=-1)).astype(q.dtype)
      sp = pk.shape[1]
      pp = probs[..., :sp].reshape(groups, b // groups, kv, g, t, sp)
      out = (_prefix_weighted(pp, pv.astype(q.dtype)).reshape(b, t, kv, g, dh)
             + _weighted(probs[..., sp:], cache_v.astype(q.dtype)))
    return dense(out.reshape(b, t, h * dh), self.o[...].reshape(h * dh, -1)), cache_k, cache_v


def _softmax(x):
  return jax.nn.softmax(x, axis=-1)


# Attention products as batched GEMMs with the batch axes leading and the G
# query heads of a KV head folded into the rows (`[B, K, G*T, Dh] @ [B, K, Dh, S]`):
# the same sums as the grouped einsums, in the layout CPU and TPU GEMMs run best.
def _scores(q, k):
  """`q [B, T, K, G, Dh]`, `k [B, S, K, Dh]` -> `[B, K, G, T, S]`."""
  b, t, kv, g, dh = q.shape
  rows = q.transpose(0, 2, 3, 1, 4).reshape(b, kv, g * t, dh)
  return (rows @ k.transpose(0, 2, 3, 1)).reshape(b, kv, g, t, -1)


def _weighted(probs, v):
  """`probs [B, K, G, T, S]`, `v [B, S, K, Dh]` -> `[B, T, K, G, Dh]`."""
  b, kv, g, t, s = probs.shape
  out = probs.reshape(b, kv, g * t, s) @ v.transpose(0, 2, 1, 3)
  return out.reshape(b, kv, g, t, -1).transpose(0, 3, 1, 2, 4)


def _prefix_scores(q, pk):
  """`q [P, M, T, K, G, Dh]`, `pk [P, Sp, K, Dh]` -> `[P, M, K, G, T, Sp]`."""
  p, m, t, kv, g, dh = q.shape
  rows = q.transpose(0, 3, 1, 4, 2, 5).reshape(p, kv, m * g * t, dh)
  out = (rows @ pk.transpose(0, 2, 3, 1)).reshape(p, kv, m, g, t, -1)
  return out.transpose(0, 2, 1, 3, 4, 5)


def _prefix_weighted(probs, pv):
  """`probs [P, M, K, G, T, Sp]`, `pv [P, Sp, K, Dh]` -> `[P, M, T, K, G, Dh]`."""
  p, m, kv, g, t, sp = probs.shape
  rows = probs.transpose(0, 2, 1, 3, 4, 5).reshape(p, kv, m * g * t, sp)
  out = (rows @ pv.transpose(0, 2, 1, 3)).reshape(p, kv, m, g, t, -1)
  return out.transpose(0, 2, 4, 1, 3, 5)


def _mask(q_pos, k_pos, window):
  """Causal, valid-key and sliding-window mask `[..., T, S]` from `[..., T]`, `[..., S]`."""
  qp, kp = q_pos[..., :, None], k_pos[..., None, :]
  return (kp >= 0) & (kp <= qp) & ((window <= 0) | (qp - kp < window))


class MLP(nnx.Module):
  """Gated MLP: `down(act(gate(x)) * up(x))`, SiLU or GeLU(tanh)."""

  def __init__(self, cfg: ModelConfig, *, dtype, rngs: nnx.Rngs):
    d, f = cfg.hidden_size, cfg.intermediate_size
    self.gate = _param(rngs, (d, f), dtype)
    self.up = _param(rngs, (d, f), dtype)
    self.down = _param(rngs, (f, d), dtype)
    self.activation = cfg.activation

  def __call__(self, x):
    gate, up = dense_many(x, (self.gate[...], self.up[...]))
    if self.activation == "silu":
      gate = jax.nn.silu(gate)
    else:
      gate = jax.nn.gelu(gate, approximate=True)
    return dense(gate * up, self.down[...])


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

  def __call__(self, x, positions, inv_freq, window, cache_k, cache_v, k_pos, slot,
               prefix=None):
    h, cache_k, cache_v = self.attn(self.input_norm(x), positions, inv_freq, window, cache_k,
                                    cache_v, k_pos, slot, prefix)
    if self.sandwich:
      h = self.post_attn_norm(h)
    x = x + h
    h = self.mlp(self.pre_mlp_norm(x))
    if self.sandwich:
      h = self.post_mlp_norm(h)
    return x + h, cache_k, cache_v
