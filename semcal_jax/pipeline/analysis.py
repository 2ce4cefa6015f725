"""The paper's summary figures from a finished sweep.

    figures = analyze(sweep_dir)    # reads results.csv and each run's report.json

Writes into the sweep folder:
- `smece_by_model_style.png`: smECE with its bootstrap interval per model and
  prompt style, one panel per data set; instruct / fine-tuned models hatched;
- `smece_vs_parameters.png`: smECE against parameter count (log scale) per
  family, base and tuned models as separate lines;
- `accuracy_vs_smece.png`: every run as a point, marker by kind;
- `overconfidence.png`: mean confidence minus accuracy per model and style
  (above 0: over-confident);
- `methods.png`: smECE and AUROC of every uncertainty method over the runs
  (one dot per run, the mean as a bar);
- `analysis.md`: the numbers behind each figure.

Seeds of the same model, data set and style are averaged (their intervals too).
"""

from __future__ import annotations

import collections
import csv
import io
import os
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from semcal_jax import storage  # noqa: E402
from semcal_jax.calibration import diagrams  # noqa: E402
from semcal_jax.config_utils import ConfigError  # noqa: E402

FIGURES = ("smece_by_model_style.png", "smece_vs_parameters.png", "accuracy_vs_smece.png",
           "overconfidence.png", "methods.png")
KIND_MARKERS = {"base": "o", "instruct": "s", "sft": "^", "dpo": "D", "rl": "v"}


def _nanmean(values) -> float:
  """Mean of the finite values (NaN when there are none), without a warning."""
  x = np.asarray(values, np.float64)
  x = x[np.isfinite(x)]
  return float(x.mean()) if x.size else float("nan")


def _float(v) -> float:
  try:
    return float(v)
  except (TypeError, ValueError):
    return float("nan")


def _interval(v) -> tuple[float, float]:
  if isinstance(v, str) and v.startswith("["):
    lo, hi = v.strip("[]").split(",")
    return _float(lo), _float(hi)
  return float("nan"), float("nan")


def read_rows(sweep_dir: str) -> list[dict[str, Any]]:
  """results.csv's rows, typed, with each run's `methods` table from its report."""
  path = os.path.join(sweep_dir, "results.csv")
  if not storage.exists(path):
    raise ConfigError(f"flag --sweep: {path} does not exist (finish the sweep first: "
                      "experiments/sweep.py writes it)")
  text = storage.as_path(path).read_text()
  rows = []
  for line, r in enumerate(csv.DictReader(io.StringIO(text)), start=2):
    missing = [k for k in ("model", "dataset", "style", "smece", "accuracy") if k not in r]
    if missing:
      raise ConfigError(f"flag --sweep: {path}:{line} lacks column(s) {missing}")
    row = dict(r)
    for k in ("smece", "accuracy", "overconfidence", "auroc", "parameters"):
      row[k] = _float(r.get(k))
    row["smece_ci"] = _interval(r.get("smece_ci"))
    row["kind"] = r.get("kind") or "base"
    run = os.path.join(sweep_dir, r.get("run", ""), "report.json") if r.get("run") else None
    report = storage.read_json(run, default={}) if run else {}
    row["methods"] = report.get("methods", {}) if isinstance(report, dict) else {}
    rows.append(row)
  if not rows:
    raise ConfigError(f"flag --sweep: {path} has no runs")
  return rows


def pooled(rows) -> list[dict[str, Any]]:
  """One row per (model, dataset, style): seeds averaged."""
  groups = collections.OrderedDict()
  for r in rows:
    groups.setdefault((r["model"], r["dataset"], r["style"]), []).append(r)
  out = []
  for (model, dataset, style), rs in groups.items():
    mean = {k: _nanmean([r[k] for r in rs]) for k in ("smece", "accuracy", "overconfidence")}
    out.append({**rs[0], "seeds": len(rs), **mean,
                "smece_ci": (_nanmean([r["smece_ci"][0] for r in rs]),
                             _nanmean([r["smece_ci"][1] for r in rs]))})
  return out


def _label(model: str) -> str:
  return os.path.basename(model.rstrip("/"))


def _by_model_style(cells, path):
  datasets = list(dict.fromkeys(c["dataset"] for c in cells))
  models = list(dict.fromkeys(c["model"] for c in cells))
  styles = list(dict.fromkeys(c["style"] for c in cells))
  fig, axes = plt.subplots(1, len(datasets), figsize=(1.2 + 1.1 * len(models) * len(styles)
                                                      * len(datasets), 4), squeeze=False)
  width = 0.8 / len(styles)
  for ax, dataset in zip(axes[0], datasets):
    for j, style in enumerate(styles):
      for i, model in enumerate(models):
        c = next((c for c in cells if (c["model"], c["dataset"], c["style"]) ==
                  (model, dataset, style)), None)
        if c is None:
          continue
        lo, hi = c["smece_ci"]
        err = None
        if np.isfinite(lo):
          err = [[max(0.0, c["smece"] - lo)], [max(0.0, hi - c["smece"])]]
        ax.bar(i + (j - (len(styles) - 1) / 2) * width, c["smece"], width, yerr=err,
               color=f"C{j}", hatch="//" if c["kind"] != "base" else None, edgecolor="k",
               capsize=2, label=style if i == 0 else None)
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels([_label(m) for m in models], rotation=20, ha="right", fontsize=8)
    ax.set_title(dataset)
    ax.set_ylabel("smECE")
    ax.legend(fontsize=7, title="style (hatched: tuned)", title_fontsize=7)
  fig.tight_layout()
  diagrams.save(fig, path)


def _vs_parameters(cells, path):
  fig, ax = plt.subplots(figsize=(5.5, 4))
  series = collections.defaultdict(list)
  for c in cells:
    if np.isfinite(c["parameters"]):
      series[(c.get("family") or "?", c["kind"] == "base", c["dataset"], c["style"])].append(c)
  for n, ((family, base, dataset, style), cs) in enumerate(sorted(series.items())):
    cs = sorted(cs, key=lambda c: c["parameters"])
    ax.plot([c["parameters"] for c in cs], [c["smece"] for c in cs],
            "-" if base else "--", marker="o" if base else "s", color=f"C{n % 10}",
            label=f"{family} {'base' if base else 'tuned'} / {dataset} / {style}")
  ax.set_xscale("log")
  sizes = sorted({c["parameters"] for cs in series.values() for c in cs})
  ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
  ax.set_xticks(sizes, [f"{p / 1e9:.1f}B" if p >= 1e9 else f"{p / 1e6:.0f}M" for p in sizes])
  ax.set_xlabel("parameters")
  ax.set_ylabel("smECE")
  ax.legend(fontsize=6)
  fig.tight_layout()
  diagrams.save(fig, path)


def _accuracy_vs_smece(rows, path):
  fig, ax = plt.subplots(figsize=(5, 4))
  for kind, marker in KIND_MARKERS.items():
    rs = [r for r in rows if r["kind"] == kind]
    if rs:
      ax.scatter([r["accuracy"] for r in rs], [r["smece"] for r in rs], marker=marker,
                 label=kind, alpha=0.8)
  ax.set_xlabel("accuracy")
  ax.set_ylabel("smECE")
  ax.set_xlim(0, 1)
  ax.legend(fontsize=8)
  fig.tight_layout()
  diagrams.save(fig, path)


def _overconfidence(cells, path):
  labels = [f"{_label(c['model'])}\n{c['dataset']}/{c['style']}" for c in cells]
  fig, ax = plt.subplots(figsize=(1.5 + 0.55 * len(cells), 4))
  values = [c["overconfidence"] for c in cells]
  ax.bar(range(len(cells)), values, color=["tab:red" if v > 0 else "tab:blue" for v in values],
         hatch=None, edgecolor="k")
  ax.axhline(0, color="k", lw=1)
  ax.set_xticks(range(len(cells)))
  ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=6)
  ax.set_ylabel("mean confidence - accuracy\n(> 0 over-confident)")
  fig.tight_layout()
  diagrams.save(fig, path)


def method_values(rows) -> dict[str, dict[str, list[float]]]:
  """`{method: {"smece": [...], "auroc": [...], "prr": [...]}}` over the runs that have it."""
  out: dict = collections.OrderedDict()
  for r in rows:
    for key, m in r["methods"].items():
      if "skipped" in m:
        continue
      slot = out.setdefault(key, {"smece": [], "auroc": [], "prr": []})
      for metric in slot:
        slot[metric].append(_float(m.get(metric)))
  return out


def _methods(rows, path) -> None:
  values = method_values(rows)
  fig, axes = plt.subplots(1, 2, figsize=(1.5 + 0.9 * max(1, len(values)), 4), squeeze=False)
  for ax, metric in zip(axes[0], ("smece", "auroc")):
    for i, (key, v) in enumerate(values.items()):
      x = np.asarray(v[metric])
      ax.bar(i, _nanmean(x), 0.6, color="lightgray", edgecolor="k")
      ax.scatter(np.full(x.size, i), x, s=12, color="k", zorder=3)
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(list(values), rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(metric)
  if not values:
    axes[0][0].text(0.5, 0.5, "no run has a methods table", ha="center",
                    transform=axes[0][0].transAxes)
  fig.tight_layout()
  diagrams.save(fig, path)


def _markdown(cells, rows) -> str:
  out = ["| model | kind | family | parameters | dataset | style | seeds | accuracy | smECE | "
         "95% CI | over-confidence |", "|" + "---|" * 11]
  for c in cells:
    p = "" if not np.isfinite(c["parameters"]) else f"{c['parameters'] / 1e6:.0f}M"
    out.append(f"| {_label(c['model'])} | {c['kind']} | {c.get('family', '')} | {p} | "
               f"{c['dataset']} | {c['style']} | {c['seeds']} | {c['accuracy']:.3f} | "
               f"{c['smece']:.3f} | [{c['smece_ci'][0]:.3f}, {c['smece_ci'][1]:.3f}] | "
               f"{c['overconfidence']:+.3f} |")
  values = method_values(rows)
  if values:
    out += ["", "| method | runs | mean smECE | mean AUROC | mean PRR |", "|---|---|---|---|---|"]
    for key, v in values.items():
      out.append(f"| {key} | {len(v['smece'])} | {_nanmean(v['smece']):.3f} | "
                 f"{_nanmean(v['auroc']):.3f} | {_nanmean(v['prr']):.3f} |")
  return "\n".join(out) + "\n"


def analyze(sweep_dir: str) -> dict[str, str]:
  """Writes the figures and analysis.md (module docstring); returns their paths."""
  rows = read_rows(sweep_dir)
  cells = pooled(rows)
  paths = {name: os.path.join(sweep_dir, name) for name in FIGURES}
  _by_model_style(cells, paths["smece_by_model_style.png"])
  _vs_parameters(cells, paths["smece_vs_parameters.png"])
  _accuracy_vs_smece(rows, paths["accuracy_vs_smece.png"])
  _overconfidence(cells, paths["overconfidence.png"])
  _methods(rows, paths["methods.png"])
  paths["analysis.md"] = os.path.join(sweep_dir, "analysis.md")
  storage.write_text_atomic(paths["analysis.md"], _markdown(cells, rows))
  return paths
