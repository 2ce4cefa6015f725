"""Calibration while training: evaluate B-calibration of the policy, log metrics, plot vs step.

    tracker = CalibrationTracker(eval_set, semantic.get("numeric"), num_samples=10)
    result = tracker.evaluate(trainer.policy_loaded(loaded))   # report-style dict
    log = MetricsLog(workdir, resume_step=None)
    log.write(step, "eval", result)                              # metrics.jsonl + TensorBoard
    plot_curve(read_records(workdir), workdir + "/calibration_vs_step.png")

An evaluation samples M answers to each eval question with the project's
sampler (temperature 1, no truncation, a fixed seed: the same random
numbers at every step, so the curve moves only with the model), collapses
them with B, and computes accuracy, mean confidence, smECE (with a bootstrap
CI), ECE, Brier, AUROC and the unparsed share (`calibration.semantic_calibration`).

`metrics.jsonl` has one JSON record per line: `{"step", "kind": "train" |
"eval", "time", ...metrics}`. Appends are flushed and fsynced (on an object
store, where every write rewrites the whole object, records are held until
`MetricsLog.flush()`, which the runner calls before each checkpoint, so the
log always reaches the step a resume starts from); a line cut
by a crash is dropped on the next start, as are records past the step the
run resumes from (`MetricsLog(resume_step=...)` rewrites the file atomically
first), so a resumed run's log reads as if it had never stopped. TensorBoard
event files (tensorboardX) live in `tb/`, purged past the resume step.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from typing import Any, Mapping, Sequence

import numpy as np

from semcal_jax import sampling, semantic, storage
from semcal_jax.calibration import summary as summary_lib
from semcal_jax.data.question import Question

METRICS_FILE = "metrics.jsonl"
REPORT_KEYS = ("model", "dataset", "style", "n_questions", "num_samples", "accuracy",
               "mean_confidence", "overconfidence", "smece", "smece_ci", "sigma", "ece", "brier",
               "auroc", "unparsed_fraction")  # always present in an entry


@dataclasses.dataclass
class EvalSet:
  """Questions to evaluate on, with their tokenised prompts and sampling settings."""
  dataset: str
  style: str
  questions: list[Question]
  prompt_ids: list[list[int]]
  stop: tuple[str, ...]
  max_new_tokens: int

  def __post_init__(self):
    if len(self.questions) != len(self.prompt_ids) or not self.questions:
      raise ValueError(f"EvalSet: {len(self.questions)} questions and {len(self.prompt_ids)} "
                       "prompts (need the same number, at least one)")


class CalibrationTracker:
  """Evaluates a policy's B-calibration on a fixed eval set (module docstring).

  Args:
    eval_set: questions and prompts.
    fn: the collapsing function B.
    num_samples: M samples per question.
    seed: sampling seed (the same at every evaluation).
    temperature: sampling temperature (1 = the model's distribution).
    n_bootstrap: bootstrap resamples of the CIs.
    estimator: "plurality" or "heldout".
    model_name: for the report entries.
    max_rows: sampler rows per batch.
  """

  def __init__(self, eval_set: EvalSet, fn, *, num_samples: int, seed: int = 0,
               temperature: float = 1.0, n_bootstrap: int = 200, estimator: str = "plurality",
               model_name: str = "", max_rows: int = 256):
    if num_samples < 1:
      raise ValueError(f"eval.num_samples: expected >= 1, got {num_samples}")
    self.eval_set = eval_set
    self.fn = fn
    self.num_samples = num_samples
    self.seed = seed
    self.temperature = temperature
    self.n_bootstrap = n_bootstrap
    self.estimator = estimator
    self.model_name = model_name
    self.max_rows = max_rows

  def evaluate(self, loaded) -> dict[str, Any]:
    """A report entry of `loaded`'s calibration, with `per_question` confidence /
    correctness lists and `eval_seconds`."""
    t0 = time.perf_counter()
    es = self.eval_set
    res = sampling.sample(loaded, es.prompt_ids, num_samples=self.num_samples,
                          max_new_tokens=es.max_new_tokens, temperature=self.temperature,
                          stop=es.stop, seed=self.seed, question_ids=[q.id for q in es.questions],
                          max_rows=self.max_rows, progress=False)
    collapsed = semantic.collapse(self.fn, res.texts, [list(q.answers) for q in es.questions],
                                  es.style, questions=[q.question for q in es.questions])
    out = summary_lib.semantic_calibration(collapsed.class_ids, matches=collapsed.matches,
                                           estimator=self.estimator, n_bootstrap=self.n_bootstrap,
                                           seed=self.seed)
    per_q = out.pop("per_question")
    entry = report_entry(out, model=self.model_name, dataset=es.dataset, style=es.style,
                         collapse=getattr(self.fn, "name", type(self.fn).__name__),
                         temperature=self.temperature, seed=self.seed)
    entry["unparsed_responses"] = collapsed.num_unparsed
    entry["per_question"] = {"confidence": np.asarray(per_q["confidence"], float).tolist(),
                             "correct": np.asarray(per_q["correct"], bool).tolist()}
    entry["mean_response_tokens"] = float(res.lengths.mean())
    entry["eval_seconds"] = time.perf_counter() - t0
    return entry


def report_entry(metrics: Mapping[str, Any], *, model: str, dataset: str, style: str,
                 **extra: Any) -> dict:
  """An entry in the format of the pipeline's `report.json`: model, dataset,
  style (and `extra` fields such as format, collapse, temperature, seed),
  n_questions, num_samples, then every metric of
  `calibration.semantic_calibration` (accuracy, mean_confidence,
  overconfidence, smece, smece_ci, sigma, ece, brier, auroc,
  unparsed_fraction, their CIs, ...). NaN / inf become None (strict JSON)."""
  out = {"model": model, "dataset": dataset, "style": style, **extra,
         "n_questions": int(metrics["num_questions"]), "num_samples": int(metrics["num_samples"])}
  out.update({k: v for k, v in metrics.items()
              if k not in ("num_questions", "num_samples", "n", "per_question")})
  return storage.finite(out)


def scalars(entry: Mapping[str, Any]) -> dict[str, float]:
  """The finite numeric fields of a record (what goes to TensorBoard)."""
  out = {}
  for k, v in entry.items():
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
      continue
    if math.isfinite(float(v)):
      out[k] = float(v)
  return out


def read_records(workdir: str | os.PathLike) -> list[dict]:
  """The records of `metrics.jsonl` (a line cut by a crash is skipped)."""
  return [r for r in storage.read_jsonl(storage.join(workdir, METRICS_FILE)) if "step" in r]


class MetricsLog:
  """`metrics.jsonl` and TensorBoard events of a run (module docstring).

  Args:
    workdir: the run's folder.
    resume_step: the step the run resumes from (records after it are
      dropped); None = a fresh run (the log is cleared).
    tensorboard: also write TensorBoard event files. With a remote workdir they
      are written to a local folder and copied to `tb/` by `close()`.
  """

  def __init__(self, workdir: str | os.PathLike, *, resume_step: int | None,
               tensorboard: bool = True):
    self.workdir = os.fspath(workdir)
    self.path = storage.join(self.workdir, METRICS_FILE)
    keep = [] if resume_step is None else [r for r in read_records(self.workdir)
                                           if r["step"] <= resume_step]
    storage.write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in keep))
    self._held = keep if storage.is_remote(self.workdir) else None  # all records, unflushed
    self._dirty = False
    self._tb = None
    self._tb_dir = storage.join(self.workdir, "tb")
    if tensorboard:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      purge = None if resume_step is None else resume_step + 1
      local = tempfile.mkdtemp(prefix="semcal_tb_") if storage.is_remote(self.workdir) else None
      self._tb = SummaryWriter(local or self._tb_dir, purge_step=purge, flush_secs=30)
      self._tb_local = local

  def write(self, step: int, kind: str, metrics: Mapping[str, Any]) -> None:
    """Appends a record (lists and dicts kept in JSON; scalars also to TensorBoard)."""
    rec = {"step": int(step), "kind": kind, "time": time.time()}
    rec.update({k: v for k, v in metrics.items() if k != "per_question"})
    if self._held is None:
      storage.append_jsonl(self.path, [rec])
    else:
      self._held.append(json.loads(storage.json_line(rec)))
      self._dirty = True
    if self._tb is not None:
      for k, v in scalars(metrics).items():
        self._tb.add_scalar(f"{kind}/{k}", v, int(step))

  def flush(self) -> None:
    """Writes held records (remote workdirs; local appends are written at once)."""
    if self._held is not None and self._dirty:
      storage.write_text_atomic(self.path, "".join(storage.json_line(r) + "\n"
                                                   for r in self._held))
      self._dirty = False

  def close(self) -> None:
    self.flush()
    if self._tb is not None:
      self._tb.close()
      if self._tb_local is not None:  # copy the event files to the remote workdir
        storage.makedirs(self._tb_dir)
        for name in sorted(os.listdir(self._tb_local)):
          with open(os.path.join(self._tb_local, name), "rb") as fh:
            storage.write_bytes_atomic(storage.join(self._tb_dir, name), fh.read())
        shutil.rmtree(self._tb_local, ignore_errors=True)
      self._tb = None


def plot_curve(records: Sequence[Mapping[str, Any]], path: str | os.PathLike, *,
               title: str | None = None) -> None:
  """Accuracy, mean confidence, smECE (with its CI band) and ECE of the eval
  records vs step, one PNG (written atomically)."""
  from semcal_jax.calibration import diagrams  # pylint: disable=g-import-not-at-top
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  evals = sorted((r for r in records if r.get("kind") == "eval"), key=lambda r: r["step"])
  if not evals:
    raise ValueError("plot_curve: no eval records")
  steps = [r["step"] for r in evals]
  fig, ax = plt.subplots(figsize=(6.5, 4))
  for key, style in (("accuracy", "-o"), ("mean_confidence", "-s"), ("smece", "-^"),
                     ("ece", "--v")):
    if all(key in r for r in evals):
      ax.plot(steps, [r[key] for r in evals], style, label=key, markersize=4)
  if all("smece_ci" in r for r in evals):
    ax.fill_between(steps, [r["smece_ci"][0] for r in evals], [r["smece_ci"][1] for r in evals],
                    alpha=0.2, color="tab:green", label="smECE 95% CI")
  ax.set_xlabel("training step")
  ax.set_ylim(0, 1)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  ax.set_title(title or "B-calibration during training")
  diagrams.save(fig, path)


__all__ = ["CalibrationTracker", "EvalSet", "METRICS_FILE", "MetricsLog", "REPORT_KEYS",
           "plot_curve", "read_records", "report_entry", "scalars"]
