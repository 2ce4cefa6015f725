"""LoRA as a functional delta on the stacked parameters (no change to the model code).

A target is one projection of every block, e.g. `q` = `blocks.attn.q` with
shape `[L, D, H, Dh]`. Its adapter is `a [L, in, r]` and `b [L, r, out]`,
where `in` / `out` are the projection's input / output dims flattened (`D`
and `H*Dh` for `q`; `H*Dh` and `D` for `o`). Before each forward,

    W' = W + (alpha / r) * (a @ b).reshape(W.shape)

is computed into a *new* parameter tree (`merge`); the base tree is never
written, so the frozen base parameters are themselves the reference model of
RL / DPO (no second copy) and stay bit-identical through training. `b` starts
at zero, so step 0 reproduces the base model exactly. `unmerge` subtracts the
delta again (exact up to float rounding; prefer keeping the base around).

Parameters are plain nested dicts of arrays (`nnx.to_pure_dict` of the
model's `nnx.Param` state): `{"blocks": {"attn": {"q": [L, D, H, Dh], ...}}}`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

Params = dict[str, Any]

# target name -> (path in the parameter tree, number of leading input dims after L)
TARGETS: dict[str, tuple[tuple[str, ...], int]] = {
    "q": (("blocks", "attn", "q"), 1),
    "k": (("blocks", "attn", "k"), 1),
    "v": (("blocks", "attn", "v"), 1),
    "o": (("blocks", "attn", "o"), 2),
    "gate": (("blocks", "mlp", "gate"), 1),
    "up": (("blocks", "mlp", "up"), 1),
    "down": (("blocks", "mlp", "down"), 1),
}
ATTENTION = ("q", "k", "v", "o")
ALL = tuple(TARGETS)


@dataclasses.dataclass(frozen=True)
class LoraConfig:
  """Rank, scale and target projections of a LoRA adapter.

  Attributes:
    rank: r, the adapter rank (>= 1).
    alpha: the delta is scaled by `alpha / rank`.
    targets: names from `TARGETS` ("q", "k", "v", "o", "gate", "up", "down").
    dtype: dtype of the adapter parameters (float32 master weights).
  """
  rank: int = 8
  alpha: float = 16.0
  targets: tuple[str, ...] = ATTENTION
  dtype: str = "float32"

  def __post_init__(self):
    if isinstance(self.rank, bool) or not isinstance(self.rank, (int, np.integer)) or self.rank < 1:
      raise ValueError(f"lora.rank: expected an int >= 1, got {self.rank!r}")
    if not self.alpha > 0:
      raise ValueError(f"lora.alpha: expected > 0, got {self.alpha!r}")
    targets = tuple(self.targets)
    if not targets:
      raise ValueError("lora.targets: empty; name at least one of " + ", ".join(TARGETS))
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
      raise ValueError(f"lora.targets: unknown {unknown}; known: {', '.join(TARGETS)}")
    if len(set(targets)) != len(targets):
      raise ValueError(f"lora.targets: duplicates in {targets}")
    object.__setattr__(self, "targets", targets)

  @property
  def scale(self) -> float:
    return float(self.alpha) / float(self.rank)


def _get(tree: Mapping, path: Sequence[str]):
  node = tree
  for i, key in enumerate(path):
    if not isinstance(node, Mapping) or key not in node:
      raise KeyError(f"parameter {'.'.join(path)}: no {key!r} under "
                     f"{'.'.join(path[:i]) or '<top>'}")
    node = node[key]
  return node


def _with(tree: Mapping, path: Sequence[str], value) -> dict:
  """A shallow copy of `tree` with `path` replaced (the rest shared, not copied)."""
  out = dict(tree)
  if len(path) == 1:
    out[path[0]] = value
  else:
    out[path[0]] = _with(tree[path[0]], path[1:], value)
  return out


def dims(shape: Sequence[int], target: str) -> tuple[int, int, int]:
  """`(L, in, out)` of a stacked target parameter of `shape`."""
  n_in = TARGETS[target][1]
  layers = int(shape[0])
  d_in = int(math.prod(shape[1:1 + n_in]))
  d_out = int(math.prod(shape[1 + n_in:]))
  return layers, d_in, d_out


def init(params: Mapping, config: LoraConfig, rng: jax.Array) -> Params:
  """Adapter parameters `{target: {"a": [L, in, r], "b": [L, r, out]}}`.

  `a` is uniform in `±1/sqrt(in)` (PEFT's Kaiming-uniform default), `b` zero.
  """
  dtype = jnp.dtype(config.dtype)
  out = {}
  keys = jax.random.split(rng, len(config.targets))
  for key, target in zip(keys, config.targets):
    w = _get(params, TARGETS[target][0])
    layers, d_in, d_out = dims(w.shape, target)
    bound = 1.0 / math.sqrt(d_in)
    out[target] = {
        "a": jax.random.uniform(key, (layers, d_in, config.rank), dtype, -bound, bound),
        "b": jnp.zeros((layers, config.rank, d_out), dtype),
    }
  return out


def delta(adapter: Mapping, shape: Sequence[int], target: str, scale: float, dtype):
  """`scale * a @ b` reshaped to the target's `shape`, in `dtype`."""
  layers, d_in, d_out = dims(shape, target)
  a, b = adapter["a"], adapter["b"]
  if a.shape != (layers, d_in, a.shape[-1]) or b.shape != (layers, a.shape[-1], d_out):
    raise ValueError(f"lora {target}: adapter shapes a{tuple(a.shape)} b{tuple(b.shape)} do not "
                     f"fit the parameter {tuple(shape)} (expected a [{layers}, {d_in}, r], "
                     f"b [{layers}, r, {d_out}])")
  d = jnp.einsum("lir,lro->lio", a.astype(jnp.float32), b.astype(jnp.float32))
  return (scale * d).reshape(shape).astype(dtype)


def merge(params: Mapping, adapters: Mapping, config: LoraConfig) -> Params:
  """The model parameters with every adapter's delta added (a new tree; `params`
  is not modified and its untouched leaves are shared, not copied)."""
  out = dict(params)
  for target in config.targets:
    if target not in adapters:
      raise KeyError(f"lora: no adapter for target {target!r}; have {sorted(adapters)}")
    path = TARGETS[target][0]
    w = _get(params, path)
    out = _with(out, path, w + delta(adapters[target], w.shape, target, config.scale, w.dtype))
  return out


def unmerge(merged: Mapping, adapters: Mapping, config: LoraConfig) -> Params:
  """`merge` undone: the deltas subtracted. Exact only up to float rounding
  (`(w + d) - d` need not be `w`); keep the base tree when bit-identity matters."""
  out = dict(merged)
  for target in config.targets:
    path = TARGETS[target][0]
    w = _get(merged, path)
    out = _with(out, path, w - delta(adapters[target], w.shape, target, config.scale, w.dtype))
  return out


def num_params(adapters: Mapping) -> int:
  """Number of adapter parameters."""
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(adapters)))


def from_config(cfg: Mapping | None) -> LoraConfig | None:
  """A `LoraConfig` from a config dict with `rank`, `alpha`, `targets`
  (and optionally `dtype`); None when `cfg` is None or `cfg.rank == 0`."""
  if cfg is None or not cfg.get("rank", 0):
    return None
  return LoraConfig(rank=int(cfg["rank"]), alpha=float(cfg.get("alpha", 2 * cfg["rank"])),
                    targets=tuple(cfg.get("targets", ATTENTION)),
                    dtype=str(cfg.get("dtype", "float32")))


__all__ = ["ALL", "ATTENTION", "LoraConfig", "TARGETS", "delta", "dims", "from_config", "init",
           "merge", "num_params", "unmerge"]
