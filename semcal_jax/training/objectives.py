"""Training objectives: next-token SFT, policy gradient (GRPO / RLOO / REINFORCE), DPO, soft labels.

An objective turns the policy's token log-probabilities `logp [E, S, T]` of a
batch (layout in `batches.py`), and the frozen reference's `ref_logp` when it
needs one, into a `LossOut`: the *sum* of its unit losses and the number of
units (tokens, sequences or examples), plus metric sums and counts. The
trainer divides the summed totals of all microbatches by their summed
weights, so gradient accumulation gives the same update as one big batch,
whatever the split.

Objectives are frozen dataclasses (hashable: static under `jit`):

    NextToken()                              # SFT and CoT-SFT: mean NLL of target tokens
    PolicyGradient(clip=0.2, beta=0.04, kl="k3")   # GRPO; advantages decide GRPO / RLOO / REINFORCE
    DPO(beta=0.1)                            # S = 2: chosen, rejected
    SoftLabel()                              # S = K candidate answers, batch["targets"] [E, K]
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp


class LossOut(NamedTuple):
  """Sums over one microbatch.

  Attributes:
    total: scalar, sum of the unit losses.
    weight: scalar, number of units (the loss is `total / weight` over the batch).
    sums, counts: metric name -> scalar sum and count (reported as sum / count).
    maxima: metric name -> scalar maximum.
  """
  total: jax.Array
  weight: jax.Array
  sums: dict[str, jax.Array]
  counts: dict[str, jax.Array]
  maxima: dict[str, jax.Array]


def _mean_metrics(pairs: Mapping[str, tuple[jax.Array, jax.Array]], maxima=None):
  return ({k: v[0] for k, v in pairs.items()}, {k: v[1] for k, v in pairs.items()},
          dict(maxima or {}))


@dataclasses.dataclass(frozen=True)
class Objective:
  """Base class. `fields`: batch keys needed beyond the layout's."""
  name = "objective"
  fields: tuple[str, ...] = dataclasses.field(default=(), init=False)

  @property
  def needs_reference(self) -> bool:
    return False

  def __call__(self, logp: jax.Array, batch: Mapping[str, jax.Array],
               ref_logp: jax.Array | None = None) -> LossOut:
    raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class NextToken(Objective):
  """Next-token cross-entropy on the masked continuation tokens (SFT, CoT-SFT,
  pretraining). `per="token"`: mean over all target tokens of the batch;
  `per="sequence"`: mean over sequences of each sequence's mean."""
  name = "sft"
  per: str = "token"

  def __post_init__(self):
    if self.per not in ("token", "sequence"):
      raise ValueError(f"sft.per: expected 'token' or 'sequence', got {self.per!r}")

  def __call__(self, logp, batch, ref_logp=None):
    mask = batch["loss_mask"]
    nll = -logp * mask
    tokens = jnp.sum(mask)
    if self.per == "token":
      total, weight = jnp.sum(nll), tokens
    else:
      per_seq = jnp.sum(mask, axis=-1)
      has = per_seq > 0
      total = jnp.sum(jnp.where(has, jnp.sum(nll, -1) / jnp.maximum(per_seq, 1), 0.0))
      weight = jnp.sum(has).astype(jnp.float32)
    sums, counts, maxima = _mean_metrics({"nll": (jnp.sum(nll), tokens),
                                          "target_tokens": (tokens, jnp.float32(1))})
    return LossOut(total, weight, sums, counts, maxima)


def kl_estimate(logp, ref_logp, estimator: str):
  """Per-token estimate of KL(policy || reference) from samples of the policy:
  k1 = log(pi / ref) (unbiased, high variance, can be negative); k3 =
  ref/pi - 1 - log(ref/pi) (unbiased, >= 0, low variance; Schulman 2020)."""
  log_ratio = logp - ref_logp
  if estimator == "k1":
    return log_ratio
  if estimator == "k3":
    return jnp.exp(-log_ratio) - 1.0 + log_ratio
  raise ValueError(f"kl estimator: expected 'k1' or 'k3', got {estimator!r}")


@dataclasses.dataclass(frozen=True)
class PolicyGradient(Objective):
  """Clipped-ratio policy gradient with a KL penalty to a frozen reference (GRPO).

  Batch fields: `advantages [E, S]` (group-normalised for GRPO, leave-one-out
  for RLOO, raw or baselined rewards for REINFORCE: see `rl.advantages`);
  optional `old_logprobs [E, S, T]` (the policy that sampled; default: the
  current policy with its gradient stopped, i.e. one update per rollout,
  ratio 1) and `sampler_logprobs [E, S, T]` (logged: the sampler-vs-trainer gap).

  Per token: `-min(r A, clip(r, 1 - clip_low, 1 + clip_high) A) + beta * KL`,
  `r = exp(logp - old_logprobs)`, KL by the `kl` estimator ("k1" or "k3").
  `aggregate="token"`: mean over all completion tokens of the batch (DAPO);
  `"sequence"`: mean over sequences of each one's token mean (GRPO paper).
  """
  name = "policy_gradient"
  clip_low: float = 0.2
  clip_high: float = 0.2
  beta: float = 0.04
  kl: str = "k3"
  aggregate: str = "sequence"
  fields: tuple[str, ...] = dataclasses.field(default=("advantages",), init=False)

  def __post_init__(self):
    if self.kl not in ("k1", "k3"):
      raise ValueError(f"rl.kl_estimator: expected 'k1' or 'k3', got {self.kl!r}")
    if self.aggregate not in ("token", "sequence"):
      raise ValueError(f"rl.aggregate: expected 'token' or 'sequence', got {self.aggregate!r}")
    if self.beta < 0 or self.clip_low < 0 or self.clip_high < 0:
      raise ValueError(f"rl: beta, clip_low, clip_high must be >= 0, got {self.beta}, "
                       f"{self.clip_low}, {self.clip_high}")

  @property
  def needs_reference(self) -> bool:
    return self.beta > 0

  def __call__(self, logp, batch, ref_logp=None):
    mask = batch["loss_mask"]
    adv = batch["advantages"][..., None].astype(jnp.float32)
    old = batch.get("old_logprobs")
    old = jax.lax.stop_gradient(logp) if old is None else old
    ratio = jnp.exp(logp - old)
    clipped = jnp.clip(ratio, 1.0 - self.clip_low, 1.0 + self.clip_high)
    pg = -jnp.minimum(ratio * adv, clipped * adv)
    per_token = pg
    pairs = {}
    if ref_logp is not None:
      k1 = kl_estimate(logp, ref_logp, "k1")
      k3 = kl_estimate(logp, ref_logp, "k3")
      per_token = pg + self.beta * (k1 if self.kl == "k1" else k3)
      pairs["kl_k1"] = (jnp.sum(jax.lax.stop_gradient(k1) * mask), jnp.sum(mask))
      pairs["kl_k3"] = (jnp.sum(jax.lax.stop_gradient(k3) * mask), jnp.sum(mask))
    elif self.needs_reference:
      raise ValueError("policy_gradient with beta > 0 needs reference log-probs")
    n_tok = jnp.sum(mask)
    if self.aggregate == "token":
      total, weight = jnp.sum(per_token * mask), n_tok
    else:
      per_seq = jnp.sum(mask, axis=-1)
      has = per_seq > 0
      total = jnp.sum(jnp.where(has, jnp.sum(per_token * mask, -1) / jnp.maximum(per_seq, 1), 0.))
      weight = jnp.sum(has).astype(jnp.float32)
    was_clipped = (jnp.abs(clipped - ratio) > 0) & (mask > 0)
    pairs.update(
        pg_loss=(jnp.sum(jax.lax.stop_gradient(pg) * mask), n_tok),
        ratio=(jnp.sum(jax.lax.stop_gradient(ratio) * mask), n_tok),
        clip_fraction=(jnp.sum(was_clipped), n_tok),
        completion_tokens=(n_tok, jnp.sum(jnp.sum(mask, -1) > 0)),
        neg_logp=(jnp.sum(-jax.lax.stop_gradient(logp) * mask), n_tok),
    )
    maxima = {}
    sampler = batch.get("sampler_logprobs")
    if sampler is not None:
      gap = jnp.abs(jax.lax.stop_gradient(logp) - sampler) * mask
      pairs["logprob_gap_mean"] = (jnp.sum(gap), n_tok)
      maxima["logprob_gap_max"] = jnp.max(gap)
    return LossOut(total, weight, *_mean_metrics(pairs, maxima))


@dataclasses.dataclass(frozen=True)
class DPO(Objective):
  """Direct preference optimisation on pairs: continuation 0 chosen, 1 rejected.

  `h = (logpi_c - logref_c) - (logpi_r - logref_r)` over the masked tokens;
  loss `-log sigmoid(beta h)` (with `label_smoothing` eps: conservative DPO,
  `-(1-eps) log s(beta h) - eps log s(-beta h)`), or IPO's `(h - 1/(2 beta))^2`.
  Metrics: `reward_margin` = beta h, `logp_margin` = logpi_c - logpi_r,
  `pair_accuracy` = share of pairs with h > 0.
  """
  name = "dpo"
  beta: float = 0.1
  loss: str = "sigmoid"
  label_smoothing: float = 0.0

  def __post_init__(self):
    if self.loss not in ("sigmoid", "ipo"):
      raise ValueError(f"dpo.loss: expected 'sigmoid' or 'ipo', got {self.loss!r}")
    if not self.beta > 0:
      raise ValueError(f"dpo.beta: expected > 0, got {self.beta!r}")
    if not 0 <= self.label_smoothing < 0.5:
      raise ValueError(f"dpo.label_smoothing: expected in [0, 0.5), got {self.label_smoothing!r}")

  @property
  def needs_reference(self) -> bool:
    return True

  def __call__(self, logp, batch, ref_logp=None):
    if logp.shape[1] != 2:
      raise ValueError(f"dpo: expected 2 continuations per example (chosen, rejected), got "
                       f"{logp.shape[1]}")
    if ref_logp is None:
      raise ValueError("dpo needs reference log-probs")
    mask = batch["loss_mask"]
    seq = jnp.sum(logp * mask, axis=-1)  # [E, 2]
    ref = jnp.sum(ref_logp * mask, axis=-1)
    h = (seq[:, 0] - ref[:, 0]) - (seq[:, 1] - ref[:, 1])
    if self.loss == "sigmoid":
      eps = self.label_smoothing
      losses = -(1 - eps) * jax.nn.log_sigmoid(self.beta * h) - eps * jax.nn.log_sigmoid(
          -self.beta * h)
    else:
      losses = (h - 1.0 / (2.0 * self.beta)) ** 2
    valid = (jnp.sum(mask[:, 0], -1) > 0) & (jnp.sum(mask[:, 1], -1) > 0)
    n = jnp.sum(valid).astype(jnp.float32)
    sg = jax.lax.stop_gradient
    pairs = {"reward_margin": (jnp.sum(jnp.where(valid, self.beta * sg(h), 0.)), n),
             "logp_margin": (jnp.sum(jnp.where(valid, sg(seq[:, 0] - seq[:, 1]), 0.)), n),
             "pair_accuracy": (jnp.sum(valid & (sg(h) > 0)), n),
             "chosen_logp": (jnp.sum(jnp.where(valid, sg(seq[:, 0]), 0.)), n)}
    return LossOut(jnp.sum(jnp.where(valid, losses, 0.0)), n, *_mean_metrics(pairs))


def candidate_log_q(logp, mask, valid=None, per_token_mean: bool = False):
  """The model's distribution over K candidate continuations.

  Args:
    logp: `[E, K, T]` token log-probabilities; mask: `[E, K, T]` the tokens that
      count; valid: optional `[E, K]` bool (padding candidates excluded, and so
      is a candidate whose mask is all zero).
  Returns:
    `(score [E, K], log_q [E, K], valid [E, K])`: summed (or mean) token
    log-probabilities (-inf where not valid), their log-softmax over the valid
    candidates (0 elsewhere), and the effective validity.
  """
  score = jnp.sum(logp * mask, axis=-1)
  if per_token_mean:
    score = score / jnp.maximum(jnp.sum(mask, -1), 1.0)
  valid = jnp.ones(score.shape, bool) if valid is None else jnp.asarray(valid).astype(bool)
  valid = valid & (jnp.sum(mask, -1) > 0)
  score = jnp.where(valid, score, -jnp.inf)
  log_q = jnp.where(valid, jax.nn.log_softmax(score, axis=-1), 0.0)
  return score, log_q, valid


@dataclasses.dataclass(frozen=True)
class SoftLabel(Objective):
  """Soft-label cross-entropy over K candidate continuations (the mechanism probe's objective).

  The model's distribution over the candidates is the softmax of their
  sequence log-probabilities (masked tokens summed; `per_token_mean=True`
  averages instead); the loss per example is `-sum_k targets_k log q_k`.
  Batch fields: `targets [E, K]` (rows sum to 1 over valid candidates),
  optional `valid [E, K]` (bool: padding candidates excluded; so is a
  candidate whose loss mask is all zero).
  Metrics: `kl` = KL(targets || q), `target_entropy`, `top1_agreement`.
  """
  name = "soft_label"
  per_token_mean: bool = False
  fields: tuple[str, ...] = dataclasses.field(default=("targets",), init=False)

  def __call__(self, logp, batch, ref_logp=None):
    score, log_q, valid = candidate_log_q(logp, batch["loss_mask"], batch.get("valid"),
                                          self.per_token_mean)
    t = jnp.where(valid, batch["targets"].astype(jnp.float32), 0.0)
    ce = -jnp.sum(t * log_q, axis=-1)  # [E]
    t_log_t = jnp.sum(jnp.where(t > 0, t * jnp.log(jnp.where(t > 0, t, 1.0)), 0.0), -1)
    has = jnp.any(valid, axis=-1)
    n = jnp.sum(has).astype(jnp.float32)
    sg = jax.lax.stop_gradient
    agree = jnp.argmax(jnp.where(valid, t, -1.0), -1) == jnp.argmax(sg(score), -1)
    pairs = {"kl": (jnp.sum(jnp.where(has, sg(ce) + t_log_t, 0.0)), n),
             "target_entropy": (jnp.sum(jnp.where(has, -t_log_t, 0.0)), n),
             "top1_agreement": (jnp.sum(has & agree), n)}
    return LossOut(jnp.sum(jnp.where(has, ce, 0.0)), n, *_mean_metrics(pairs))


def make(name: str, options: Mapping[str, Any] | None = None) -> Objective:
  """An objective by name ("sft", "policy_gradient" / "grpo", "dpo", "soft_label")."""
  options = dict(options or {})
  table = {"sft": NextToken, "next_token": NextToken, "policy_gradient": PolicyGradient,
           "grpo": PolicyGradient, "dpo": DPO, "soft_label": SoftLabel}
  if name not in table:
    raise ValueError(f"objective: unknown {name!r}; known: {', '.join(sorted(table))}")
  cls = table[name]
  known = {f.name for f in dataclasses.fields(cls) if f.init}
  unknown = sorted(set(options) - known)
  if unknown:
    raise ValueError(f"objective {name!r}: unknown options {unknown}; known: {sorted(known)}")
  return cls(**options)


__all__ = ["DPO", "LossOut", "NextToken", "Objective", "PolicyGradient", "SoftLabel",
           "candidate_log_q", "kl_estimate", "make"]
