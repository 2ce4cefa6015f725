"""From a run's stored samples to its report: collapse with B, calibrate, plot.

Writes into the workdir (atomically): `report.json` (every metric with
bootstrap intervals, unparsed share, throughput, and under `methods` the
table of every uncertainty method: smECE, AUROC, PRR, AURAC with intervals,
risk–coverage), `per_question.csv` (question id, plurality answer,
confidence, correct, number of classes, a column per method, ...), the
reliability diagram `reliability.png` and `confidence_hist.png`. Everything
is recomputed from the samples, so changing the calibration settings of a
finished run needs no new samples.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any

import numpy as np

from semcal_jax import semantic, storage
from semcal_jax.calibration import confidence as confidence_lib
from semcal_jax.calibration import diagrams, method_metrics, summary, uncertainty
from semcal_jax.pipeline import run_config

# Keys of report.json that measure time, not results (they differ between a
# resumed and an uninterrupted run; everything else is identical).
TIMING_KEYS = ("tokens_per_second", "wall_seconds", "sampling_seconds")


def collapse_records(cfg, records: list[dict[str, Any]]):
  """`semantic.Collapsed` of the records' texts with the run's collapsing function."""
  name = run_config.rule(cfg)
  c = cfg.collapse
  options = ({"model": c.judge_model, "dtype": c.get("judge_dtype", "float32"),
              "mesh_model": c.get("judge_mesh_model", 1)} if name == "judge" else {})
  fn = semantic.get(name, **options)
  return semantic.collapse(fn, [r["texts"] for r in records], [r["references"] for r in records],
                           cfg.prompts.style, questions=[r["question"] for r in records])


def sample_scores(records: list[dict[str, Any]]) -> tuple[np.ndarray, ...]:
  """`(logprob, num_tokens, first_logprob)`, each `[Q, M]`, from the stored token
  log-probabilities: the sum over a sample's generated tokens, their number
  (at least 1), and the log-probability of its first generated token."""
  lp = [[list(x) for x in r["logprobs"]] for r in records]
  logprob = np.asarray([[float(np.sum(x)) for x in row] for row in lp], np.float64)
  num_tokens = np.asarray([[max(1, len(x)) for x in row] for row in lp], np.int32)
  first = np.asarray([[float(x[0]) if x else 0.0 for x in row] for row in lp], np.float64)
  return logprob, num_tokens, first


def method_confidences(collapsed, records, self_assessed: dict[str, Any] | None):
  """`(confidences, correct)` of every uncertainty method, keyed as in the report."""
  conf, correct = uncertainty.sample_confidences(collapsed.class_ids, *sample_scores(records),
                                                 matches=collapsed.matches)
  conf = {k: np.asarray(v, np.float64) for k, v in conf.items()}
  correct = {k: np.asarray(v) for k, v in correct.items()}
  for key in SELF_ASSESSED:
    value = (self_assessed or {}).get(key, "not computed (uncertainty.self_assessment=False)")
    conf[key] = value if isinstance(value, str) else np.asarray(value, np.float64)
    correct[key] = correct["b_confidence"]
  return conf, correct


SELF_ASSESSED = ("p_true", "verbalized")


def plurality_answers(collapsed, records) -> list[str]:
  """The example response of each question's plurality class ("" if none), by the
  plurality rule of `calibration.confidence`."""
  prediction = np.asarray(confidence_lib.semantic_confidence(
      collapsed.class_ids, matches=collapsed.matches).prediction)
  out = []
  for i, r in enumerate(records):
    ids = np.asarray(collapsed.class_ids[i])
    best = int(prediction[i])
    out.append("" if best < 0 else r["texts"][int(np.argmax(ids == best))].strip()[:200])
  return out

def build(cfg, records: list[dict[str, Any]], stats: list[dict[str, Any]], *,
          wall_seconds: float, self_assessment=None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
  """`(report, per-question rows)` of a run's records (in question order).

  `self_assessment`: optional `fn(collapsed, records) -> {"p_true": [Q], "verbalized":
  [Q] or a reason}` (the methods that need the model again)."""
  collapsed = collapse_records(cfg, records)
  c = cfg.calibration
  out = summary.semantic_calibration(
      collapsed.class_ids, matches=collapsed.matches, estimator=c.estimator,
      unparsed=c.unparsed, top_k=c.top_k, n_bootstrap=c.n_bootstrap, n_bins=c.n_bins,
      seed=c.seed)
  per_q = out.pop("per_question")
  tokens = sum(int(s.get("generated_tokens", 0)) for s in stats)
  sampling_s = sum(float(s.get("seconds", 0.0)) for s in stats)
  report = {
      "model": cfg.model.spec,
      "dataset": cfg.data.name,
      "style": cfg.prompts.style,
      "format": cfg.prompts.format,
      "collapse": run_config.rule(cfg),
      "n_questions": len(records),
      "num_samples": cfg.sampling.num_samples,
      "temperature": cfg.sampling.temperature,
      "seed": cfg.sampling.seed,
      **{k: v for k, v in out.items() if k not in ("num_questions", "num_samples", "n")},
      "unparsed_responses": collapsed.num_unparsed,
      "generated_tokens": tokens,
      "tokens_per_second": tokens / sampling_s if sampling_s else 0.0,
      "sampling_seconds": sampling_s,
      "wall_seconds": wall_seconds,
  }
  assessed = self_assessment(collapsed, records) if self_assessment else None
  conf, correct = method_confidences(collapsed, records, assessed)
  report["methods"] = method_metrics.methods_table(conf, correct, n_bootstrap=c.n_bootstrap,
                                                   seed=c.seed)
  report = storage.finite(report)
  rows = []
  for i, r in enumerate(records):
    pred = int(per_q["prediction"][i])
    members = [m for m in range(len(r["texts"])) if collapsed.class_ids[i, m] == pred]
    answer = collapsed.keys[i][members[0]] if pred >= 0 and members else ""
    rows.append({
        "id": r["id"],
        "plurality_answer": answer,
        "example_response": r["texts"][members[0]].strip() if members else "",
        "confidence": float(per_q["confidence"][i]),
        "correct": bool(per_q["correct"][i]),
        "num_classes": int(per_q["num_classes"][i]),
        "entropy": float(per_q["entropy"][i]),
        "unparsed": int(np.sum(collapsed.class_ids[i] < 0)),
        "reference": r["references"][0] if r["references"] else "",
        **{k: ("" if isinstance(v, str) else round(float(v[i]), 6)) for k, v in conf.items()},
    })
  return report, rows


def write(workdir: str, cfg, report: dict[str, Any], rows: list[dict[str, Any]]) -> None:
  """Writes report.json, per_question.csv and the two figures."""
  buf = io.StringIO()
  writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["id"])
  writer.writeheader()
  writer.writerows(rows)
  storage.write_text_atomic(os.path.join(workdir, "per_question.csv"), buf.getvalue())
  conf = np.asarray([r["confidence"] for r in rows], np.float64)
  correct = np.asarray([r["correct"] for r in rows], bool)
  title = f"{cfg.model.spec} / {cfg.data.name} / {cfg.prompts.style}"
  if rows:
    diagrams.plot_runs([(cfg.prompts.style, conf, correct.astype(np.float64))],
                       os.path.join(workdir, "reliability.png"), title=title,
                       n_bootstrap=min(200, cfg.calibration.n_bootstrap) or 0,
                       seed=cfg.calibration.seed)
    diagrams.confidence_histogram(conf, os.path.join(workdir, "confidence_hist.png"),
                                  correct=correct, title=title)
  storage.write_json_atomic(os.path.join(workdir, "report.json"), report)
