"""Optimizers from config: AdamW or SGD, warmup + constant / cosine / linear decay, clipping.

    tx = optim.make(optim.OptimConfig(learning_rate=1e-4, warmup_steps=10, total_steps=100))

Weight decay applies to matrices only (ndim >= 2), never to norm scales or biases.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import optax

SCHEDULES = ("constant", "cosine", "linear")
OPTIMIZERS = ("adamw", "sgd")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """Optimizer settings.

  Attributes:
    optimizer: "adamw" or "sgd" (with `b1` as momentum; 0 = none).
    learning_rate: peak learning rate.
    schedule: "constant", "cosine" or "linear" decay after warmup, to
      `end_lr_fraction * learning_rate` at `total_steps`.
    warmup_steps: linear warmup from 0.
    total_steps: optimizer updates of the run (for the decay).
    b1, b2, eps, weight_decay: AdamW's.
    grad_clip: clip the global gradient norm to this (0 = no clipping).
  """
  optimizer: str = "adamw"
  learning_rate: float = 1e-4
  schedule: str = "constant"
  warmup_steps: int = 0
  total_steps: int = 1000
  end_lr_fraction: float = 0.0
  b1: float = 0.9
  b2: float = 0.999
  eps: float = 1e-8
  weight_decay: float = 0.0
  grad_clip: float = 1.0

  def __post_init__(self):
    if self.optimizer not in OPTIMIZERS:
      raise ValueError(f"optim.optimizer: expected one of {OPTIMIZERS}, got {self.optimizer!r}")
    if self.schedule not in SCHEDULES:
      raise ValueError(f"optim.schedule: expected one of {SCHEDULES}, got {self.schedule!r}")
    if not self.learning_rate > 0:
      raise ValueError(f"optim.learning_rate: expected > 0, got {self.learning_rate!r}")
    if self.warmup_steps < 0 or self.total_steps < 1:
      raise ValueError(f"optim.warmup_steps / total_steps: got {self.warmup_steps}, "
                       f"{self.total_steps} (need >= 0, >= 1)")
    if self.grad_clip < 0 or self.weight_decay < 0:
      raise ValueError(f"optim.grad_clip / weight_decay must be >= 0, got {self.grad_clip}, "
                       f"{self.weight_decay}")


def schedule(cfg: OptimConfig) -> optax.Schedule:
  """Learning rate as a function of the update count."""
  peak, end = cfg.learning_rate, cfg.learning_rate * cfg.end_lr_fraction
  decay_steps = max(1, cfg.total_steps - cfg.warmup_steps)
  if cfg.schedule == "constant":
    after = optax.constant_schedule(peak)
  elif cfg.schedule == "cosine":
    after = optax.cosine_decay_schedule(peak, decay_steps, alpha=cfg.end_lr_fraction)
  else:
    after = optax.linear_schedule(peak, end, decay_steps)
  if not cfg.warmup_steps:
    return after
  warm = optax.linear_schedule(0.0, peak, cfg.warmup_steps)
  return optax.join_schedules([warm, after], [cfg.warmup_steps])


def _decay_mask(params):
  return jax.tree.map(lambda x: getattr(x, "ndim", 0) >= 2, params)


def make(cfg: OptimConfig) -> optax.GradientTransformation:
  """The optimizer of `cfg` (module docstring)."""
  lr = schedule(cfg)
  if cfg.optimizer == "adamw":
    core = optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay,
                       mask=_decay_mask)
  else:
    parts = [optax.sgd(lr, momentum=cfg.b1 or None)]
    if cfg.weight_decay:
      parts.insert(0, optax.add_decayed_weights(cfg.weight_decay, mask=_decay_mask))
    core = optax.chain(*parts)
  if cfg.grad_clip:
    return optax.chain(optax.clip_by_global_norm(cfg.grad_clip), core)
  return core


def from_config(cfg: Mapping[str, Any], total_steps: int | None = None) -> OptimConfig:
  """`OptimConfig` from a config dict (unknown keys are an error naming them)."""
  known = {f.name for f in dataclasses.fields(OptimConfig)}
  unknown = sorted(set(cfg) - known)
  if unknown:
    raise ValueError(f"optim: unknown keys {unknown}; known: {sorted(known)}")
  values = dict(cfg)
  if total_steps is not None and "total_steps" not in values:
    values["total_steps"] = total_steps
  return OptimConfig(**values)


__all__ = ["OPTIMIZERS", "OptimConfig", "SCHEDULES", "from_config", "make", "schedule"]
