"""Objectives and advantages on hand-made arrays: the formulas, their gradients, their metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from semcal_jax.training import objectives as O
from semcal_jax.training import rl


def _batch(mask, **extra):
  return {"loss_mask": jnp.asarray(mask, jnp.float32), **{k: jnp.asarray(v) for k, v in
                                                          extra.items()}}


def test_next_token_token_and_sequence_means():
  logp = jnp.log(jnp.array([[[0.5, 0.25, 1.0]], [[0.5, 1.0, 1.0]]]))
  mask = [[[1, 1, 0]], [[1, 0, 0]]]
  out = O.NextToken()(logp, _batch(mask))
  want = (np.log(2) + np.log(4) + np.log(2)) / 3
  assert abs(float(out.total / out.weight) - want) < 1e-6
  seq = O.NextToken(per="sequence")(logp, _batch(mask))
  want_seq = ((np.log(2) + np.log(4)) / 2 + np.log(2)) / 2
  assert abs(float(seq.total / seq.weight) - want_seq) < 1e-6
  with pytest.raises(ValueError, match="sft.per"):
    O.NextToken(per="batch")


def test_kl_estimators():
  lp, ref = jnp.array([-1.0, -2.0]), jnp.array([-1.5, -1.0])
  np.testing.assert_allclose(O.kl_estimate(lp, ref, "k1"), [0.5, -1.0])
  r = np.exp(np.array([-1.5, -1.0]) - np.array([-1.0, -2.0]))  # ref / pi
  np.testing.assert_allclose(O.kl_estimate(lp, ref, "k3"), r - 1 - np.log(r), rtol=1e-6)
  assert np.all(np.asarray(O.kl_estimate(lp, ref, "k3")) >= 0)
  with pytest.raises(ValueError, match="k1"):
    O.kl_estimate(lp, ref, "k2")


def test_policy_gradient_clipping_kl_and_gradient():
  logp = jnp.array([[[-1.0, -0.5], [-2.0, -0.1]]])  # [E=1, S=2, T=2]
  old = jnp.array([[[-1.5, -0.5], [-1.0, -0.1]]])  # ratios e^.5, 1, e^-1, 1
  ref = jnp.array([[[-1.2, -0.7], [-2.0, -0.3]]])
  adv = jnp.array([[1.0, -1.0]])
  mask = jnp.ones((1, 2, 2))
  obj = O.PolicyGradient(clip_low=0.2, clip_high=0.2, beta=0.1, kl="k3", aggregate="token")
  b = _batch(mask, advantages=adv, old_logprobs=old)
  out = obj(logp, b, ref)
  ratio = np.exp(np.asarray(logp - old))[0]
  a = np.array([[1.0], [-1.0]])
  pg = -np.minimum(ratio * a, np.clip(ratio, 0.8, 1.2) * a)
  kl = np.asarray(O.kl_estimate(logp, ref, "k3"))[0]
  assert abs(float(out.total / out.weight) - (pg + 0.1 * kl).mean()) < 1e-6
  assert abs(float(out.sums["clip_fraction"] / out.counts["clip_fraction"]) - 0.5) < 1e-6
  # Gradient: clipped tokens get none from the policy term; unclipped ones get -A * ratio.
  g = jax.grad(lambda x: obj(x, b, ref).total)(logp)
  g_pg = np.asarray(g)[0] - 0.1 * (1 - np.exp(np.asarray(ref - logp)[0]))
  np.testing.assert_allclose(g_pg, [[0.0, -1.0], [0.0, 1.0]], atol=1e-6)
  # Without a reference and beta > 0 it refuses; with beta = 0 it needs none.
  with pytest.raises(ValueError, match="reference"):
    obj(logp, b)
  assert not O.PolicyGradient(beta=0.0).needs_reference


def test_policy_gradient_on_policy_ratio_and_gap_metric():
  logp = jnp.array([[[-1.0, -2.0, -3.0]]])
  b = _batch([[[1, 1, 0]]], advantages=[[2.0]], sampler_logprobs=[[[-1.0, -2.00005, 9.0]]])
  out = O.PolicyGradient(beta=0.0)(logp, b)
  assert abs(float(out.sums["ratio"] / out.counts["ratio"]) - 1.0) < 1e-7
  assert abs(float(out.maxima["logprob_gap_max"]) - 5e-5) < 1e-6  # the masked token ignored
  g = jax.grad(lambda x: O.PolicyGradient(beta=0.0)(x, b).total)(logp)
  np.testing.assert_allclose(np.asarray(g)[0, 0], [-1.0, -1.0, 0.0])  # -A / tokens, sequence mean


def test_advantages():
  r = np.array([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
  np.testing.assert_allclose(rl.advantages(r, "grpo")[0], [1, -1, -1, 1], atol=1e-5)
  np.testing.assert_array_equal(rl.advantages(r, "grpo")[1], 0.0)
  np.testing.assert_allclose(rl.advantages(r, "grpo", std_normalize=False)[0], [.5, -.5, -.5, .5])
  loo = rl.advantages(r, "rloo")[0]
  np.testing.assert_allclose(loo, [1 - 1 / 3, 0 - 2 / 3, 0 - 2 / 3, 1 - 1 / 3], atol=1e-6)
  np.testing.assert_array_equal(rl.advantages(r, "reinforce"), r)
  np.testing.assert_allclose(rl.advantages(r, "reinforce_baseline"), r - 0.75)
  with pytest.raises(ValueError, match="advantage"):
    rl.advantages(r, "ppo")


def test_dpo_sigmoid_ipo_and_metrics():
  logp = jnp.array([[[-1.0, -1.0], [-3.0, -1.0]]])  # chosen sum -2, rejected sum -4
  ref = jnp.array([[[-1.5, -1.0], [-2.0, -1.0]]])  # chosen -2.5, rejected -3
  b = _batch(jnp.ones((1, 2, 2)))
  h = (-2 + 2.5) - (-4 + 3)  # 1.5
  out = O.DPO(beta=0.1)(logp, b, ref)
  assert abs(float(out.total) - np.log1p(np.exp(-0.15))) < 1e-6
  assert abs(float(out.sums["reward_margin"]) - 0.15) < 1e-6
  assert float(out.sums["logp_margin"]) == 2.0 and float(out.sums["pair_accuracy"]) == 1.0
  ipo = O.DPO(beta=0.5, loss="ipo")(logp, b, ref)
  assert abs(float(ipo.total) - (h - 1.0) ** 2) < 1e-6
  with pytest.raises(ValueError, match="2 continuations"):
    O.DPO()(logp[:, :1], b, ref[:, :1])
  with pytest.raises(ValueError, match="dpo.loss"):
    O.DPO(loss="hinge")


def test_soft_label_cross_entropy_and_kl():
  target = np.array([[0.7, 0.2, 0.1, 0.0]])
  valid = np.array([[True, True, True, False]])
  # Candidates of 2 tokens each; sequence log-probs log(0.7), log(0.2), log(0.1) (+ junk).
  seq = np.log(np.array([0.7, 0.2, 0.1, 0.9]))
  logp = jnp.asarray(np.stack([seq / 2, seq / 2], -1)[None], jnp.float32)  # [1, 4, 2]
  b = _batch(jnp.ones((1, 4, 2)), targets=target, valid=valid)
  out = O.SoftLabel()(logp, b)
  assert abs(float(out.sums["kl"])) < 1e-6
  entropy = -np.sum(target[0, :3] * np.log(target[0, :3]))
  assert abs(float(out.total) - entropy) < 1e-5
  assert float(out.sums["top1_agreement"]) == 1.0
  flat = jnp.zeros_like(logp)  # uniform over the 3 valid candidates
  kl = float(O.SoftLabel()(flat, b).sums["kl"])
  assert abs(kl - (np.log(3) - entropy)) < 1e-5


def test_make_by_name():
  assert isinstance(O.make("grpo", {"beta": 0.0}), O.PolicyGradient)
  assert isinstance(O.make("sft"), O.NextToken)
  with pytest.raises(ValueError, match="unknown options"):
    O.make("dpo", {"betta": 1})
  with pytest.raises(ValueError, match="unknown 'ppo'"):
    O.make("ppo")
