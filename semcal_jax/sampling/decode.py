"""The jitted part of sampling: prefill once, then M samples per prompt.

For a batch of P prompts and R = P * M rows:

1. `prefill` (one compilation per prompt bucket): the left-padded prompts
   `[P, T]` into a prompt cache, and the first token of each of the M samples
   drawn from one shared CDF per prompt.
2. `decode`: a `lax.while_loop` over new tokens for all R rows, each
   step attending to the shared prompt cache (never repeated M times) and to a
   per-row cache of generated tokens, with per-row done flags. It stops after
   `until` steps or when every row is done.
3. Rows finish at different times (most answers are a few tokens). When at
   most half of the rows are still running, the host compacts them
   (`compact`): the running rows, each with its own row of the prompt cache,
   and `decode` continues on the smaller batch. Because matmuls and
   reductions are batch-invariant (`models.layers.batch_invariant`), a row's
   samples are bit-identical whatever batch it ends up in.

Randomness: row r = (question q, sample m) draws its t-th token with
`uniform(fold_in(key_r, t))`, `key_r = fold_in(fold_in(key(seed), q), m)`, so
samples do not depend on batch size, batch composition or device count.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from semcal_jax.models import layers
from semcal_jax.models.transformer import KVCache
from semcal_jax.sampling.distributions import SamplingParams, next_token, next_tokens

RUNNING, STOP_TOKEN, STOP_STRING, LENGTH = 0, 1, 2, 3
FINISH_REASONS = {STOP_TOKEN: "stop_token", STOP_STRING: "stop_string", LENGTH: "length"}


@dataclasses.dataclass(frozen=True)
class DecodeSpec:
  """Static sampling parameters of the compiled functions."""
  num_samples: int
  max_new_tokens: int
  params: SamplingParams
  has_stop_strings: bool
  row_chunk: int | None = 64  # batch-invariant matmuls (see models.layers.batch_invariant)


class Rows(NamedTuple):
  """Per-row decoding state (R rows, N = max_new_tokens)."""
  keys: jax.Array  # [R] PRNG keys
  tokens: jax.Array  # [R, N] generated ids (0 past the end)
  logprobs: jax.Array  # [R, N]
  lengths: jax.Array  # [R] tokens so far, including the one that ended the row
  done: jax.Array  # [R] bool
  reason: jax.Array  # [R] int32 finish reason (RUNNING while not done)
  automaton: jax.Array  # [R] stop-string automaton state
  next_pos: jax.Array  # [R] position of the next token fed to the model
  cache: KVCache  # [L, R, S, ...]: generated tokens (shared mode) or prompt + generated


def sample_keys(seed: int, question_ids, num_samples: int):
  """`[Q * M]` keys: `fold_in(fold_in(key(seed), q), m)`, rows question-major."""
  base = jax.random.key(seed)
  per_q = jax.vmap(lambda q: jax.random.fold_in(base, q))(jnp.asarray(question_ids, jnp.uint32))
  per_row = jax.vmap(lambda k: jax.vmap(lambda m: jax.random.fold_in(k, m))(
      jnp.arange(num_samples, dtype=jnp.uint32)))(per_q)
  return per_row.reshape(-1)


def _uniforms(keys, step):
  return jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, step)))(keys)


def _finish(spec, tok, rows_done, reason, ast, stop_ids, next_state, hit):
  stop_tok = jnp.any(tok[:, None] == stop_ids[None, :], axis=-1)
  if spec.has_stop_strings:
    hit_now = hit[tok, ast]
    ast = next_state[tok, ast]
  else:
    hit_now = jnp.zeros_like(stop_tok)
  new_reason = jnp.where(stop_tok, STOP_TOKEN, jnp.where(hit_now, STOP_STRING, RUNNING))
  reason = jnp.where(rows_done, reason, new_reason)
  return rows_done | (new_reason != RUNNING), reason, ast


@functools.partial(jax.jit, static_argnums=(0, 1))
def prefill(graphdef, spec: DecodeSpec, state, tokens, positions, keys, stop_ids, next_state, hit):
  """Prompt cache and first tokens.

  Args:
    graphdef, state: `nnx.split(model)`.
    tokens: `[P, T]` left-padded prompt ids; positions: `[P, T]` (-1 on padding).
    keys: `[P * M]` PRNG keys, rows question-major.
    stop_ids: `[n]` ids that end a row (pad with -1); next_state, hit: `[V, S]`
      stop-string automaton tables (unused without stop strings).

  Returns:
    `(prefix KVCache [P, T], Rows)`; the Rows cache holds N slots of generated tokens.
  """
  with layers.batch_invariant(spec.row_chunk):
    model = nnx.merge(graphdef, state)
    cfg = model.config
    p, t = tokens.shape
    m, n = spec.num_samples, spec.max_new_tokens
    r = p * m
    prefix = KVCache.empty(cfg, p, t, model.dtype)
    h, prefix = model.hidden_states(tokens, positions, prefix, 0)
    first_logits = model.logits_from_hidden(h[:, -1])  # [P, V]
    # The M first tokens of a prompt share its distribution: one CDF, M draws.
    tok0, lp0 = next_tokens(first_logits, _uniforms(keys, 0).reshape(p, m), spec.params)
    tok0, lp0 = tok0.reshape(r), lp0.reshape(r)
    done, reason, ast = _finish(spec, tok0, jnp.zeros((r,), bool), jnp.zeros((r,), jnp.int32),
                                jnp.zeros((r,), jnp.int32), stop_ids, next_state, hit)
    rows = Rows(keys=keys,
                tokens=jnp.zeros((r, n), jnp.int32).at[:, 0].set(tok0),
                logprobs=jnp.zeros((r, n), jnp.float32).at[:, 0].set(lp0),
                lengths=jnp.ones((r,), jnp.int32), done=done, reason=reason, automaton=ast,
                next_pos=jnp.repeat(jnp.max(positions, axis=-1) + 1, m),
                cache=KVCache.empty(cfg, r, n, model.dtype))
  return prefix, rows


def _loop(graphdef, spec, state, rows: Rows, step, until, prefix, stop_ids, next_state, hit):
  """Decodes from `step` (the index of the next token) until `until` or all done."""
  model = nnx.merge(graphdef, state)
  n = spec.max_new_tokens

  def cond(carry):
    step, rows = carry
    return (step < jnp.minimum(until, n)) & ~jnp.all(rows.done)

  def body(carry):
    step, rows = carry
    last = jnp.take_along_axis(rows.tokens, (step - 1) * jnp.ones_like(rows.lengths)[:, None],
                               axis=1)
    logits, cache = model.step(last, rows.next_pos[:, None], rows.cache, step - 1, prefix)
    tok, lp = next_token(logits[:, 0], _uniforms(rows.keys, step), spec.params)
    tok = jnp.where(rows.done, 0, tok)
    lp = jnp.where(rows.done, 0.0, lp)
    done, reason, ast = _finish(spec, tok, rows.done, rows.reason, rows.automaton, stop_ids,
                                next_state, hit)
    rows = rows._replace(
        tokens=jax.lax.dynamic_update_index_in_dim(rows.tokens, tok, step, 1),
        logprobs=jax.lax.dynamic_update_index_in_dim(rows.logprobs, lp, step, 1),
        lengths=jnp.where(rows.done, rows.lengths, step + 1), done=done, reason=reason,
        automaton=ast, next_pos=rows.next_pos + 1, cache=cache)
    return step + 1, rows

  step, rows = jax.lax.while_loop(cond, body, (step, rows))
  return step, rows


@functools.partial(jax.jit, static_argnums=(0, 1), donate_argnums=(3,))
def decode(graphdef, spec: DecodeSpec, state, rows: Rows, step, until, prefix, stop_ids,
           next_state, hit):
  """Decode from token `step` until `until` or all rows are done.

  `prefix [P, T]` is the read-only prompt cache; each of its rows serves
  `R // P` consecutive rows (M before compaction, 1 after). `rows` is donated:
  its small generated-token cache is updated in place."""
  with layers.batch_invariant(spec.row_chunk):
    return _loop(graphdef, spec, state, rows, step, until, prefix, stop_ids, next_state, hit)


@functools.partial(jax.jit, static_argnums=(3,))
def compact(rows: Rows, prefix: KVCache, index, group: int):
  """The rows `index [size]` of a batch (repeat an index to pad), with a prompt
  cache of one row per kept row (`group` = rows per prompt row before)."""
  take = lambda a, axis=0: jnp.take(a, index, axis=axis)
  owner = index // group
  prefix = KVCache(jnp.take(prefix.k, owner, axis=1), jnp.take(prefix.v, owner, axis=1),
                   jnp.take(prefix.positions, owner, axis=0))
  cache = KVCache(take(rows.cache.k, 1), take(rows.cache.v, 1), take(rows.cache.positions))
  return Rows(keys=take(rows.keys), tokens=take(rows.tokens), logprobs=take(rows.logprobs),
              lengths=take(rows.lengths), done=take(rows.done), reason=take(rows.reason),
              automaton=take(rows.automaton), next_pos=take(rows.next_pos), cache=cache), prefix
