"""The probe over finished calibration runs: one probe per run, then gap vs smECE.

    out = probe_runs(cfg, "/tmp/semcal_probe_runs")   # configs/probe_runs.py
    print(out["table"])

Each run's probe result is kept in `WORKDIR/probes/<run folder name>-<identity>.json`,
where the identity (`from_run.run_identity`) covers the run's fingerprint, its
collapsing and calibration settings and the probe's settings, so a rerun reuses a
result only for the same samples and the same probe. A result file that cannot be
read is named in one warning line and computed again. Results are cached with
NaN kept as NaN (a probe whose linear R^2 is undefined stays undefined on a
rerun). The workdir is locked while it is written (`storage.WorkdirLock`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from typing import Any

from semcal_jax import multihost, storage
from semcal_jax.config_utils import ConfigError
from semcal_jax.probe import compare, from_run, lora_probe


def _cached(path: str) -> dict | None:
  try:
    saved = storage.read_json(path)
  except storage.StorageError as e:
    logging.warning("%s; the probe is run again", e)
    return None
  if saved is not None and not (isinstance(saved, dict) and "lora" in saved):
    logging.warning("%s: not a probe result; the probe is run again", path)
    return None
  return saved


def _probe_one(run: str, p, pcfg, workdir: str, log) -> dict:
  settings = {k: v for k, v in p.to_dict().items() if k not in ("runs", "n_bootstrap")}
  path = storage.join(workdir, "probes", f"{os.path.basename(run.rstrip('/'))}-"
                      f"{from_run.run_identity(run, settings)}.json")
  saved = _cached(path)
  if saved is not None:
    log(f"{run}: probe already done ({path})")
    return saved
  row = from_run.probe_run(run, pcfg, max_candidates=p.max_candidates,
                           prompt_style=p.prompt_style, k_shot=p.k_shot,
                           model_spec=p.model_spec, dtype=p.dtype, mesh_model=p.mesh_model,
                           linear=p.linear, distractors=p.distractors, log=log)
  if multihost.is_main():  # every host computed the same probe; one writes it
    storage.write_json_atomic(path, row, allow_nan=True)
  return row


def probe_runs(cfg, workdir: str, *, log=print) -> dict[str, Any]:
  """Probes each run of `cfg.probe.runs` (comma-separated run directories) and
  compares KL gap with smECE; returns `{"table": markdown, "rows", "spearman"}` and
  (process 0) writes results.md, results.json and probe_vs_smece.png."""
  p = cfg.probe
  runs = [r.strip() for r in p.runs.split(",") if r.strip()]
  if not runs:
    raise ConfigError("config key 'probe.runs': empty; give comma-separated run "
                      "directories (--config.probe.runs=/path/a,/path/b)")
  for run in runs:  # every run is checked before any is probed
    from_run.load_run(run)
  workdir = storage.prepare_workdir(workdir)
  with storage.WorkdirLock(workdir) if multihost.is_main() else contextlib.nullcontext():
    storage.makedirs(storage.join(workdir, "probes"))
    for folder in (workdir, storage.join(workdir, "probes")):
      storage.remove_temp_files(folder)  # left by a killed writer
    pcfg = lora_probe.ProbeConfig.from_config(p.lora)
    rows = {run: _probe_one(run, p, pcfg, workdir, log) for run in runs}
    names = [f"{r['model']} / {r['dataset']} / {r['style']}" for r in rows.values()]
    gaps = [r["lora"]["kl_gap"] for r in rows.values()]
    smeces = [r["smece"] for r in rows.values()]
    stats = compare.spearman_ci(gaps, smeces, n_bootstrap=p.n_bootstrap, seed=cfg.seed)
    table = format_table(names, list(rows.values()), stats)
    if multihost.is_main():
      if len(rows) >= 3 and all(_number(s) for s in smeces):
        compare.scatter(names, gaps, smeces, stats, os.path.join(workdir, "probe_vs_smece.png"))
      storage.write_json_atomic(os.path.join(workdir, "results.json"),
                                {"config": cfg.to_dict(), "runs": rows, "spearman": stats})
      storage.write_text_atomic(os.path.join(workdir, "results.md"), table)
  return {"table": table, "rows": rows, "spearman": stats}


def _number(v) -> bool:
  return isinstance(v, (int, float)) and math.isfinite(v)


def _fmt(v, digits: int) -> str:
  """`v` with `digits` decimals; "n/a" for a missing or NaN value."""
  return f"{v:.{digits}f}" if _number(v) else "n/a"


def format_table(names: list[str], rows: list[dict], stats: dict) -> str:
  """The markdown table of one probe row per run, and Spearman's rho with its CI."""
  lines = ["| run | smECE | held-out KL | floor | KL gap | KL before | probe smECE | linear R^2 |",
           "|---|---|---|---|---|---|---|---|"]
  for name, r in zip(names, rows):
    l = r["lora"]
    lin = (r.get("linear") or {}).get("r2")
    lines.append(f"| {name} | {_fmt(r['smece'], 3)} | {_fmt(l['heldout_kl'], 4)} | "
                 f"{_fmt(l['noise_floor'], 4)} | {_fmt(l['kl_gap'], 4)} | "
                 f"{_fmt(l['kl_before'], 4)} | "
                 f"{_fmt((l.get('probe_calibration') or {}).get('smece'), 3)} | {_fmt(lin, 3)} |")
  lo, hi = stats["ci"]
  return "\n".join(lines) + (f"\n\nSpearman(KL gap, smECE) = {_fmt(stats['spearman'], 3)} "
                             f"[{_fmt(lo, 3)}, {_fmt(hi, 3)}], n = {stats['n']}\n")


__all__ = ["format_table", "probe_runs"]
