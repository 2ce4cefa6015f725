"""The mechanism probe: KL gap of a LoRA probe vs smECE, across settings or runs.

  # synthetic world (base x 3 styles, GRPO, DPO, CoT-SFT), under 10 minutes on a 2-core CPU:
  python experiments/probe_vs_calibration.py --config=configs/probe_synthetic.py \
      --workdir=/tmp/semcal_probe
  # finished calibration runs of real models:
  python experiments/probe_vs_calibration.py --config=configs/probe_runs.py \
      --config.probe.runs=/tmp/semcal/run_a,/tmp/semcal/run_b --workdir=/tmp/semcal_probe_runs

Prints a table (held-out KL, finite-M floor, gap, probe calibration, linear
probe R^2 next to each setting's smECE) and Spearman's rho of gap vs smECE with
a bootstrap CI; writes results.md, results.json and probe_vs_smece.png.
"""

import os

from absl import flags
from ml_collections import config_flags

from semcal_jax import config_utils
from semcal_jax import multihost

_CONFIG = config_flags.DEFINE_config_file("config", "configs/probe_synthetic.py", "Config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "/tmp/semcal_probe", "Output folder.")
multihost.define_flags()


def _runs(cfg, workdir: str) -> dict:
  """Probes each run of `cfg.probe.runs` (kept per run under WORKDIR/probes/)."""
  import hashlib  # pylint: disable=g-import-not-at-top
  import json  # pylint: disable=g-import-not-at-top
  from semcal_jax import storage  # pylint: disable=g-import-not-at-top
  from semcal_jax.probe import compare, from_run, lora_probe  # pylint: disable=g-import-not-at-top
  p = cfg.probe
  runs = [r.strip() for r in p.runs.split(",") if r.strip()]
  if not runs:
    raise config_utils.ConfigError("config key 'probe.runs': empty; give comma-separated run "
                                   "directories (--config.probe.runs=/path/a,/path/b)")
  workdir = storage.prepare_workdir(workdir)
  storage.makedirs(storage.join(workdir, "probes"))
  pcfg = lora_probe.ProbeConfig.from_config(p.lora)
  rows = {}
  for run in runs:
    key = hashlib.sha256(json.dumps([run, p.to_dict()], sort_keys=True, default=str)
                         .encode()).hexdigest()[:12]
    path = storage.join(workdir, "probes", f"{os.path.basename(run.rstrip('/'))}-{key}.json")
    saved = storage.read_json(path)
    if saved is not None:
      rows[run] = saved
      print(f"{run}: probe already done ({path})")
      continue
    rows[run] = from_run.probe_run(run, pcfg, max_candidates=p.max_candidates,
                                   prompt_style=p.prompt_style, k_shot=p.k_shot,
                                   model_spec=p.model_spec,
                                   dtype=p.dtype, mesh_model=p.mesh_model, linear=p.linear,
                                   distractors=p.distractors)
    if multihost.is_main():  # every host computed the same probe; one writes it
      storage.write_json_atomic(path, rows[run])
  names = [f"{r['model']} / {r['dataset']} / {r['style']}" for r in rows.values()]
  gaps = [r["lora"]["kl_gap"] for r in rows.values()]
  smeces = [r["smece"] for r in rows.values()]
  stats = compare.spearman_ci(gaps, smeces, n_bootstrap=p.n_bootstrap, seed=cfg.seed)
  if not multihost.is_main():
    return {"table": ""}
  if len(rows) >= 3 and all(s is not None for s in smeces):
    compare.scatter(names, gaps, smeces, stats, os.path.join(workdir, "probe_vs_smece.png"))
  lines = ["| run | smECE | held-out KL | floor | KL gap | KL before | probe smECE | linear R^2 |",
           "|---|---|---|---|---|---|---|---|"]
  for name, r in zip(names, rows.values()):
    l = r["lora"]
    sm = "n/a" if r["smece"] is None else f"{r['smece']:.3f}"
    lin = r.get("linear", {}).get("r2", float("nan"))
    lines.append(f"| {name} | {sm} | {l['heldout_kl']:.4f} | {l['noise_floor']:.4f} | "
                 f"{l['kl_gap']:.4f} | {l['kl_before']:.4f} | "
                 f"{l['probe_calibration']['smece']:.3f} | {lin:.3f} |")
  lo, hi = stats["ci"]
  table = "\n".join(lines) + (f"\n\nSpearman(KL gap, smECE) = {stats['spearman']:.3f} "
                              f"[{lo:.3f}, {hi:.3f}], n = {stats['n']}\n")
  storage.write_json_atomic(os.path.join(workdir, "results.json"),
                           {"config": cfg.to_dict(), "runs": rows, "spearman": stats})
  storage.write_text_atomic(os.path.join(workdir, "results.md"), table)
  return {"table": table}


def _compilation_cache(workdir: str) -> None:
  """A persistent compilation cache under WORKDIR/jax_cache (unless
  $JAX_COMPILATION_CACHE_DIR names one): the synthetic run's six probes compile the
  same programs for different weights, and a rerun compiles nothing again."""
  import jax  # pylint: disable=g-import-not-at-top
  if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir", os.path.join(workdir, "jax_cache"))


def main(_):
  cfg = _CONFIG.value
  mode = cfg.probe.mode
  multihost.initialize_from_flags()
  _compilation_cache(_WORKDIR.value)
  if mode == "synthetic":
    from semcal_jax.probe import synthetic  # pylint: disable=g-import-not-at-top
    results = synthetic.run_synthetic(cfg, _WORKDIR.value)
    print()
    print(results["table"])
    print(f"{results['questions']} questions per setting; wall time "
          f"{results['wall_seconds']:.0f} s; wrote {_WORKDIR.value}/results.md, results.json, "
          "probe_vs_smece.png")
  elif mode == "runs":
    print(_runs(cfg, _WORKDIR.value)["table"])
  else:
    raise config_utils.ConfigError(f"config key 'probe.mode': expected 'synthetic' or 'runs', "
                                   f"got {mode!r}")


if __name__ == "__main__":
  config_utils.run(main)
