"""A grid of calibration runs: models x data sets x styles x seeds, then one table.

A grid config (see `configs/grid_local.py`) has `base` (a run config),
`grid.models / datasets / styles / seeds` (lists), optionally
`grid.chat_models` (substrings: matching models use the chat prompt format)
and `data_root` (each run reads `<data_root>/<data set folder>`). Every combination is a run
in `<workdir>/<model>/<dataset>/<style>/seed<k>`, run one after another here
(or spread over workers: `worker_index` / `num_workers`, e.g. one per TPU host
or slice). A finished run (report present, same config) is skipped; an
unfinished one resumes. `aggregate` writes `results.md` and `results.csv` (one
row per run) and `reliability_grid.png` (rows: models; columns: data set x
style; the seeds of a cell pooled on one axes), the paper's layout.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import os
import re
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from etils import epath  # noqa: E402

from semcal_jax.calibration import diagrams  # noqa: E402
from semcal_jax.config_utils import ConfigError  # noqa: E402
from semcal_jax.pipeline import io as io_lib  # noqa: E402
from semcal_jax.pipeline import run as run_lib  # noqa: E402
from semcal_jax.pipeline import run_config  # noqa: E402

TABLE_KEYS = ("model", "dataset", "style", "seed", "n_questions", "num_samples", "accuracy",
              "mean_confidence", "overconfidence", "smece", "smece_ci", "ece", "brier", "auroc",
              "unparsed_fraction", "tokens_per_second")


def _slug(text: str) -> str:
  return re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(os.fspath(text).rstrip("/")))


def expand(grid_cfg) -> list[tuple[str, Any]]:
  """`[(relative run dir, run config)]` for every combination of the grid."""
  g = grid_cfg.grid
  for key in ("models", "datasets", "styles", "seeds"):
    if not g[key]:
      raise ConfigError(f"config key 'grid.{key}': empty")
  runs = []
  for model, dataset, style, seed in itertools.product(g.models, g.datasets, g.styles, g.seeds):
    cfg = copy.deepcopy(grid_cfg.base)
    cfg.model.spec = model
    cfg.data.name = dataset
    cfg.prompts.style = style
    cfg.sampling.seed = int(seed)
    if grid_cfg.get("data_root"):
      cfg.data.path = f"{grid_cfg.data_root}/{run_config.DATASETS[dataset][1]}"
    if any(m.lower() in model.lower() for m in g.get("chat_models", ())):
      cfg.prompts.format = "chat"  # instruct / it models get their chat template
    run_config.validate(cfg, check_files=False)
    runs.append((os.path.join(_slug(model), dataset, style, f"seed{seed}"), cfg))
  return runs


def run_grid(grid_cfg, workdir: str, *, worker_index: int = 0, num_workers: int = 1,
             progress: bool = True) -> list[str]:
  """Runs this worker's share of the grid (skipping finished runs); returns their dirs."""
  runs = expand(grid_cfg)
  mine = runs[worker_index::num_workers]
  done = []
  for i, (rel, cfg) in enumerate(mine):
    path = os.path.join(workdir, rel)
    if _finished(path, cfg):
      print(f"[{i + 1}/{len(mine)}] {rel}: finished, skipped")
    else:
      print(f"[{i + 1}/{len(mine)}] {rel}: running")
      run_lib.run_calibration(cfg, path, progress=progress, host=0, hosts=1)
    done.append(path)
  return done


def _finished(path: str, cfg) -> bool:
  root = epath.Path(path)
  if not (root / "report.json").exists() or not (root / "fingerprint.json").exists():
    return False
  return json.loads((root / "fingerprint.json").read_text()) == run_config.fingerprint(cfg)


def aggregate(grid_cfg, workdir: str) -> dict[str, str]:
  """Writes results.md, results.csv and reliability_grid.png over the finished runs."""
  rows, cells = [], {}
  for rel, cfg in expand(grid_cfg):
    root = epath.Path(workdir) / rel
    if not (root / "report.json").exists():
      continue
    report = json.loads((root / "report.json").read_text())
    rows.append({k: report.get(k) for k in TABLE_KEYS})
    per_q = list(csv.DictReader(io.StringIO((root / "per_question.csv").read_text())))
    key = (cfg.model.spec, cfg.data.name, cfg.prompts.style)
    cells.setdefault(key, []).append(per_q)
  if not rows:
    raise RuntimeError(f"no finished runs under {workdir}")
  buf = io.StringIO()
  writer = csv.DictWriter(buf, fieldnames=list(TABLE_KEYS))
  writer.writeheader()
  writer.writerows(rows)
  io_lib.write_text_atomic(os.path.join(workdir, "results.csv"), buf.getvalue())
  io_lib.write_text_atomic(os.path.join(workdir, "results.md"), markdown(rows))
  _figure_grid(grid_cfg, cells, os.path.join(workdir, "reliability_grid.png"))
  return {"csv": os.path.join(workdir, "results.csv"),
          "markdown": os.path.join(workdir, "results.md"),
          "figure": os.path.join(workdir, "reliability_grid.png")}


def _fmt(v) -> str:
  if isinstance(v, float):
    return f"{v:.3f}"
  if isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
    return f"[{v[0]:.3f}, {v[1]:.3f}]"
  return "" if v is None else str(v)


def markdown(rows: list[dict[str, Any]]) -> str:
  head = "| " + " | ".join(TABLE_KEYS) + " |\n|" + "---|" * len(TABLE_KEYS) + "\n"
  return head + "".join("| " + " | ".join(_fmt(r[k]) for k in TABLE_KEYS) + " |\n" for r in rows)


def _figure_grid(grid_cfg, cells, path: str) -> None:
  g = grid_cfg.grid
  cols = [(d, s) for d in g.datasets for s in g.styles]
  fig, axes = plt.subplots(len(g.models), len(cols), squeeze=False,
                           figsize=(3.2 * len(cols), 3.2 * len(g.models)))
  for i, model in enumerate(g.models):
    for j, (dataset, style) in enumerate(cols):
      ax = axes[i][j]
      runs = cells.get((model, dataset, style), [])
      if runs:
        f = np.asarray([float(r["confidence"]) for run in runs for r in run])
        y = np.asarray([r["correct"] == "True" for run in runs for r in run], np.float64)
        curve = diagrams.smoothed_curve(f, y, n_bootstrap=100)
        diagrams.plot_smoothed(curve, ax=ax, label=f"{len(runs)} seed(s)")
      else:
        ax.text(0.5, 0.5, "not run", ha="center", va="center")
      ax.set_title(f"{_slug(model)}\n{dataset} / {style}", fontsize=8)
  fig.tight_layout()
  diagrams.save(fig, path)
