"""Next-token distributions: temperature, top-k, top-p, min-p, and exact draws.

All functions work on `logits [R, V]` (float32) and are jit-able. Truncation
follows `transformers`' logits warpers (top-k keeps ties with the k-th value;
top-p keeps the smallest set of most likely tokens whose mass reaches p, at
least one; min-p keeps tokens with p >= min_p * p_max). The draw is by
inverse CDF with one uniform per row, computed in two levels (blocks of the
vocabulary, then tokens inside the chosen block) so that a 262k vocabulary
needs no sort and no per-token random numbers. The log-probability returned
for a token is always that of the untruncated tempered distribution.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from semcal_jax.models import layers

_BLOCK = 512  # vocabulary block of the two-level inverse CDF


@dataclasses.dataclass(frozen=True)
class SamplingParams:
  """How to pick the next token (static under jit)."""
  temperature: float = 1.0
  top_k: int | None = None
  top_p: float | None = None
  min_p: float | None = None
  greedy: bool = False

  def __post_init__(self):
    if not self.greedy and not self.temperature > 0:
      raise ValueError(f"temperature: must be > 0 (or greedy=True), got {self.temperature!r}")
    if self.top_k is not None and (isinstance(self.top_k, bool) or int(self.top_k) < 1):
      raise ValueError(f"top_k: must be a positive integer, got {self.top_k!r}")
    if self.top_p is not None and not 0 < self.top_p <= 1:
      raise ValueError(f"top_p: must be in (0, 1], got {self.top_p!r}")
    if self.min_p is not None and not 0 <= self.min_p <= 1:
      raise ValueError(f"min_p: must be in [0, 1], got {self.min_p!r}")

  @property
  def truncated(self) -> bool:
    return bool(self.top_k or (self.top_p is not None and self.top_p < 1) or self.min_p)


def truncate(logits, params: SamplingParams):
  """Tempered logits with truncated tokens set to -inf: `[R, V]`."""
  x = logits / params.temperature
  if params.top_k:
    kth = jax.lax.top_k(x, min(int(params.top_k), x.shape[-1]))[0][..., -1:]
    x = jnp.where(x < kth, -jnp.inf, x)
  if params.min_p:
    p = jax.nn.softmax(x, axis=-1)
    keep = p >= params.min_p * jnp.max(p, axis=-1, keepdims=True)
    x = jnp.where(keep, x, -jnp.inf)
  if params.top_p is not None and params.top_p < 1:
    x = _top_p(x, params.top_p)
  return x


def _top_p(x, top_p):
  """transformers' TopPLogitsWarper: drop tokens whose ascending cumulative mass
  is <= 1 - top_p, keeping at least the most likely one."""
  order = jnp.argsort(x, axis=-1)  # ascending
  sorted_x = jnp.take_along_axis(x, order, axis=-1)
  cum = jnp.cumsum(jax.nn.softmax(sorted_x, axis=-1), axis=-1)
  drop_sorted = cum <= 1 - top_p
  drop_sorted = drop_sorted.at[..., -1].set(False)
  drop = jnp.zeros_like(drop_sorted).at[jnp.arange(x.shape[0])[:, None], order].set(drop_sorted)
  return jnp.where(drop, -jnp.inf, x)


def inverse_cdf(logits, u, probs=None):
  """Exact categorical draws from `softmax(logits) [R, V]` with uniforms `u [R, K]`:
  K draws per row, `[R, K]` int32, sharing one CDF per row. `probs` (unnormalised
  is fine) may be passed instead of recomputing the softmax.

  Two levels: pick a block of `_BLOCK` tokens by its mass, then a token in it.
  """
  r, v = logits.shape
  pad = (-v) % _BLOCK
  p = jax.nn.softmax(logits, axis=-1) if probs is None else probs
  p = jnp.pad(p, ((0, 0), (0, pad))).reshape(r, -1, _BLOCK)
  cum = jnp.cumsum(jnp.sum(p, axis=-1), axis=-1)  # [R, NB]
  target = u * cum[:, -1:]  # [R, K]
  block = jnp.minimum(jnp.sum(cum[:, None, :] <= target[..., None], axis=-1), cum.shape[-1] - 1)
  before = jnp.where(block > 0, jnp.take_along_axis(cum, jnp.maximum(block - 1, 0), axis=-1), 0.0)
  inner = jnp.take_along_axis(p, block[..., None], axis=1)  # [R, K, BLOCK]
  inner_cum = jnp.cumsum(inner, axis=-1)
  rest = target - before
  # Last token with positive mass, so that rounding can never pick a zero-probability token.
  last = _BLOCK - 1 - jnp.argmax(inner[..., ::-1] > 0, axis=-1)
  pos = jnp.minimum(jnp.sum(inner_cum <= rest[..., None], axis=-1), last)
  return (block * _BLOCK + pos).astype(jnp.int32)


def next_tokens(logits, u, params: SamplingParams):
  """K draws per row: `logits [R, V]`, `u [R, K]` -> `(tokens [R, K] int32,
  logprobs [R, K] float32)`, the log-probabilities under the untruncated
  tempered distribution. Greedy ignores `u` (all K are the argmax).

  Rows are processed by `models.layers.rowwise`, so inside
  `batch_invariant` a row's draw does not depend on the other rows."""
  return layers.rowwise(functools.partial(_next_tokens, params=params), logits, u)


def _next_tokens(logits, u, params: SamplingParams):
  logits = logits.astype(jnp.float32)
  temperature = params.temperature if params.temperature > 0 else 1.0
  z = logits / temperature
  top = jnp.max(z, axis=-1, keepdims=True)
  e = jnp.exp(z - top)  # one exp pass serves the draw and the log-probabilities
  log_norm = top + jnp.log(jnp.sum(e, axis=-1, keepdims=True))
  if params.greedy:
    token = jnp.broadcast_to(jnp.argmax(logits, axis=-1)[:, None], u.shape).astype(jnp.int32)
  elif params.truncated:
    token = inverse_cdf(truncate(logits, params), u)
  else:
    token = inverse_cdf(z, u, probs=e)
  return token, jnp.take_along_axis(z, token, axis=-1) - log_norm


def next_token(logits, u, params: SamplingParams):
  """One draw per row: `logits [R, V]`, `u [R]` -> `(token [R], logprob [R])`."""
  token, logprob = next_tokens(logits, u[:, None], params)
  return token[:, 0], logprob[:, 0]
