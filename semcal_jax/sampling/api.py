"""`Sampler`: M answers to each prompt, from text in to texts, ids and log-probs out.

A `Sampler` pairs a loaded model with a `SamplerConfig`. It tokenises, lets
`planning` cut the prompts into fixed-shape batches, places rows on the mesh's
'data' axis, runs `decode.prefill` and `decode.decode` (compacting finished
rows away) and lets `texts` turn the ids into answers cut at stop strings.
`sample()` is the one-call form.

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
from semcal_jax.sampling import compiles, decode, planning, stopping
from semcal_jax.sampling import texts as texts_lib
from semcal_jax.sampling.config import SamplerConfig


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


class Sampler:
  """A model and a `SamplerConfig`: the stop tables built once, the compiled
  programs shared by every sampler with the same config and model shapes.

      sampler = Sampler(loaded, SamplerConfig.create(num_samples=20, max_new_tokens=24,
                                                     stop=("\\n",)))
      result = sampler.sample(prompts, seed=0)
  """

  def __init__(self, loaded, config: SamplerConfig, mesh=None):
    self.loaded, self.config = loaded, config
    self.mesh = mesh if mesh is not None else loaded.mesh
    self.data_size = self.mesh.shape["data"] if self.mesh is not None else 1
    tok = loaded.tokenizer
    ids = config.stop_token_ids if config.stop_token_ids is not None else (
        tok.stop_ids if tok else ())
    self.stop_ids = tuple(ids)
    self._stop_arr = jnp.asarray(list(self.stop_ids) or [-1], jnp.int32)
    tables = (stopping.tables_for(tok, config.stop, loaded.config.vocab_size)
              if config.stop else None)
    self._tables = (tuple(jnp.asarray(t) for t in tables) if tables else
                    (jnp.zeros((1, 1), jnp.int32), jnp.zeros((1, 1), bool)))

  def encode(self, prompts, add_bos: bool | None = None) -> list[list[int]]:
    """Token ids of text prompts (BOS by the tokenizer's rule) or id lists, checked."""
    if not prompts:
      raise ValueError("prompts: empty")
    tok = self.loaded.tokenizer
    ids = [list(p) if not isinstance(p, str) else tok.encode(p, add_bos=add_bos)
           for p in prompts]
    limit = self.loaded.config.max_position_embeddings
    for i, p in enumerate(ids):
      if not p:
        raise ValueError("prompts: a prompt has no tokens")
      if len(p) + self.config.max_new_tokens > limit:
        raise ValueError(f"prompt {i}: {len(p)} tokens + max_new_tokens "
                         f"{self.config.max_new_tokens} exceed the model's {limit} positions")
    return ids

  def sample(self, prompts: Sequence[str | Sequence[int]], *, seed: int = 0,
             question_ids: Sequence[Any] | None = None, add_bos: bool | None = None,
             progress: bool = True) -> SampleResult:
    """`config.num_samples` continuations of every prompt.

    Args:
      prompts: texts (tokenised here, BOS by the model's rule) or token-id lists.
      seed: sampling seed; with `question_ids` it fixes every sample.
      question_ids: stable id per prompt (ints or strings; default: its index),
        so that a sample does not depend on how prompts are batched.
      add_bos: override the tokenizer's BOS rule for text prompts.
      progress: show a progress bar with tokens/s.
    """
    cfg = self.config
    ids = self.encode(prompts, add_bos)
    qids = [stable_id(q) for q in (question_ids if question_ids is not None else range(len(ids)))]
    if len(qids) != len(ids):
      raise ValueError(f"question_ids: {len(qids)} ids for {len(ids)} prompts")
    per_batch = planning.prompts_per_batch(cfg.max_rows, cfg.num_samples, self.data_size,
                                           len(ids), cfg.batch_size)
    lengths = [len(p) for p in ids]
    batches = planning.plan_batches(lengths, per_batch, cfg.buckets)
    graphdef, state = nnx.split(self.loaded.model)  # the model's weights as of this call
    q, m, n = len(ids), cfg.num_samples, cfg.max_new_tokens
    out = (np.zeros((q, m, n), np.int32), np.zeros((q, m, n), np.float32),
           np.zeros((q, m), np.int32), np.zeros((q, m), np.int32))
    t_start, generated = time.perf_counter(), 0
    bar = tqdm(batches, desc="sampling", unit="batch", disable=not progress, leave=False)
    with compiles.CompileLog() as log:
      for batch in bar:
        tokens, positions = planning.left_padded(ids, batch)
        keys = decode.sample_keys(seed, [qids[i] for i in batch.rows], m)
        got = self._run_batch(graphdef, state, tokens, positions, keys)
        k, members = len(batch.members), list(batch.members)
        for dst, src in zip(out, got):
          dst[members] = src.reshape((per_batch, m) + src.shape[1:])[:k]
        generated += int(out[2][members].sum())
        bar.set_postfix(tok_s=f"{generated / max(time.perf_counter() - t_start, 1e-9):.0f}")
    wall = time.perf_counter() - t_start
    texts, reasons = texts_lib.answer_texts(self.loaded.tokenizer, out[0], out[2], out[3],
                                            cfg.stop, set(self.stop_ids))
    stats = {"generated_tokens": generated, "wall_seconds": wall,
             "compile_seconds": log.seconds, "compilations": log.traces,
             "tokens_per_second": generated / max(wall, 1e-9), "batches": len(batches),
             "rows_per_batch": per_batch * m}
    return SampleResult(texts, out[0], out[1], out[2], reasons, np.asarray(lengths), stats)

  def _run_batch(self, graphdef, state, tokens, positions, keys):
    """Prefill and decode one batch, compacting rows as they finish.

    Returns host arrays `(tokens [R, N], logprobs [R, N], lengths [R], reasons [R])`.
    """
    spec, mesh = self.config.decode_spec, self.mesh
    fixed = (self._stop_arr,) + self._tables
    n, segment = spec.max_new_tokens, self.config.segment
    min_rows = self.config.min_rows(self.data_size)
    prefix, rows = decode.prefill(graphdef, spec, state, *_place(mesh, tokens, positions, keys),
                                  *fixed)
    r = rows.lengths.shape[0]
    out = (np.zeros((r, n), np.int32), np.zeros((r, n), np.float32), np.zeros((r,), np.int32),
           np.zeros((r,), np.int32))
    owner = np.arange(r)  # original row of each current row
    group, step = spec.num_samples, jnp.int32(1)  # rows per prompt-cache row

    def save(rows, which):
      got = multihost.to_host((rows.tokens, rows.logprobs, rows.lengths, rows.reason))
      for dst, src in zip(out, got):
        dst[owner[which]] = np.asarray(src)[which]

    while True:
      step, rows = decode.decode(graphdef, spec, state, rows, step, step + segment, prefix,
                                 *fixed)
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
    out[3][out[3] == decode.RUNNING] = decode.LENGTH
    return out


def sample(loaded, prompts: Sequence[str | Sequence[int]], *, num_samples: int,
           max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, min_p: float | None = None, greedy: bool = False,
           stop: Sequence[str] = (), stop_token_ids: Sequence[int] | None = None, seed: int = 0,
           mesh=None, question_ids: Sequence[Any] | None = None, max_rows: int = 256,
           add_bos: bool | None = None, buckets: Sequence[int] | None = None,
           row_chunk: int | None = 64, batch_size: int | None = None,
           progress: bool = True) -> SampleResult:
  """One call of `Sampler(loaded, SamplerConfig.create(...), mesh).sample(...)`:
  the arguments are those of `SamplerConfig` and `Sampler.sample`. Callers that
  sample repeatedly keep one `Sampler` instead."""
  config = SamplerConfig.create(
      num_samples=num_samples, max_new_tokens=max_new_tokens, temperature=temperature,
      top_k=top_k, top_p=top_p, min_p=min_p, greedy=greedy, stop=stop,
      stop_token_ids=stop_token_ids, max_rows=max_rows, batch_size=batch_size, buckets=buckets,
      row_chunk=row_chunk)
  return Sampler(loaded, config, mesh).sample(prompts, seed=seed, question_ids=question_ids,
                                              add_bos=add_bos, progress=progress)


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
