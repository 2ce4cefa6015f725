"""A grid of calibration runs: models x data sets x styles x seeds, then one table.

A grid config (see `configs/grid_local.py`) has `base` (a run config),
`grid.models / datasets / styles / seeds` (lists), optionally
`grid.chat_models` (substrings: matching models use the chat prompt format),
`data_root` (each run reads `<data_root>/<data set folder>`) and `per_model`
(overrides of a model's runs, e.g. `per_model.Qwen2_5_72B.model.mesh_model`, keyed
by `per_model_key`). Every combination is a run
in `<workdir>/<model>/<dataset>/<style>/seed<k>`, run one after another here
(or spread over workers: `worker_index` / `num_workers`, e.g. one per TPU host
or slice). A finished run (report present, same config) is skipped; an
unfinished one resumes. `aggregate` writes `results.md` and `results.csv` (one
row per run, with the model's family, parameter count, kind and lineage from
`model_info`, and the run's folder) and `reliability_grid.png` (rows: models; columns: data set x
style; the seeds of a cell pooled on one axes), the paper's layout.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import logging
import os
import re
from typing import Any

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from semcal_jax import config_utils, multihost, storage  # noqa: E402
from semcal_jax.calibration import diagrams  # noqa: E402
from semcal_jax.config_utils import ConfigError  # noqa: E402
from semcal_jax.pipeline import model_info  # noqa: E402
from semcal_jax.pipeline import run as run_lib  # noqa: E402
from semcal_jax.pipeline import run_config  # noqa: E402

TABLE_KEYS = ("model", "family", "parameters", "kind", "lineage", "dataset", "style", "seed",
              "n_questions", "num_samples", "accuracy",
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
    _apply_per_model(cfg, grid_cfg.get("per_model"), model)
    run_config.validate(cfg, check_files=False)
    runs.append((os.path.join(_slug(model), dataset, style, f"seed{seed}"), cfg))
  return runs


def per_model_key(model: str) -> str:
  """The `per_model` key of a model: its folder name with every character that cannot be
  in a Python name as `_` (`gs://b/models/Qwen2.5-72B` -> `Qwen2_5_72B`), so that
  `--config.per_model.Qwen2_5_72B.model.mesh_model=16` works on the command line."""
  return re.sub(r"\W", "_", _slug(model))


def _apply_per_model(cfg, per_model, model: str) -> None:
  """Applies `per_model.<key>.<section>.<field>` (e.g. `model.mesh_model`) to a run."""
  entry = per_model.get(per_model_key(model)) if per_model else None
  for section, fields in (entry or {}).items():
    overrides = {f"{section}.{k}": v for k, v in fields.items()}
    try:
      config_utils.apply_overrides(cfg, overrides)
    except ConfigError as e:
      raise ConfigError(f"per_model.{per_model_key(model)}: {e}") from None


def run_grid(grid_cfg, workdir: str, *, worker_index: int | None = None,
             num_workers: int | None = None, progress: bool = True) -> list[str]:
  """Runs this worker's share of the grid (skipping finished runs); returns their dirs.

  A run whose model fits on one host's devices is done by one worker alone (runs
  `i` with `i % num_workers == worker_index`, on its local devices). In a
  multi-host job (`multihost.initialize`), a run whose `model.mesh_model` needs
  the devices of several hosts is done by all processes together, before the
  per-host runs; the workers default to the job's processes, and every process
  waits for all of them at the end (so that process 0 can aggregate)."""
  worker_index = jax.process_index() if worker_index is None else worker_index
  num_workers = jax.process_count() if num_workers is None else num_workers
  runs = expand(grid_cfg)
  together = [r for r in runs if multihost.spans_hosts(run_lib.sampling_mesh(r[1]))]
  alone = [r for r in runs if r not in together][worker_index::num_workers]
  done = []
  for i, (rel, cfg) in enumerate(together + alone):
    path = os.path.join(workdir, rel)
    tag = f"[{i + 1}/{len(together) + len(alone)}] {rel}"
    if _finished(path, cfg):
      print(f"{tag}: finished, skipped")
    elif i < len(together):
      print(f"{tag}: running on all {jax.process_count()} hosts")
      run_lib.run_calibration(cfg, path, progress=progress)
    else:
      print(f"{tag}: running")
      run_lib.run_calibration(cfg, path, progress=progress, host=0, hosts=1)
    done.append(path)
  multihost.barrier("semcal-sweep-done")
  return done


def _finished(path: str, cfg) -> bool:
  """Whether the run at `path` has a readable report of exactly this config (its
  fingerprint digest). A report that cannot be read is named in one warning line;
  the run is then done again (it resumes from its samples and rewrites the report)."""
  report = _read_report(storage.as_path(path) / "report.json")
  if report is None:
    return False
  return report.get("fingerprint") == run_config.digest(run_config.fingerprint(cfg))


def _read_report(path) -> dict | None:
  """A run's report.json, or None when it is missing or unreadable (with a warning)."""
  try:
    report = storage.read_json(path)
  except (storage.StorageError, UnicodeDecodeError) as e:
    logging.warning("%s; the run will write it again", e)
    return None
  if report is not None and not isinstance(report, dict):
    logging.warning("%s: not a JSON object; the run will write it again", os.fspath(path))
    return None
  return report


def aggregate(grid_cfg, workdir: str) -> dict[str, str]:
  """Writes results.md, results.csv and reliability_grid.png over the finished runs."""
  rows, cells = [], {}
  for rel, cfg in expand(grid_cfg):
    root = storage.as_path(workdir) / rel
    report = _read_report(root / "report.json")
    if report is None or not (root / "per_question.csv").exists():
      continue
    info = model_info.describe(cfg.model.spec, cfg.model.kind, cfg.model.lineage)
    rows.append({**{k: info[k] if k in info else report.get(k) for k in TABLE_KEYS}, "run": rel})
    per_q = list(csv.DictReader(io.StringIO((root / "per_question.csv").read_text())))
    key = (cfg.model.spec, cfg.data.name, cfg.prompts.style)
    cells.setdefault(key, []).append(per_q)
  if not rows:
    raise ConfigError(f"flag --workdir: no finished runs under {workdir} (run the grid first)")
  buf = io.StringIO()
  writer = csv.DictWriter(buf, fieldnames=[*TABLE_KEYS, "run"])
  writer.writeheader()
  writer.writerows(rows)
  storage.write_text_atomic(os.path.join(workdir, "results.csv"), buf.getvalue())
  storage.write_text_atomic(os.path.join(workdir, "results.md"), markdown(rows))
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
