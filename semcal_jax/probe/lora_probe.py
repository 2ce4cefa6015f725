"""The LoRA probe: can the model learn to state its own answer distribution up front?

Prompted with the question only, the model scores each candidate class's
canonical answer string; the probe's distribution over the K candidates is the
softmax of those sequence log-probabilities (`training.objectives.SoftLabel`).
A rank-8 LoRA is trained with soft-label cross-entropy towards the targets (the
empirical class shares of the model's own samples) on a train split of the
questions; on the held-out questions we report

  heldout_kl   mean KL(target || probe)
  noise_floor  what a perfect probe would still show with M samples per target
               (`targets.noise_floor`, split-half estimate)
  kl_gap       heldout_kl - noise_floor: how far the model is from predicting
               its own distribution (the theory: small gap <-> calibrated)
  kl_before    the same KL before training (the unadapted model's own scores)
  probe calibration: confidence = the probe's largest candidate probability,
               correct = that candidate's class matches a reference.

    cands = encode_candidates(tok, t.answers, t.valid, eos_id=tok.eos_id)
    res = train_probe(model, prompts, cands, t, ProbeConfig(steps=200), mesh=mesh)
    res.summary["kl_gap"]
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from semcal_jax.calibration import summary as calib_summary
from semcal_jax.probe import targets as targets_lib
from semcal_jax.training import batches as batches_lib
from semcal_jax.training import lora as lora_lib
from semcal_jax.training import objectives
from semcal_jax.training import optim
from semcal_jax.training.trainer import Trainer


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
  """How the probe is trained (see `configs/probe_*.py` for the config fields).

  Attributes:
    rank, alpha, lora_targets: the LoRA (rank 8 by default, as in the paper).
    learning_rate, steps, batch_size: AdamW with a constant rate, `steps`
      updates of `batch_size` train questions.
    train_fraction: share of the (usable) questions the probe trains on.
    per_token_mean: score candidates by mean instead of summed token log-prob.
    seed: split, data order and LoRA initialisation.
    n_bootstrap: resamples for the CI of the probe's smECE.
  """
  rank: int = 8
  alpha: float = 16.0
  lora_targets: tuple[str, ...] = ("q", "k", "v", "o", "gate", "up", "down")
  learning_rate: float = 1e-3
  steps: int = 200
  batch_size: int = 16
  train_fraction: float = 0.8
  per_token_mean: bool = False
  seed: int = 0
  n_bootstrap: int = 200
  logit_chunk: int = 512

  def __post_init__(self):
    if not 0.0 < self.train_fraction < 1.0:
      raise ValueError(f"probe.train_fraction: expected in (0, 1), got {self.train_fraction}")
    for name in ("rank", "steps", "batch_size"):
      if int(getattr(self, name)) < 1:
        raise ValueError(f"probe.{name}: expected >= 1, got {getattr(self, name)}")

  @classmethod
  def from_config(cls, cfg) -> "ProbeConfig":
    d = dict(cfg)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
      raise ValueError(f"probe config: unknown keys {unknown}; known: {sorted(known)}")
    if "lora_targets" in d:
      d["lora_targets"] = tuple(d["lora_targets"])
    return cls(**d)


@dataclasses.dataclass
class ProbeResult:
  """Held-out results of one probe. Arrays are over held-out questions `[Qh]`
  (`probs [Qh, K]`); `summary` holds the scalars (module docstring)."""
  train_idx: np.ndarray
  heldout_idx: np.ndarray
  probs: np.ndarray
  probs_before: np.ndarray
  kl: np.ndarray
  floor: np.ndarray
  summary: dict[str, Any]
  history: list[dict[str, float]]


def encode_candidates(tokenizer, answers: Sequence[Sequence[str]], valid: np.ndarray, *,
                      prefix: str = " ", eos_id: int | None = None) -> list[list[list[int]]]:
  """Token ids `[Q][K]` of each candidate's `prefix + answer` (+ EOS, so that
  "Paris" is not also credited with "Paris Hilton"); padding candidates get []."""
  out = []
  for row, ok in zip(answers, valid):
    ids = []
    for a, v in zip(row, ok):
      if not v:
        ids.append([])
        continue
      t = list(tokenizer.encode(prefix + a, add_bos=False))
      ids.append(t + ([int(eos_id)] if eos_id is not None else []))
    out.append(ids)
  return out


def split(n: int, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """A seeded train / held-out split of `range(n)` (both sorted, both non-empty)."""
  if n < 2:
    raise ValueError(f"probe: need at least 2 questions with a parsed sample to split into "
                     f"train and held-out, got {n} (are all the run's answers unparsed?)")
  perm = np.random.default_rng([seed, 97]).permutation(n)
  k = min(n - 1, max(1, int(round(train_fraction * n))))
  return np.sort(perm[:k]), np.sort(perm[k:])


def _batch(prompts, cands, t: targets_lib.Targets, idx, *, pad_id, prompt_len, cand_len):
  b = batches_lib.pack([prompts[i] for i in idx], [cands[i] for i in idx], pad_id=pad_id,
                       prompt_len=prompt_len, continuation_len=cand_len)
  b["targets"] = t.shares[idx].astype(np.float32)
  b["valid"] = t.valid[idx]
  return b


def _probs(trainer: Trainer, prompts, cands, t, idx, *, chunk, per_token_mean,
           **kw) -> np.ndarray:
  """The probe's distribution `[len(idx), K]` over each question's valid candidates."""
  out = []
  for start in range(0, len(idx), chunk):
    part = idx[start:start + chunk]
    n = len(part)  # the last chunk is padded to `chunk` rows: one compilation
    b = _batch(prompts, cands, t, np.concatenate([part, np.repeat(part[-1:], chunk - n)]), **kw)
    lp = trainer.logprobs(b)  # [E, K, T]
    _, log_q, valid = objectives.candidate_log_q(lp, b["loss_mask"], b["valid"], per_token_mean)
    out.append(np.where(valid, np.exp(np.asarray(log_q, np.float64)), 0.0)[:n])
  return np.concatenate(out, 0)


def train_probe(model, prompts: Sequence[Sequence[int]],
                candidates: Sequence[Sequence[Sequence[int]]], t: targets_lib.Targets,
                cfg: ProbeConfig = ProbeConfig(), *, mesh=None, pad_id: int = 0,
                progress: bool = True, log=print) -> ProbeResult:
  """Trains the LoRA probe on a split of the usable questions (module docstring).

  Args:
    model: the `Transformer` whose own distribution is probed (its weights stay
      frozen; only the LoRA adapters train).
    prompts: `[Q]` prompt ids (the question only; BOS included).
    candidates: `[Q][K]` candidate ids (`encode_candidates`).
    t: the targets of the same Q questions.
    mesh: the model's mesh (None: one device).
  """
  if not (len(prompts) == len(candidates) == t.counts.shape[0]):
    raise ValueError(f"probe: {len(prompts)} prompts, {len(candidates)} candidate lists and "
                     f"{t.counts.shape[0]} targets (need one of each per question)")
  usable = np.flatnonzero(t.usable)
  tr, ho = split(len(usable), cfg.train_fraction, cfg.seed)
  train_idx, heldout_idx = usable[tr], usable[ho]
  # Fixed lengths (one compilation): the prompt bucket, the longest candidate
  # rounded to 4 (candidates are short; padding them to 16 would double the
  # vocabulary projection, the largest cost on a 262k vocabulary).
  longest = max(1, max(len(c) for row in candidates for c in row))
  lens = dict(prompt_len=batches_lib.bucket(max(len(p) for p in prompts)),
              cand_len=-(-longest // 4) * 4)
  kw = dict(pad_id=pad_id, **lens)
  trainer = Trainer(model, objectives.SoftLabel(per_token_mean=cfg.per_token_mean),
                    optim.make(optim.OptimConfig(learning_rate=cfg.learning_rate,
                                                 total_steps=cfg.steps)),
                    lora=lora_lib.LoraConfig(rank=cfg.rank, alpha=cfg.alpha,
                                             targets=tuple(cfg.lora_targets)),
                    mesh=mesh, logit_chunk=cfg.logit_chunk, seed=cfg.seed)
  before = _probs(trainer, prompts, candidates, t, heldout_idx, chunk=cfg.batch_size,
                  per_token_mean=cfg.per_token_mean, **kw)
  history = []
  bar = tqdm(range(cfg.steps), desc="probe", leave=False, disable=not progress)
  for step in bar:
    idx = train_idx[batches_lib.batch_indices(len(train_idx), cfg.batch_size, step, cfg.seed)]
    m = trainer.train_step(_batch(prompts, candidates, t, idx, **kw))
    history.append({"step": step + 1, "train_kl": m["kl"], "top1_agreement": m["top1_agreement"]})
    bar.set_postfix(kl=f"{m['kl']:.3f}")
  probs = _probs(trainer, prompts, candidates, t, heldout_idx, chunk=cfg.batch_size,
                 per_token_mean=cfg.per_token_mean, **kw)
  ho_t = t.subset(heldout_idx)
  kl = targets_lib.kl(ho_t.shares, probs, ho_t.valid)
  kl_before = targets_lib.kl(ho_t.shares, before, ho_t.valid)
  floor = targets_lib.noise_floor(ho_t, seed=cfg.seed)
  out = {"train_questions": int(len(train_idx)), "heldout_questions": int(len(heldout_idx)),
         "candidates_mean": float(ho_t.valid.sum(-1).mean()),
         "dropped_share": float(ho_t.dropped.mean()), "num_samples": t.num_samples,
         "heldout_kl": float(kl.mean()), "noise_floor": float(floor.mean()),
         "kl_gap": float(kl.mean() - floor.mean()), "kl_before": float(kl_before.mean()),
         "kl_gap_before": float(kl_before.mean() - floor.mean()),
         "train_kl_last": float(np.mean([h["train_kl"] for h in history[-10:]])),
         "trainable_parameters": trainer.num_trainable()}
  top = np.argmax(probs, -1)
  conf = probs[np.arange(len(top)), top]
  correct = ho_t.correct[np.arange(len(top)), top].astype(np.float64)
  cal = calib_summary.calibration_metrics(conf, correct, n_bootstrap=cfg.n_bootstrap,
                                          seed=cfg.seed)
  out["probe_calibration"] = {k: cal[k] for k in ("accuracy", "mean_confidence", "smece",
                                                   "smece_ci", "ece", "brier")
                              if k in cal}
  log(f"probe: {len(train_idx)} train / {len(heldout_idx)} held-out questions; held-out "
      f"KL {out['heldout_kl']:.4f} (before {out['kl_before']:.4f}), floor "
      f"{out['noise_floor']:.4f}, gap {out['kl_gap']:.4f}")
  return ProbeResult(train_idx, heldout_idx, probs, before, kl, floor, out, history)


__all__ = ["ProbeConfig", "ProbeResult", "encode_candidates", "split", "train_probe"]
