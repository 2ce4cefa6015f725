"""Checkpoints with orbax: async saves, the latest N kept, the best K by an eval metric.

    ckpt = Checkpointer(workdir + "/checkpoints", keep=3, keep_best=1, best_metric="accuracy")
    step = ckpt.latest_step()                     # None on a fresh run
    if step is not None:
      state, meta = ckpt.restore(step, trainer.state)
    ckpt.save(step, trainer.state, meta={"note": ...}, metrics={"accuracy": 0.4})
    ckpt.wait()                                   # before reading the files / exiting

A checkpoint holds the `TrainState` (step, trainable parameters, optimizer
state) and a small JSON `meta`. orbax writes each step into a temporary
folder and renames it when complete, so a process killed with SIGKILL
mid-save leaves the previous checkpoints intact and the partial one is
ignored (and cleaned) on the next start. Retention: the `keep` most recent
steps (for resuming) plus the `keep_best` steps with the best `best_metric`
among those saved with metrics (eval steps).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import jax
import orbax.checkpoint as ocp
from etils import epath
from orbax.checkpoint import checkpoint_managers as policies


class Checkpointer:
  """An orbax `CheckpointManager` for training states (module docstring).

  Args:
    directory: where step folders are written (created).
    keep: most recent checkpoints kept (>= 1).
    keep_best: best checkpoints kept by `best_metric` (0 = none).
    best_metric: key of the `metrics` passed to `save` ranking checkpoints.
    best_mode: "max" or "min".
    async_save: write in a background thread (the training step goes on).
  """

  def __init__(self, directory: str | os.PathLike, *, keep: int = 3, keep_best: int = 1,
               best_metric: str | None = "accuracy", best_mode: str = "max",
               async_save: bool = True):
    if keep < 1:
      raise ValueError(f"checkpoint.keep: expected >= 1, got {keep}")
    if best_mode not in ("max", "min"):
      raise ValueError(f"checkpoint.best_mode: expected 'max' or 'min', got {best_mode!r}")
    self.directory = epath.Path(directory)
    self.best_metric = best_metric if keep_best else None
    keep_policies = [policies.LatestN(n=keep)]
    best_fn = None
    if self.best_metric:
      metric = self.best_metric
      best_fn = lambda m: float(m[metric])
      keep_policies.append(policies.BestN(get_metric_fn=best_fn, reverse=(best_mode == "min"),
                                          n=keep_best, keep_checkpoints_without_metrics=False))
    options = ocp.CheckpointManagerOptions(
        preservation_policy=policies.AnyPreservationPolicy(keep_policies), best_fn=best_fn,
        best_mode=best_mode, enable_async_checkpointing=async_save, create=True,
        cleanup_tmp_directories=True)
    self.manager = ocp.CheckpointManager(self.directory, options=options,
                                         item_names=("state", "meta"))

  def latest_step(self) -> int | None:
    """The most recent complete checkpoint's step, or None."""
    return self.manager.latest_step()

  def best_step(self) -> int | None:
    """The step with the best `best_metric` (the latest when none has metrics)."""
    return self.manager.best_step()

  def all_steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def save(self, step: int, state: Any, *, meta: Mapping[str, Any] | None = None,
           metrics: Mapping[str, float] | None = None) -> None:
    """Starts saving `state` (and `meta`) as `step`; with `metrics` it may be kept as a best."""
    if metrics is not None and self.best_metric and self.best_metric not in metrics:
      raise KeyError(f"checkpoint.best_metric {self.best_metric!r} not among the eval metrics "
                     f"{sorted(metrics)}")
    clean = None if metrics is None else {k: float(v) for k, v in metrics.items()
                                          if isinstance(v, (int, float))}
    self.manager.save(int(step), args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(dict(meta or {}))),
        metrics=clean, force=True)

  def restore(self, step: int, like: Any) -> tuple[Any, dict]:
    """`(state, meta)` of `step`, with the structure, dtypes and shardings of `like`."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    out = self.manager.restore(int(step), args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()))
    state = out["state"]
    if hasattr(like, "_fields") and not hasattr(state, "_fields"):
      state = type(like)(*state)
    return state, dict(out["meta"] or {})

  def wait(self) -> None:
    """Blocks until pending async saves are on disk."""
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


__all__ = ["Checkpointer"]
