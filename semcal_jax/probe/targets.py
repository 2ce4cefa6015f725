"""Probe targets: each question's empirical distribution over its answer classes.

From M sampled responses per question, collapsed by B into classes, the target
of question q is the share of each class among the parsed responses, over at
most `max_candidates` classes (the most frequent; the mass of the rest and of
unparsed responses is dropped and the shares renormalised, the dropped share
is kept for the report). Each class has a canonical answer string, the text
the probe scores for it.

    t = from_classes(keys, answers, matches, max_candidates=8)
    t.counts    float [Q, K]  samples per candidate (0 on padding)
    t.shares    float [Q, K]  counts / counts.sum(-1)
    t.valid     bool  [Q, K]  the candidate exists
    t.answers   [Q][K] canonical answer strings ("" on padding)
    t.correct   bool  [Q, K]  the class matches a reference answer

A question whose samples all agree has one class: a softmax over that
class alone would be 1 whatever the probe does. `with_distractors` fills the
empty candidate slots with answers of other questions (target share 0), so
the probe must also say what the model would *not* answer.

`noise_floor` is the KL a perfect probe would still show against a target
made of M samples, estimated by splitting the samples (module function doc).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Targets:
  """Candidate classes and their empirical shares, per question (module docstring)."""
  counts: np.ndarray
  valid: np.ndarray
  answers: tuple[tuple[str, ...], ...]
  correct: np.ndarray
  dropped: np.ndarray  # [Q] share of the M samples outside the candidates (incl. unparsed)
  num_samples: int

  @property
  def shares(self) -> np.ndarray:
    """`[Q, K]` target distribution (0 on padding; a question without any
    parsed sample has an all-zero row)."""
    total = self.counts.sum(-1, keepdims=True)
    return np.where(total > 0, self.counts / np.maximum(total, 1e-12), 0.0)

  @property
  def usable(self) -> np.ndarray:
    """`[Q]` questions with at least one parsed sample (the others have no target)."""
    return self.counts.sum(-1) > 0

  def subset(self, idx) -> "Targets":
    idx = np.asarray(idx, np.int64)
    return Targets(self.counts[idx], self.valid[idx], tuple(self.answers[i] for i in idx),
                   self.correct[idx], self.dropped[idx], self.num_samples)


def from_classes(keys: Sequence[Sequence[str | None]], answers: Sequence[Sequence[str]] | None,
                 matches: np.ndarray | None = None, *, max_candidates: int = 8) -> Targets:
  """Targets from class keys `[Q][M]` (None = unparsed).

  Args:
    keys: each response's class key.
    answers: each response's answer text `[Q][M]`; a class's canonical answer
      string is its most frequent text (ties: first seen). None: the key itself.
    matches: bool `[Q, M]`, the response matches a reference (a class is
      correct when any of its responses is); None = unknown (all False).
    max_candidates: K, the most frequent classes kept per question (ties: first seen).
  """
  q = len(keys)
  if q == 0:
    raise ValueError("targets: no questions")
  if max_candidates < 1:
    raise ValueError(f"max_candidates: expected >= 1, got {max_candidates}")
  m = len(keys[0])
  counts = np.zeros((q, max_candidates), np.float64)
  correct = np.zeros((q, max_candidates), bool)
  dropped = np.zeros((q,), np.float64)
  out_answers = []
  for i, row in enumerate(keys):
    if len(row) != m:
      raise ValueError(f"keys[{i}]: expected {m} responses like keys[0], got {len(row)}")
    order = collections.Counter(k for k in row if k is not None).most_common()
    kept = [k for k, _ in order[:max_candidates]]
    texts = []
    for j, k in enumerate(kept):
      members = [s for s, key in enumerate(row) if key == k]
      counts[i, j] = len(members)
      if matches is not None:
        correct[i, j] = bool(np.any(np.asarray(matches[i])[members]))
      if answers is None:
        texts.append(k)
      else:
        texts.append(collections.Counter(answers[i][s].strip() for s in members)
                     .most_common(1)[0][0])
    dropped[i] = 1.0 - counts[i].sum() / m
    out_answers.append(tuple(texts) + ("",) * (max_candidates - len(texts)))
  return Targets(counts, counts > 0, tuple(out_answers), correct, dropped, m)


def with_distractors(t: Targets, groups: Sequence | None = None, *, seed: int = 0) -> Targets:
  """Fills every question's empty candidate slots with answers sampled from other
  questions (of the same group, e.g. the same relation, when `groups [Q]` is
  given), never one of its own (compared case-insensitively). Distractors are
  valid, have count 0 and are not correct."""
  rng = np.random.default_rng([seed, 71])
  q, k = t.counts.shape
  groups = list(groups) if groups is not None else [0] * q
  pools: dict = {}
  for i in range(q):
    for a, v in zip(t.answers[i], t.valid[i]):
      if v:
        pools.setdefault(groups[i], {}).setdefault(a.lower(), a)
  pools = {g: list(d.values()) for g, d in pools.items()}
  valid = t.valid.copy()
  answers = []
  for i in range(q):
    own = {a.lower() for a, v in zip(t.answers[i], t.valid[i]) if v}
    row = list(t.answers[i])
    pool = [a for a in pools.get(groups[i], []) if a.lower() not in own]
    free = [j for j in range(k) if not valid[i, j]]
    pick = rng.permutation(len(pool))[:len(free)]
    for j, c in zip(free, pick):
      row[j] = pool[c]
      valid[i, j] = True
    answers.append(tuple(row))
  return dataclasses.replace(t, valid=valid, answers=tuple(answers))


def kl(p: np.ndarray, q: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
  """`KL(p || q)` per row `[Q]` over the valid entries (0 log 0 = 0; q > 0 assumed where p > 0)."""
  p = np.asarray(p, np.float64)
  q = np.asarray(q, np.float64)
  if valid is not None:
    p = np.where(valid, p, 0.0)
  pos = p > 0
  return np.sum(np.where(pos, p * (np.log(np.where(pos, p, 1.0)) -
                                   np.log(np.where(pos, np.maximum(q, 1e-300), 1.0))), 0.0), -1)


def noise_floor(targets: Targets, *, repeats: int = 20, alpha: float = 0.5,
                seed: int = 0) -> np.ndarray:
  """`[Q]` the finite-M floor of `KL(target || probe)`, estimated by splitting the samples.

  A probe that knew the model's true class distribution p exactly would still
  show `E KL(p_hat_M || p) ~ (K-1) / 2M` against a target of M samples. Split
  each question's M samples at random into halves A and B (`repeats` times);
  `KL(p_hat_A || p_tilde_B)` (B smoothed with `alpha` per candidate, so it is
  finite) estimates `2 (K-1) / M`: each half has M/2 samples and both vary,
  four times the floor at M. The estimate is that KL over 4.
  Only the sampled candidate classes count (like the targets; distractors,
  never sampled, are left out of the smoothing). Simulations with known p
  (M = 20, 32; 2-6 classes) put the estimate within about 0-20 % of the true
  floor, lower when rare classes were never sampled.
  """
  rng = np.random.default_rng(seed)
  q, k = targets.counts.shape
  out = np.zeros((q,), np.float64)
  for i in range(q):
    c = targets.counts[i].astype(np.int64)
    n = int(c.sum())
    seen = c > 0
    kv = int(seen.sum())
    if n < 2:
      continue
    labels = np.repeat(np.arange(k), c)
    vals = []
    for _ in range(repeats):
      perm = rng.permutation(labels)
      a = np.bincount(perm[:n // 2], minlength=k).astype(np.float64)
      b = np.bincount(perm[n // 2:], minlength=k).astype(np.float64)
      pa = a / a.sum()
      pb = np.where(seen, (b + alpha) / (b.sum() + alpha * kv), 0.0)
      vals.append(kl(pa, pb))
    out[i] = float(np.mean(vals)) / 4.0
  return out


__all__ = ["Targets", "from_classes", "kl", "noise_floor", "with_distractors"]
