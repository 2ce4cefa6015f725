"""RL and preference tuning on toy verifiable tasks: GRPO raises reward, DPO raises the margin."""

import jax
import numpy as np
import pytest

from semcal_jax.training import lora, objectives, optim, recipes, rl
from semcal_jax.training.trainer import Trainer

from tests.training import toy


def _grpo(advantage="grpo", updates=1, lr=1e-2, lora_cfg=None, beta=0.01, seed=0):
  m = toy.model()
  tr = Trainer(m, objectives.PolicyGradient(beta=beta), optim.make(optim.OptimConfig(
      learning_rate=lr)), lora=lora_cfg)
  step = recipes.rl_steps(tr, toy.loaded(m), toy.RL_PROMPTS, toy.rl_reward, questions_per_step=4,
                          group_size=8, max_new_tokens=1, stop_token_ids=(), seed=seed,
                          advantage=advantage, updates_per_rollout=updates)
  return tr, step


def test_grpo_raises_mean_reward():
  """GRPO learns a toy task with a verifiable reward (random policy ~0.25)."""
  tr, step = _grpo()
  rewards, gaps = [], []
  for s in range(24):
    m = step(s)
    rewards.append(m["reward_mean"])
    gaps.append(m["logprob_gap_max"])
  first, last = np.mean(rewards[:4]), np.mean(rewards[-4:])
  assert last >= first + 0.35 and last >= 0.7, rewards
  assert max(gaps) <= 1e-4  # sampler vs trainer, logged every step


def test_rloo_with_ppo_updates_runs():
  tr, step = _grpo(advantage="rloo", updates=2)
  ms = [step(s) for s in range(3)]
  assert all(np.isfinite(m.get("loss", 0.0)) for m in ms)
  done = [m for m in ms if not m["skipped"]]
  assert done and "last_loss" in done[0] and "kl_k3" in done[0]
  assert tr.step == 2 * len(done)  # two optimizer updates per rollout


def test_rollout_without_signal_makes_no_update():
  m = toy.model()
  tr = Trainer(m, objectives.PolicyGradient(beta=0.04), optim.make(optim.OptimConfig(
      learning_rate=1e-2)), lora=lora.LoraConfig(rank=2))
  step = recipes.rl_steps(tr, toy.loaded(m), toy.RL_PROMPTS, lambda ro, idx: np.zeros((4, 4)),
                          questions_per_step=4, group_size=4, max_new_tokens=2,
                          stop_token_ids=(), seed=0)
  before = jax.tree.map(np.asarray, tr.state)
  out = step(0)
  assert out["skipped"] == 1.0 and out["logprob_gap_max"] <= 1e-4
  for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(tr.state)):
    np.testing.assert_array_equal(a, np.asarray(b))


def _dpo_pairs():
  pairs = []
  for p in toy.RL_PROMPTS:
    a = p[1]
    pairs.append(rl.Pair(tuple(p), ((a + 1) % 16, toy.EOS), ((a + 9) % 16, toy.EOS), 0))
    pairs.append(rl.Pair(tuple(p), ((a + 2) % 16, toy.EOS), ((a + 11) % 16, 4, toy.EOS), 0))
  return pairs


def test_dpo_raises_chosen_minus_rejected_margin():
  """DPO increases the policy's chosen-minus-rejected log-prob margin."""
  m = toy.model()
  tr = Trainer(m, objectives.DPO(beta=0.1), optim.make(optim.OptimConfig(learning_rate=1e-2)),
               lora=lora.LoraConfig(rank=4, alpha=8.0, targets=lora.ALL))
  pairs = _dpo_pairs()
  step = recipes.dpo_steps(tr, pairs, batch_size=8, seed=0)
  ms = [step(s) for s in range(16)]
  assert abs(ms[0]["reward_margin"]) < 1e-6  # policy == reference at the start
  batch = rl.dpo_batch(pairs)
  lp = tr.logprobs(batch)
  ref = tr.logprobs(batch, "reference")
  seq = (lp * batch["loss_mask"]).sum(-1)
  seq_ref = (ref * batch["loss_mask"]).sum(-1)
  margin, margin_ref = seq[:, 0] - seq[:, 1], seq_ref[:, 0] - seq_ref[:, 1]
  assert margin.mean() > margin_ref.mean() + 2.0, (margin.mean(), margin_ref.mean())
  assert ms[-1]["reward_margin"] > 0.2 and ms[-1]["pair_accuracy"] == 1.0
  assert ms[-1]["loss"] < 0.6 < ms[0]["loss"]


def test_preference_pairs_from_own_samples():
  ro = rl.Rollout(prompts=[[1, 2], [1, 3], [1, 4]],
                  completions=[[[5], [6], [5], [7]], [[8], [8], [9], [9]], [[2], [2], [3], [4]]],
                  sampler_logprobs=[[np.zeros(1)] * 4] * 3, texts=[[""] * 4] * 3,
                  finish_reasons=[["length"] * 4] * 3)
  correct = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
  pairs = rl.preference_pairs(ro, correct, seed=0, pairs_per_question=2)
  assert [p.question for p in pairs] == [0]  # question 1 has no correct, 2 no incorrect sample
  assert pairs[0].chosen == (5,) and pairs[0].rejected in {(6,), (7,)}  # distinct samples only
  with_ref = rl.preference_pairs(ro, correct, fallback_chosen=[None, [3, 13], None])
  assert [(p.question, p.chosen) for p in with_ref] == [(0, (5,)), (1, (3, 13))]
  batch = rl.dpo_batch(with_ref)
  assert batch["tokens"].shape[:2] == (2, 2)
  with pytest.raises(ValueError, match="no preference pairs"):
    rl.dpo_batch([])
  with pytest.raises(ValueError, match="shape"):
    rl.preference_pairs(ro, correct[:2])
