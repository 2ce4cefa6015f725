"""The outer loop: resume, step, evaluate calibration every K steps, checkpoint, report.

    summary = fit(trainer, step_fn, workdir, RunConfig(num_steps=100, eval_every=10),
                  tracker=tracker, loaded=loaded)

`step_fn(step) -> metrics` does one unit of training (one or more
`trainer.train_step` calls: an SFT batch, a GRPO rollout and its updates);
it must depend only on the trainer's state and `step` (data order and
sampling seeds are functions of `(seed, step)`, see `batches` / `recipes`).
Then a run killed at any point (even SIGKILL mid-save) and started again with
the same command resumes from its latest complete checkpoint and ends
bit-identical to an uninterrupted run (on CPU; accelerators may reorder
floating-point reductions between compilations).

Per step s = 1..N: `step_fn(s - 1)`, a "train" record at s; every
`eval_every` steps and at N, an evaluation ("eval" record and
`evals/step_<s>.json`); every `save_every` steps, at evaluations and at N, a
checkpoint (with the eval metrics, so the best-by-metric ones are kept). The
policy before training is evaluated at step 0. At the end:
`calibration_vs_step.png` and `report.json` (before vs after, `report.py`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable, Mapping

import jax
from tqdm import tqdm

from semcal_jax import multihost, storage
from semcal_jax.training import checkpoint as checkpoint_lib
from semcal_jax.training import report as report_lib
from semcal_jax.training import tracking

StepFn = Callable[[int], Mapping[str, float]]
CURVE_FILE = "calibration_vs_step.png"


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """Loop settings.

  Attributes:
    num_steps: training steps (calls of `step_fn`).
    eval_every: evaluate calibration every this many steps (0: before and after only).
    save_every: checkpoint every this many steps (also at evals and at the end).
    keep, keep_best, best_metric, best_mode: checkpoint retention (`checkpoint.py`).
    async_checkpoints: save in the background.
    tensorboard: also write TensorBoard events.
    progress: show a progress bar.
    diagram_bootstrap: bootstrap resamples of the before/after diagram's band (0 = none).
  """
  num_steps: int
  eval_every: int = 0
  save_every: int = 50
  keep: int = 3
  keep_best: int = 1
  best_metric: str = "accuracy"
  best_mode: str = "max"
  async_checkpoints: bool = True
  tensorboard: bool = True
  progress: bool = True
  diagram_bootstrap: int = 200

  def __post_init__(self):
    if self.num_steps < 1 or self.eval_every < 0 or self.save_every < 1:
      raise ValueError(f"run: num_steps={self.num_steps}, eval_every={self.eval_every}, "
                       f"save_every={self.save_every} (need >= 1, >= 0, >= 1)")


def _eval_path(workdir: str, step: int) -> str:
  return storage.join(workdir, "evals", f"step_{step:06d}.json")


def _read_eval(workdir: str, step: int) -> dict | None:
  return storage.read_json(_eval_path(workdir, step))


def fit(trainer, step_fn: StepFn, workdir: str | os.PathLike, cfg: RunConfig, *,
        tracker: tracking.CalibrationTracker | None = None, loaded=None,
        meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
  """Runs (or resumes) training to `cfg.num_steps` (module docstring).

  Args:
    trainer: a `Trainer`.
    step_fn: one training unit per call (module docstring).
    workdir: the run's folder (checkpoints/, evals/, metrics.jsonl, tb/, report.json).
    cfg: `RunConfig`.
    tracker: evaluates calibration (None: no evaluations, no report).
    loaded: the `LoadedModel` whose tokenizer / config the tracker's sampler uses.
    meta: JSON-able facts about the run, stored in checkpoints and the report.

  Returns:
    `{"before", "after"` (eval entries or None), `"resumed_from"`, `"last_train"`,
    `"train_seconds"`, `"steps_run"`, `"report"`}.
  """
  if tracker is not None and loaded is None:
    raise ValueError("fit: a tracker needs loaded= (the LoadedModel to sample with)")
  workdir = storage.prepare_workdir(workdir)
  main = jax.process_index() == 0
  storage.makedirs(storage.join(workdir, "evals"))
  ckpt = checkpoint_lib.Checkpointer(
      storage.join(workdir, "checkpoints"), keep=cfg.keep, keep_best=cfg.keep_best,
      best_metric=cfg.best_metric if tracker is not None else None, best_mode=cfg.best_mode,
      async_save=cfg.async_checkpoints)
  resumed = ckpt.latest_step()
  if resumed is not None:
    state, _ = ckpt.restore(resumed, trainer.state)
    trainer.set_state(state)
  start = resumed or 0
  # One host writes the metrics log; every host decides from the same stored evals
  # whether to evaluate (an evaluation is a collective on a mesh spanning hosts).
  log = tracking.MetricsLog(workdir, resume_step=resumed, tensorboard=cfg.tensorboard) if main \
      else None
  multihost.barrier("semcal-fit-start")

  def evaluate(step: int) -> dict:
    entry = tracker.evaluate(trainer.policy_loaded(loaded))
    entry["step"] = step
    if main:
      storage.write_json_atomic(_eval_path(workdir, step), entry)
      log.write(step, "eval", entry)
    return entry

  before = None
  if tracker is not None:
    before = _read_eval(workdir, 0) if resumed else None
    if before is None:
      before = evaluate(0)
  after = before if start == 0 else _read_eval(workdir, start)
  last_train: dict[str, float] = {}
  bar = tqdm(total=cfg.num_steps, initial=start, desc="training", unit="step",
             disable=not (cfg.progress and main), dynamic_ncols=True)
  t0 = time.perf_counter()
  try:
    for step in range(start, cfg.num_steps):
      ts = time.perf_counter()
      last_train = {k: float(v) for k, v in step_fn(step).items()}
      last_train["step_seconds"] = time.perf_counter() - ts
      s = step + 1
      if main:
        log.write(s, "train", last_train)
      eval_metrics = None
      if tracker is not None and ((cfg.eval_every and s % cfg.eval_every == 0)
                                  or s == cfg.num_steps):
        after = evaluate(s)
        eval_metrics = tracking.scalars(after)
      if eval_metrics is not None or s % cfg.save_every == 0 or s == cfg.num_steps:
        if log is not None:
          log.flush()  # the log reaches every step a checkpoint can resume from
        ckpt.save(s, trainer.state, meta={"step": s, **dict(meta or {})}, metrics=eval_metrics)
      bar.update(1)
      bar.set_postfix({k: f"{last_train[k]:.4g}" for k in ("loss", "reward_mean")
                       if k in last_train})
  finally:
    bar.close()
    ckpt.close()
    if log is not None:
      log.close()
  train_seconds = time.perf_counter() - t0
  rep = None
  if tracker is not None and main:
    records = tracking.read_records(workdir)
    if any(r.get("kind") == "eval" for r in records):
      tracking.plot_curve(records, storage.join(workdir, CURVE_FILE))
    if after is not None:
      rep = report_lib.write(workdir, before, after, training={
          **dict(meta or {}), "num_steps": cfg.num_steps, "resumed_from": resumed,
          "last_train": last_train}, diagram_bootstrap=cfg.diagram_bootstrap)
  return {"before": before, "after": after, "resumed_from": resumed, "last_train": last_train,
          "train_seconds": train_seconds, "steps_run": cfg.num_steps - start, "report": rep}


__all__ = ["CURVE_FILE", "RunConfig", "StepFn", "fit"]
