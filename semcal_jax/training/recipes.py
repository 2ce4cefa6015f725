"""Step functions for `runner.fit`: SFT / CoT-SFT, GRPO-style RL, DPO.

Each factory returns `step_fn(step) -> metrics` whose batches and sampling
seeds are pure functions of `(seed, step)`, so resumed runs repeat exactly.

    step_fn = sft_steps(trainer, examples, batch_size=8, seed=0)
    step_fn = rl_steps(trainer, loaded, prompts, reward_fn, questions_per_step=4, group_size=8,
                       max_new_tokens=16, stop=("\\n",), seed=0)
    step_fn = dpo_steps(trainer, pairs, batch_size=8, seed=0)
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from semcal_jax.training import batches as batches_lib
from semcal_jax.training import qa
from semcal_jax.training import rl

# reward_fn(rollout, question_indices [Q]) -> rewards float [Q, G]
RewardFn = Callable[[rl.Rollout, np.ndarray], np.ndarray]


def sft_steps(trainer, examples: Sequence[qa.Example], *, batch_size: int, seed: int = 0,
              pad_id: int = 0, prompt_len: int | None = None, target_len: int | None = None):
  """Next-token SFT on `examples` in seeded epochs (`batches.batch_indices`).

  Fixing `prompt_len` / `target_len` compiles one step; otherwise each batch is
  padded to the buckets of its longest prompt / target."""
  if not examples:
    raise ValueError("sft: no training examples")

  def step_fn(step: int) -> dict[str, float]:
    idx = batches_lib.batch_indices(len(examples), batch_size, step, seed)
    batch = qa.sft_batch(examples, idx, pad_id=pad_id, prompt_len=prompt_len,
                         target_len=target_len)
    return trainer.train_step(batch)

  return step_fn


def rl_steps(trainer, loaded, prompts: Sequence[Sequence[int]], reward_fn: RewardFn, *,
             questions_per_step: int, group_size: int, max_new_tokens: int,
             temperature: float = 1.0, stop: Sequence[str] = (),
             stop_token_ids: Sequence[int] | None = None, seed: int = 0,
             advantage: str = "grpo", std_normalize: bool = True, updates_per_rollout: int = 1,
             pad_id: int = 0, question_ids: Sequence | None = None, max_rows: int = 256,
             prompt_len: int | None = None, continuation_len: int | None = None,
             skip_without_signal: bool = True):
  """RL with verifiable rewards: per step, sample `group_size` completions of
  `questions_per_step` prompts with the current policy (the project's sampler),
  score them, and make `updates_per_rollout` updates on that batch.

  `prompt_len` / `continuation_len` fix the padded lengths (one compilation of
  the update; default: buckets of each batch's longest).
  With more than one update, the log-probabilities of the sampling policy are
  fixed first (`old_logprobs`), so the ratio and its clipping act (PPO-style).
  With `skip_without_signal`, a rollout whose advantages are all zero (every
  group's rewards equal) makes no update: its gradient would be the KL term's
  alone, near zero at the start, which Adam's normalisation would blow up
  into a full-size random step. Its log-prob gap is still measured.
  Metrics: the trainer's (loss, KL k1 / k3, clip fraction, sampler-vs-trainer
  log-prob gap of the first update, ...) plus `reward_mean`, `reward_std`,
  `zero_advantage_groups` (share of groups whose rewards are all equal),
  `completion_length` and `skipped` (1 when no update was made).
  """
  if not prompts:
    raise ValueError("rl: no prompts")
  if updates_per_rollout < 1:
    raise ValueError(f"rl.updates_per_rollout: expected >= 1, got {updates_per_rollout}")
  ids = list(question_ids) if question_ids is not None else list(range(len(prompts)))

  def step_fn(step: int) -> dict[str, float]:
    idx = batches_lib.batch_indices(len(prompts), questions_per_step, step, seed)
    ro = rl.rollout(trainer.policy_loaded(loaded, copy=False), [prompts[i] for i in idx],
                    group_size=group_size, max_new_tokens=max_new_tokens, temperature=temperature,
                    stop=stop, stop_token_ids=stop_token_ids,
                    seed=batches_lib.step_seed(seed, step, 1),
                    question_ids=[ids[i] for i in idx], max_rows=max_rows)
    rewards = np.asarray(reward_fn(ro, idx), np.float32)
    batch = rl.policy_gradient_batch(ro, rewards, advantage=advantage,
                                     std_normalize=std_normalize, pad_id=pad_id,
                                     prompt_len=prompt_len, continuation_len=continuation_len)
    if skip_without_signal and not np.any(batch["advantages"]):
      mask = batch["loss_mask"]
      gap = np.abs(trainer.logprobs(batch) - batch["sampler_logprobs"]) * mask
      metrics = {"skipped": 1.0, "logprob_gap_max": float(gap.max()),
                 "logprob_gap_mean": float(gap.sum() / max(mask.sum(), 1.0))}
    else:
      if updates_per_rollout > 1:
        batch["old_logprobs"] = trainer.logprobs(batch)
      metrics = {}
      for u in range(updates_per_rollout):
        m = trainer.train_step(batch)
        if u == 0:
          metrics = m
        else:
          metrics.update({f"last_{k}": v for k, v in m.items()
                          if k in ("loss", "clip_fraction", "ratio", "kl_k3")})
      metrics["skipped"] = 0.0
    metrics.update(reward_mean=float(rewards.mean()), reward_std=float(rewards.std()),
                   zero_advantage_groups=float(np.mean(rewards.std(axis=1) == 0)),
                   completion_length=ro.mean_length())
    return metrics

  return step_fn


def dpo_steps(trainer, pairs: Sequence[rl.Pair], *, batch_size: int, seed: int = 0,
              pad_id: int = 0, prompt_len: int | None = None,
              continuation_len: int | None = None):
  """DPO on fixed preference pairs in seeded epochs."""
  if not pairs:
    raise ValueError("dpo: no preference pairs (no question had both a correct and an incorrect "
                     "sample; sample more questions or more samples per question)")

  def step_fn(step: int) -> dict[str, float]:
    idx = batches_lib.batch_indices(len(pairs), batch_size, step, seed)
    batch = rl.dpo_batch([pairs[int(i)] for i in idx], pad_id=pad_id, prompt_len=prompt_len,
                         continuation_len=continuation_len)
    return trainer.train_step(batch)

  return step_fn


__all__ = ["RewardFn", "dpo_steps", "rl_steps", "sft_steps"]
