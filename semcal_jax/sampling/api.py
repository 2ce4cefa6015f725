"""`sample()`: M answers to each prompt, from text in to texts, ids and log-probs out.

Host side of sampling: tokenise, sort prompts by length into fixed-size batches
(the last one padded with dummy prompts), pad each batch to the bucket of its
longest prompt (powers of two, or configured buckets; one compilation per
bucket), place rows on the mesh's 'data' axis, run `decode.prefill` and
`decode.decode` (compacting finished rows away), and turn the device arrays
into texts cut at stop strings.

Multi-host (Cloud TPU pods), after `multihost.initialize`, two ways:
- a mesh of each host's local devices: every host samples its own share of the
  questions (`host_share`), results are merged by question id afterwards (the
  pipeline does this), and hosts never wait on each other;
- one mesh over the devices of several hosts (a model too large for one host,
  sharded over 'model' across them): every host calls `sample` with the same
  prompts, rows are spread over the devices of all hosts, and the results are
  gathered with `multihost.to_host` so that every host returns all of them.
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm import tqdm

from semcal_jax import multihost
from semcal_jax.models import sharding as sharding_lib
from semcal_jax.sampling import decode, stopping
from semcal_jax.sampling.distributions import SamplingParams

MIN_BUCKET = 16


@dataclasses.dataclass
class SampleResult:
  """Samples of Q prompts x M samples.

  `tokens [Q, M, N]` holds the generated ids (padding past `lengths [Q, M]`),
  including the token that ended a sample (a stop token, or the token that
  completed a stop string); `logprobs [Q, M, N]` are their log-probabilities
  under the untruncated tempered distribution. `texts[q][m]` is the decoded
  answer with the stop string / stop token and everything after it removed.
  `finish_reasons[q][m]` is "stop_string", "stop_token" or "length".
  """
  texts: list[list[str]]
  tokens: np.ndarray
  logprobs: np.ndarray
  lengths: np.ndarray
  finish_reasons: list[list[str]]
  prompt_lengths: np.ndarray
  stats: dict[str, Any]

  @property
  def token_ids(self) -> list[list[np.ndarray]]:
    return [[self.tokens[q, m, :self.lengths[q, m]] for m in range(self.tokens.shape[1])]
            for q in range(self.tokens.shape[0])]

  @property
  def token_logprobs(self) -> list[list[np.ndarray]]:
    return [[self.logprobs[q, m, :self.lengths[q, m]] for m in range(self.tokens.shape[1])]
            for q in range(self.tokens.shape[0])]


def host_share(n: int, host: int | None = None, hosts: int | None = None) -> list[int]:
  """Indices of the `n` questions host `host` of `hosts` samples: `i % hosts == host`
  (defaults: this process of the job; all of them on one host)."""
  host = jax.process_index() if host is None else host
  hosts = jax.process_count() if hosts is None else hosts
  return list(range(host, n, hosts))


def stable_id(x) -> int:
  """A question id as a non-negative 31-bit int (strings hashed with crc32)."""
  if isinstance(x, (int, np.integer)):
    if x < 0:
      raise ValueError(f"question_ids: ids must be >= 0, got {x}")
    return int(x) & 0x7FFFFFFF
  return zlib.crc32(str(x).encode("utf-8")) & 0x7FFFFFFF


def bucket_length(n: int, buckets: Sequence[int] | None = None) -> int:
  """The smallest bucket >= n (powers of two from 16, unless buckets are given)."""
  if buckets:
    for b in sorted(buckets):
      if b >= n:
        return int(b)
    raise ValueError(f"prompt of {n} tokens is longer than the largest bucket {max(buckets)}")
  return max(MIN_BUCKET, 1 << (n - 1).bit_length())


def sample(loaded, prompts: Sequence[str | Sequence[int]], *, num_samples: int,
           max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, min_p: float | None = None, greedy: bool = False,
           stop: Sequence[str] = (), stop_token_ids: Sequence[int] | None = None, seed: int = 0,
           mesh=None, question_ids: Sequence[Any] | None = None, max_rows: int = 256,
           add_bos: bool | None = None, buckets: Sequence[int] | None = None,
           row_chunk: int | None = 64, batch_size: int | None = None,
           progress: bool = True) -> SampleResult:
  """Samples `num_samples` continuations of every prompt.

  Args:
    loaded: what `semcal_jax.models.load` returns.
    prompts: texts (tokenised here, BOS by the model's rule) or token-id lists.
    num_samples: M samples per prompt.
    max_new_tokens: N, the most tokens a sample may have.
    temperature, top_k, top_p, min_p, greedy: the next-token rule
      (temperature 1 and no truncation = the model's own distribution).
    stop: stop strings; a sample ends at the first one (matched across tokens).
    stop_token_ids: ids that end a sample (default: the tokenizer's `stop_ids`).
    seed: sampling seed; with `question_ids` it fixes every sample.
    mesh: a `('data', 'model')` mesh (default: the model's); rows go on 'data'.
    question_ids: stable id per prompt (ints or strings; default: its index),
      so that a sample does not depend on how prompts are batched.
    max_rows: rows (prompts x samples) per compiled batch.
    batch_size: prompts per compiled batch (default: as many as `max_rows`
      allows, at most all prompts). Fix it to reuse one compilation across calls
      with different numbers of prompts (short batches are padded).
    add_bos: override the tokenizer's BOS rule for text prompts.
    buckets: prompt-length buckets (default powers of two).
    row_chunk: matmuls run on row blocks of exactly this size, so that samples
      are bit-identical whatever the batch size or device count (None: plain
      matmuls, a little faster, reproducible only for the same batching).
    progress: show a progress bar with tokens/s.
  """
  if num_samples < 1 or max_new_tokens < 1:
    raise ValueError(f"num_samples and max_new_tokens must be >= 1, got {num_samples}, "
                     f"{max_new_tokens}")
  if not prompts:
    raise ValueError("prompts: empty")
  params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                          greedy=greedy)
  tok = loaded.tokenizer
  ids = [list(p) if not isinstance(p, str) else tok.encode(p, add_bos=add_bos) for p in prompts]
  if any(len(p) == 0 for p in ids):
    raise ValueError("prompts: a prompt has no tokens")
  qids = [stable_id(q) for q in (question_ids if question_ids is not None else range(len(ids)))]
  if len(qids) != len(ids):
    raise ValueError(f"question_ids: {len(qids)} ids for {len(ids)} prompts")
  mesh = mesh if mesh is not None else loaded.mesh
  data_size = mesh.shape["data"] if mesh is not None else 1
  per_batch = max(1, max_rows // num_samples)
  per_batch = min(per_batch, batch_size) if batch_size else min(per_batch, len(prompts))
  per_batch = -(-per_batch // data_size) * data_size  # whole prompts per device
  cfg = loaded.config
  stops = tuple(stop_token_ids if stop_token_ids is not None else (tok.stop_ids if tok else ()))
  stop_arr = jnp.asarray(list(stops) or [-1], jnp.int32)
  tables = stopping.tables_for(tok, tuple(stop), cfg.vocab_size) if stop else None
  next_state, hit = (jnp.asarray(t) for t in tables) if tables else (jnp.zeros((1, 1), jnp.int32),
                                                                      jnp.zeros((1, 1), bool))
  spec = decode.DecodeSpec(num_samples, max_new_tokens, params, bool(stop), row_chunk)
  min_rows = (row_chunk or 8) * data_size  # smallest row batch after compaction
  segment = 4  # decode steps between checks for finished rows
  graphdef, state = nnx.split(loaded.model)

  for i, p in enumerate(ids):
    if len(p) + max_new_tokens > cfg.max_position_embeddings:
      raise ValueError(f"prompt {i}: {len(p)} tokens + max_new_tokens {max_new_tokens} exceed "
                       f"the model's {cfg.max_position_embeddings} positions")
  # Batches of prompts of similar length (sorted), each padded to the bucket of its
  # longest prompt; only the last batch is topped up with dummy prompts.
  order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
  batches = []
  for start in range(0, len(order), per_batch):
    members = order[start:start + per_batch]
    batches.append((bucket_length(max(len(ids[i]) for i in members), buckets), members))

  q, m, n = len(ids), num_samples, max_new_tokens
  out_tok = np.zeros((q, m, n), np.int32)
  out_lp = np.zeros((q, m, n), np.float32)
  out_len = np.zeros((q, m), np.int32)
  out_reason = np.zeros((q, m), np.int32)
  t_start, compile_s, generated = time.perf_counter(), 0.0, 0
  bar = tqdm(batches, desc="sampling", unit="batch", disable=not progress, leave=False)
  for width, members in bar:
    rows = members + [members[0]] * (per_batch - len(members))  # pad: static shapes
    tokens = np.zeros((per_batch, width), np.int32)
    positions = np.full((per_batch, width), -1, np.int32)
    for j, i in enumerate(rows):
      length = len(ids[i])
      tokens[j, width - length:] = ids[i]
      positions[j, width - length:] = np.arange(length)
    keys = decode.sample_keys(seed, [qids[i] for i in rows], m)
    traces = sum(decode.TRACE_COUNT.values())
    t0 = time.perf_counter()
    toks, lps, lens, reasons = _run_batch(graphdef, spec, state, mesh, tokens, positions, keys,
                                          stop_arr, next_state, hit, segment, min_rows)
    if sum(decode.TRACE_COUNT.values()) != traces:
      compile_s += time.perf_counter() - t0  # includes that batch's run; reported apart
    toks, lps, lens, reasons = (a.reshape((per_batch, m) + a.shape[1:])
                                for a in (toks, lps, lens, reasons))
    k = len(members)
    out_tok[members], out_lp[members] = toks[:k], lps[:k]
    out_len[members], out_reason[members] = lens[:k], reasons[:k]
    generated += int(lens[:k].sum())
    elapsed = time.perf_counter() - t_start
    bar.set_postfix(tok_s=f"{generated / max(elapsed, 1e-9):.0f}")
  wall = time.perf_counter() - t_start
  texts, reasons = _texts(tok, out_tok, out_len, out_reason, stop, set(stops))
  stats = {"generated_tokens": generated, "wall_seconds": wall, "compile_seconds": compile_s,
           "tokens_per_second": generated / max(wall, 1e-9), "batches": len(batches),
           "rows_per_batch": per_batch * m}
  return SampleResult(texts, out_tok, out_lp, out_len, reasons,
                      np.asarray([len(p) for p in ids]), stats)


def _run_batch(graphdef, spec, state, mesh, tokens, positions, keys, stop_arr, next_state, hit,
               segment, min_rows):
  """Prefill and decode one batch, compacting rows as they finish.

  Returns host arrays `(tokens [R, N], logprobs [R, N], lengths [R], reasons [R])`.
  """
  n = spec.max_new_tokens
  args = _place(mesh, tokens, positions, keys)
  prefix, rows = decode.prefill(graphdef, spec, state, *args, stop_arr, next_state, hit)
  r = rows.lengths.shape[0]
  out_tok = np.zeros((r, n), np.int32)
  out_lp = np.zeros((r, n), np.float32)
  out_len = np.zeros((r,), np.int32)
  out_reason = np.zeros((r,), np.int32)
  owner = np.arange(r)  # original row of each current row
  group, step = spec.num_samples, jnp.int32(1)  # rows per prompt-cache row

  def save(rows, which):
    got = multihost.to_host((rows.tokens, rows.logprobs, rows.lengths, rows.reason))
    for dst, src in zip((out_tok, out_lp, out_len, out_reason), got):
      dst[owner[which]] = np.asarray(src)[which]

  while True:
    step, rows = decode.decode(graphdef, spec, state, rows, step, step + segment, prefix,
                               stop_arr, next_state, hit)
    done = multihost.to_host(rows.done)
    if done.all() or int(step) >= n:
      break
    active = np.flatnonzero(~done)
    size = max(min_rows, 1 << (len(active) - 1).bit_length())
    if size <= len(done) // 2:  # compact: keep running rows only
      save(rows, np.flatnonzero(done))
      index = np.concatenate([active, np.full(size - len(active), active[0])])
      rows, prefix = decode.compact(rows, prefix, _place_index(mesh, index), group)
      owner, group = owner[index], 1
  save(rows, np.arange(len(owner)))
  out_reason[out_reason == decode.RUNNING] = decode.LENGTH
  return out_tok, out_lp, out_len, out_reason


def _place_index(mesh, index):
  index = np.asarray(index, np.int32)
  if mesh is None:
    return jnp.asarray(index)
  return jax.device_put(index, sharding_lib.data_sharding(mesh, 1))


def _place(mesh, tokens, positions, keys):
  if mesh is None:
    return jnp.asarray(tokens), jnp.asarray(positions), keys
  rows2 = sharding_lib.data_sharding(mesh, 2)
  # Host values go straight onto the mesh (it may span hosts: every host passes the
  # same values); the keys travel as their raw data, since a key array made on
  # this host's device cannot be put on devices of other hosts.
  key_data = jax.device_put(np.asarray(jax.random.key_data(keys)),
                            sharding_lib.data_sharding(mesh, 2))
  return (jax.device_put(tokens, rows2), jax.device_put(positions, rows2),
          jax.random.wrap_key_data(key_data, impl=jax.random.key_impl(keys)))


def _texts(tok, tokens, lengths, reason_codes, stop, stop_ids):
  texts, reasons = [], []
  for q in range(tokens.shape[0]):
    row_texts, row_reasons = [], []
    for m in range(tokens.shape[1]):
      code = int(reason_codes[q, m])
      ids = tokens[q, m, :lengths[q, m]].tolist()
      if code == decode.STOP_TOKEN and ids and ids[-1] in stop_ids:
        ids = ids[:-1]
      text = tok.decode(ids) if tok is not None else ""
      if code == decode.STOP_STRING:
        text, _ = stopping.cut_at_stop(text, stop)
      row_texts.append(text)
      row_reasons.append(decode.FINISH_REASONS[code])
    texts.append(row_texts)
    reasons.append(row_reasons)
  return texts, reasons
