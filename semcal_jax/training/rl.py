"""Rollouts through the project's sampler, advantages, and RL / DPO batches from them.

    ro = rollout(trainer.policy_loaded(loaded), prompt_ids, group_size=8, max_new_tokens=16,
                 stop=("\\n",), seed=step_seed(seed, step))
    rewards = reward_fn(ro)                                   # float [Q, G]
    batch = policy_gradient_batch(ro, rewards, advantage="grpo")
    metrics = trainer.train_step(batch)                       # objectives.PolicyGradient

    pairs = preference_pairs(ro, correct)                     # own correct vs incorrect samples
    batch = dpo_batch(pairs)                                  # objectives.DPO

Advantages (`advantages`): "grpo" = group-normalised `(r - mean_g) / (std_g + eps)`
(`std_normalize=False`: Dr. GRPO's `r - mean_g`); "rloo" = leave-one-out
`r - mean of the other G-1`; "reinforce" = `r` itself; "reinforce_baseline" =
`r - mean over the whole batch`.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from semcal_jax import sampling
from semcal_jax.training import batches as batches_lib

ADVANTAGES = ("grpo", "rloo", "reinforce", "reinforce_baseline")


@dataclasses.dataclass
class Rollout:
  """G sampled completions of each of Q prompts.

  Attributes:
    prompts: `[Q]` prompt token ids.
    completions: `[Q][G]` generated ids, including the token that ended the
      sample (a stop token, or the one completing a stop string).
    sampler_logprobs: `[Q][G]` float32 arrays, the sampler's log-probabilities
      of those tokens (untruncated tempered distribution).
    texts: `[Q][G]` decoded answers (stop string and what follows removed).
    finish_reasons: `[Q][G]`.
  """
  prompts: list[list[int]]
  completions: list[list[list[int]]]
  sampler_logprobs: list[list[np.ndarray]]
  texts: list[list[str]]
  finish_reasons: list[list[str]]

  @property
  def group_size(self) -> int:
    return len(self.completions[0])

  def mean_length(self) -> float:
    return float(np.mean([len(c) for row in self.completions for c in row]))


def rollout(loaded, prompts: Sequence[Sequence[int]], *, group_size: int, max_new_tokens: int,
            temperature: float = 1.0, stop: Sequence[str] = (),
            stop_token_ids: Sequence[int] | None = None, seed: int = 0,
            question_ids: Sequence | None = None, max_rows: int = 256,
            row_chunk: int | None = 64) -> Rollout:
  """`group_size` samples of every prompt with `sampling.sample` (no truncation:
  the policy's own tempered distribution)."""
  prompts = [list(map(int, p)) for p in prompts]
  res = sampling.sample(loaded, prompts, num_samples=group_size, max_new_tokens=max_new_tokens,
                        temperature=temperature, stop=tuple(stop), stop_token_ids=stop_token_ids,
                        seed=seed, question_ids=question_ids, max_rows=max_rows,
                        row_chunk=row_chunk, progress=False)
  comps = [[res.tokens[q, m, :res.lengths[q, m]].tolist() for m in range(group_size)]
           for q in range(len(prompts))]
  lps = [[res.logprobs[q, m, :res.lengths[q, m]].astype(np.float32) for m in range(group_size)]
         for q in range(len(prompts))]
  return Rollout(prompts, comps, lps, res.texts, res.finish_reasons)


def advantages(rewards, kind: str = "grpo", *, std_normalize: bool = True,
               eps: float = 1e-6) -> np.ndarray:
  """Advantages `[Q, G]` (float32) of rewards `[Q, G]` (module docstring)."""
  r = np.asarray(rewards, np.float64)
  if r.ndim != 2:
    raise ValueError(f"rewards: expected [Q, G], got shape {r.shape}")
  g = r.shape[1]
  if kind == "grpo":
    a = r - r.mean(axis=1, keepdims=True)
    if std_normalize:
      a = a / (r.std(axis=1, keepdims=True) + eps)
  elif kind == "rloo":
    if g < 2:
      raise ValueError("advantage 'rloo' needs group_size >= 2")
    a = (r - r.mean(axis=1, keepdims=True)) * g / (g - 1)
  elif kind == "reinforce":
    a = r
  elif kind == "reinforce_baseline":
    a = r - r.mean()
  else:
    raise ValueError(f"advantage: expected one of {ADVANTAGES}, got {kind!r}")
  return a.astype(np.float32)


def policy_gradient_batch(ro: Rollout, rewards, *, advantage: str = "grpo",
                          std_normalize: bool = True, pad_id: int = 0,
                          prompt_len: int | None = None,
                          continuation_len: int | None = None) -> dict:
  """The `objectives.PolicyGradient` batch of a rollout: E = Q examples with S = G
  continuations, plus `advantages [Q, G]`, `rewards [Q, G]` and
  `sampler_logprobs [Q, G, T]` (for the logged sampler-vs-trainer gap)."""
  r = np.asarray(rewards, np.float32)
  q, g = len(ro.prompts), ro.group_size
  if r.shape != (q, g):
    raise ValueError(f"rewards: expected shape ({q}, {g}), got {r.shape}")
  b = batches_lib.pack(ro.prompts, ro.completions, pad_id=pad_id, prompt_len=prompt_len,
                       continuation_len=continuation_len)
  t = b["tokens"].shape[-1]
  lp = np.zeros((q, g, t), np.float32)
  for i in range(q):
    for j in range(g):
      lp[i, j, :len(ro.sampler_logprobs[i][j])] = ro.sampler_logprobs[i][j]
  b["advantages"] = advantages(r, advantage, std_normalize=std_normalize)
  b["rewards"] = r
  b["sampler_logprobs"] = lp
  return b


@dataclasses.dataclass(frozen=True)
class Pair:
  """A preference pair: one prompt, a chosen and a rejected continuation."""
  prompt: tuple[int, ...]
  chosen: tuple[int, ...]
  rejected: tuple[int, ...]
  question: int  # index of the prompt in the rollout


def preference_pairs(ro: Rollout, correct, *, seed: int = 0, pairs_per_question: int = 1,
                     fallback_chosen: Sequence[Sequence[int] | None] | None = None) -> list[Pair]:
  """Pairs from the model's own samples: a correct one chosen, an incorrect one rejected.

  Args:
    ro: a rollout; correct: bool `[Q, G]`.
    seed: picks which samples pair up (seeded, deterministic).
    pairs_per_question: at most this many pairs per question (distinct samples).
    fallback_chosen: optional `[Q]` token ids used as the chosen answer when a
      question has no correct sample (e.g. the reference answer); None = skip it.
  """
  c = np.asarray(correct, bool)
  if c.shape != (len(ro.prompts), ro.group_size):
    raise ValueError(f"correct: expected shape ({len(ro.prompts)}, {ro.group_size}), got "
                     f"{c.shape}")
  rng = np.random.default_rng(seed)
  out = []
  for q in range(len(ro.prompts)):
    good = [tuple(ro.completions[q][m]) for m in np.flatnonzero(c[q])]
    bad = [tuple(ro.completions[q][m]) for m in np.flatnonzero(~c[q])]
    if not good and fallback_chosen is not None and fallback_chosen[q]:
      good = [tuple(int(x) for x in fallback_chosen[q])]
    good = list(dict.fromkeys(good))
    bad = [x for x in dict.fromkeys(bad) if x not in good]
    n = min(len(good), len(bad), pairs_per_question)
    gi, bi = rng.permutation(len(good))[:n], rng.permutation(len(bad))[:n]
    out += [Pair(tuple(ro.prompts[q]), good[i], bad[j], q) for i, j in zip(gi, bi)]
  return out


def dpo_batch(pairs: Sequence[Pair], *, pad_id: int = 0, prompt_len: int | None = None,
              continuation_len: int | None = None) -> dict:
  """The `objectives.DPO` batch: E pairs, S = 2 (chosen, rejected)."""
  if not pairs:
    raise ValueError("dpo_batch: no preference pairs")
  return batches_lib.pack([list(p.prompt) for p in pairs],
                          [[list(p.chosen), list(p.rejected)] for p in pairs], pad_id=pad_id,
                          prompt_len=prompt_len, continuation_len=continuation_len)


__all__ = ["ADVANTAGES", "Pair", "Rollout", "advantages", "dpo_batch", "policy_gradient_batch",
           "preference_pairs", "rollout"]
