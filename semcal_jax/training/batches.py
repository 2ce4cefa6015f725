"""Training batches: packing prompts and continuations, deterministic data order.

One layout serves every objective (see `logprobs.py`): E examples, each a
left-padded prompt and S right-padded continuations of it.

    batch = pack([[1, 5, 6], [1, 7]], [[[8, 9, 2]], [[4, 2]]])
    batch["prompt"]      int32 [E, P]     left-padded with `pad_id`
    batch["prompt_positions"] int32 [E, P]  0.. on tokens, -1 on padding
    batch["tokens"]      int32 [E, S, T]  right-padded
    batch["positions"]   int32 [E, S, T]  prompt length + 0.., -1 on padding
    batch["loss_mask"]   float32 [E, S, T] 1 on continuation tokens (or as given)

Lengths are rounded up to buckets (`bucket`), so that a jitted step compiles
once per bucket. Extra per-example fields (advantages, targets, ...) are
added by the caller as arrays with leading axis E.

Data order is a pure function of `(seed, step)` (`batch_indices`): a fresh
permutation per epoch, so a run resumed at step k sees exactly the batches
an uninterrupted run would.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from semcal_jax import multihost

Batch = dict[str, Any]


def bucket(n: int, multiple: int = 16) -> int:
  """`n` rounded up to a power of two below 128, then to a multiple of 64, at least `multiple`."""
  if n <= 0:
    raise ValueError(f"bucket: length must be > 0, got {n}")
  if n <= 128:
    return max(multiple, 1 << (n - 1).bit_length())
  return -(-n // 64) * 64


def pack(prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]], *,
         loss_masks: Sequence[Sequence[Sequence[float]]] | None = None, pad_id: int = 0,
         prompt_len: int | None = None, continuation_len: int | None = None) -> Batch:
  """Packs E prompts and S continuations each into the batch layout (module docstring).

  Args:
    prompts: E token-id lists (each non-empty).
    continuations: E lists of S token-id lists (S the same for all examples).
    loss_masks: optional, like `continuations`: per-token loss weights
      (default 1 on every continuation token).
    pad_id: the id written on padding (never attended to: position -1).
    prompt_len, continuation_len: fixed P / T (default: `bucket` of the longest).

  Raises:
    ValueError naming the example whose sizes are wrong.
  """
  e = len(prompts)
  if e == 0 or len(continuations) != e:
    raise ValueError(f"pack: {e} prompts and {len(continuations)} continuation lists "
                     "(need the same number, at least one)")
  s = len(continuations[0])
  for i, (p, c) in enumerate(zip(prompts, continuations)):
    if len(p) == 0:
      raise ValueError(f"pack: prompt {i} is empty (it needs at least one token, e.g. BOS)")
    if len(c) != s or s == 0:
      raise ValueError(f"pack: example {i} has {len(c)} continuations, example 0 has {s}")
  longest_p = max(len(p) for p in prompts)
  longest_c = max(1, max(len(x) for c in continuations for x in c))
  pl = prompt_len or bucket(longest_p)
  tl = continuation_len or bucket(longest_c)
  if longest_p > pl or longest_c > tl:
    raise ValueError(f"pack: longest prompt {longest_p} / continuation {longest_c} tokens exceed "
                     f"prompt_len={pl} / continuation_len={tl}")
  prompt = np.full((e, pl), pad_id, np.int32)
  prompt_pos = np.full((e, pl), -1, np.int32)
  tokens = np.full((e, s, tl), pad_id, np.int32)
  positions = np.full((e, s, tl), -1, np.int32)
  mask = np.zeros((e, s, tl), np.float32)
  for i, p in enumerate(prompts):
    n = len(p)
    prompt[i, pl - n:] = p
    prompt_pos[i, pl - n:] = np.arange(n)
    for j, c in enumerate(continuations[i]):
      m = len(c)
      tokens[i, j, :m] = c
      positions[i, j, :m] = n + np.arange(m)
      if loss_masks is None:
        mask[i, j, :m] = 1.0
      else:
        w = np.asarray(loss_masks[i][j], np.float32)
        if w.shape != (m,):
          raise ValueError(f"pack: loss_masks[{i}][{j}] has {w.shape} entries for {m} tokens")
        mask[i, j, :m] = w
  return {"prompt": prompt, "prompt_positions": prompt_pos, "tokens": tokens,
          "positions": positions, "loss_mask": mask}


def batch_indices(num_items: int, batch_size: int, step: int, seed: int) -> np.ndarray:
  """Indices of the examples of batch `step`: epochs of seeded permutations,
  read consecutively (a batch may straddle two epochs). `[batch_size]` int64."""
  if num_items < 1 or batch_size < 1 or step < 0:
    raise ValueError(f"batch_indices: num_items={num_items}, batch_size={batch_size}, "
                     f"step={step} (need >= 1, >= 1, >= 0)")
  start = step * batch_size
  out = []
  epoch, offset = divmod(start, num_items)
  while len(out) < batch_size:
    perm = np.random.default_rng([seed, epoch]).permutation(num_items)
    take = perm[offset:offset + batch_size - len(out)]
    out.extend(take.tolist())
    epoch, offset = epoch + 1, 0
  return np.asarray(out, np.int64)


def step_seed(seed: int, step: int, salt: int = 0) -> int:
  """A 31-bit seed for step `step` (e.g. the sampling seed of a rollout)."""
  return int(np.random.default_rng([seed, step, salt]).integers(0, 2**31 - 1))


def concat(batches: Sequence[Mapping[str, Any]]) -> Batch:
  """Batches with the same keys and lengths, stacked along E."""
  keys = set(batches[0])
  for i, b in enumerate(batches):
    if set(b) != keys:
      raise ValueError(f"concat: batch {i} has keys {sorted(b)}, batch 0 has {sorted(keys)}")
  return {k: np.concatenate([np.asarray(b[k]) for b in batches], axis=0) for k in batches[0]}


def pad_examples(batch: Mapping[str, Any], multiple: int) -> tuple[Batch, int]:
  """`(batch, E)`: the batch with E examples topped up to a multiple of `multiple`
  by copies of example 0 whose `loss_mask` is 0 (and `valid` False), which
  every objective ignores. Returns the original E too."""
  arrays = {k: np.asarray(v) for k, v in batch.items()}
  e = arrays["loss_mask"].shape[0]
  pad = (-e) % multiple
  if not pad:
    return arrays, e
  out = {}
  for k, v in arrays.items():
    if v.shape[0] != e:
      raise ValueError(f"batch field {k!r}: leading size {v.shape[0]}, expected {e} examples")
    extra = np.repeat(v[:1], pad, axis=0)
    if k in ("loss_mask", "valid"):
      extra = np.zeros_like(extra)
    out[k] = np.concatenate([v, extra], axis=0)
  return out, e


def microbatches(batch: Mapping[str, Any], num: int, mesh=None) -> Batch:
  """Every field reshaped `[E, ...] -> [num, E' / num, ...]` and placed on the mesh
  with the example axis on 'data' (the microbatch axis replicated); E' is E
  padded (`pad_examples`) to a multiple of `num` x the data-parallel size."""
  data = mesh.shape["data"] if mesh is not None else 1
  if "loss_mask" not in batch:
    raise KeyError(f"batch has no 'loss_mask'; has {sorted(batch)}")
  arrays, _ = pad_examples(batch, num * data)
  out = {}
  for k, v in arrays.items():
    v = v.reshape((num, v.shape[0] // num) + v.shape[1:])
    if mesh is not None:
      v = multihost.put(v, NamedSharding(mesh, P(None, "data", *([None] * (v.ndim - 2)))))
    out[k] = v
  return out


__all__ = ["Batch", "batch_indices", "bucket", "concat", "microbatches", "pack", "pad_examples",
           "step_seed"]
