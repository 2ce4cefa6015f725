"""Host batch planning: which prompts go into which compiled batch, and how.

Prompts are sorted by length and cut into batches of a fixed number of
prompts (whole prompts per device on the mesh's 'data' axis); each batch is
left-padded to the bucket of its longest prompt, and only the last batch is
topped up with repeats of its first prompt, so every batch has a static shape
from a small set (one compilation per bucket).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

MIN_BUCKET = 16


@dataclasses.dataclass(frozen=True)
class Batch:
  """One compiled batch: `members` (prompt indices, at most `size`) padded to `width`."""
  width: int
  members: tuple[int, ...]
  size: int

  @property
  def rows(self) -> list[int]:
    """Prompt index of every batch slot (the last slots repeat the first member)."""
    return list(self.members) + [self.members[0]] * (self.size - len(self.members))


def bucket_length(n: int, buckets: Sequence[int] | None = None) -> int:
  """The smallest bucket >= n: the configured `buckets`, or by default powers of
  two and their midpoints from 16 (16, 24, 32, 48, 64, 96, ...), so a prompt is
  padded by at most a third of its bucket."""
  if buckets:
    for b in sorted(buckets):
      if b >= n:
        return int(b)
    raise ValueError(f"prompt of {n} tokens is longer than the largest bucket {max(buckets)}")
  if n <= MIN_BUCKET:
    return MIN_BUCKET
  power = 1 << (n - 1).bit_length()
  return power * 3 // 4 if n <= power * 3 // 4 else power


def prompts_per_batch(max_rows: int, num_samples: int, data_size: int,
                      n_prompts: int = 0, batch_size: int | None = None) -> int:
  """Prompts per compiled batch: as many as `max_rows` rows allow (at most
  `batch_size`, else at most `n_prompts` when given), rounded up to whole prompts
  per device."""
  per_batch = max(1, max_rows // num_samples)
  if batch_size:
    per_batch = min(per_batch, batch_size)
  elif n_prompts:
    per_batch = min(per_batch, n_prompts)
  return -(-per_batch // data_size) * data_size


def min_rows(row_chunk: int | None, data_size: int) -> int:
  """The smallest row batch compaction goes down to: a whole row block per device
  (8 rows per device without row blocks)."""
  return (row_chunk or 8) * data_size


def plan_batches(lengths: Sequence[int], per_batch: int,
                 buckets: Sequence[int] | None = None) -> list[Batch]:
  """Batches of prompts of similar length: `lengths[i]` tokens of prompt i."""
  order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
  batches = []
  for start in range(0, len(order), per_batch):
    members = tuple(order[start:start + per_batch])
    width = bucket_length(max(lengths[i] for i in members), buckets)
    batches.append(Batch(width, members, per_batch))
  return batches


def left_padded(ids: Sequence[Sequence[int]], batch: Batch):
  """`(tokens [P, W], positions [P, W])` of a batch's prompts, left-padded
  (positions -1 on padding)."""
  tokens = np.zeros((batch.size, batch.width), np.int32)
  positions = np.full((batch.size, batch.width), -1, np.int32)
  for j, i in enumerate(batch.rows):
    length = len(ids[i])
    tokens[j, batch.width - length:] = ids[i]
    positions[j, batch.width - length:] = np.arange(length)
  return tokens, positions
