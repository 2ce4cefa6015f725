"""The before/after report of a training run, in the pipeline's `report.json` format.

    write(workdir, before, after, training={"objective": "grpo", ...})

writes `report.json`:

    {"before": {model, dataset, style, n_questions, num_samples, accuracy,
                mean_confidence, overconfidence, smece, smece_ci, sigma, ece,
                brier, auroc, unparsed_fraction, ...},
     "after": {... the same keys, for the trained policy ...},
     "change": {"accuracy": after - before, ...},          # numeric keys of both
     "training": {...}}

and `reliability_before_after.png` (smoothed reliability diagrams of both on
one axes). Files are written atomically.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from semcal_jax import storage

REPORT_FILE = "report.json"
DIAGRAM_FILE = "reliability_before_after.png"
CHANGE_KEYS = ("accuracy", "mean_confidence", "overconfidence", "smece", "ece", "brier", "auroc",
               "unparsed_fraction")


def _public(entry: Mapping[str, Any]) -> dict:
  return {k: v for k, v in entry.items() if k != "per_question"}


def build(before: Mapping[str, Any], after: Mapping[str, Any],
          training: Mapping[str, Any] | None = None) -> dict:
  """The report dict (module docstring)."""
  change = {}
  for k in CHANGE_KEYS:
    b, a = before.get(k), after.get(k)
    if isinstance(b, (int, float)) and isinstance(a, (int, float)):
      change[k] = float(a) - float(b)
  return {"before": _public(before), "after": _public(after), "change": change,
          "training": dict(training or {})}


def write(workdir: str | os.PathLike, before: Mapping[str, Any], after: Mapping[str, Any],
          training: Mapping[str, Any] | None = None, *, diagram: bool = True,
          diagram_bootstrap: int = 200) -> dict:
  """Writes `report.json` (and the diagram, with a bootstrap band of
  `diagram_bootstrap` resamples; 0 = none); returns the report dict."""
  rep = build(before, after, training)
  storage.write_json_atomic(os.path.join(os.fspath(workdir), REPORT_FILE), rep)
  if diagram and "per_question" in before and "per_question" in after:
    from semcal_jax.calibration import diagrams  # pylint: disable=g-import-not-at-top
    runs = [(f"{name} (step {e.get('step', '?')})", e["per_question"]["confidence"],
             e["per_question"]["correct"]) for name, e in (("before", before), ("after", after))]
    diagrams.plot_runs(runs, os.path.join(os.fspath(workdir), DIAGRAM_FILE),
                       title=f"{before.get('model', '')} {before.get('dataset', '')} "
                             f"{before.get('style', '')}".strip(), n_bootstrap=diagram_bootstrap)
  return rep


def _num(v, width: int = 6) -> str:
  return f"{v:{width}.3f}" if isinstance(v, (int, float)) else f"{'n/a':>{width}}"


def format_row(name: str, e: Mapping[str, Any]) -> str:
  """One line of a printed table: accuracy, confidence, smECE [CI], ECE, Brier,
  AUROC, unparsed share (n/a where a metric is undefined, e.g. AUROC with one class)."""
  ci = e.get("smece_ci") or [None, None]
  smece = f"{_num(e.get('smece'))} [{_num(ci[0], 5)}, {_num(ci[1], 5)}]"
  return (f"{name:<10} {_num(e.get('accuracy'))} {_num(e.get('mean_confidence'))} {smece:>22} "
          f"{_num(e.get('ece'))} {_num(e.get('brier'))} {_num(e.get('auroc'))} "
          f"{_num(e.get('unparsed_fraction'))}")


def table(rep: Mapping[str, Any]) -> str:
  """The before/after table as text."""
  head = (f"{'':<10} {'acc':>6} {'conf':>6} {'smECE [95% CI]':>22} {'ECE':>6} {'Brier':>6} "
          f"{'AUROC':>6} {'unpars':>6}")
  return "\n".join([head, "-" * len(head), format_row("before", rep["before"]),
                    format_row("after", rep["after"])])


__all__ = ["CHANGE_KEYS", "DIAGRAM_FILE", "REPORT_FILE", "build", "format_row", "table", "write"]
