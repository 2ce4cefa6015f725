"""Semantic-calibration demo on generated data: table, report.json and diagrams.

See configs/calibration_demo.py for what is simulated.
"""

import os

from absl import flags
from ml_collections import config_flags
import numpy as np
from tqdm import tqdm

from semcal_jax import config_utils, storage
from semcal_jax.calibration import diagrams, summary

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder.")


def simulate(cfg, temperature, rng):
  """Class ids `[Q, M]` and reference class `[Q]` for one simulated model."""
  q, m, k = cfg.num_questions, cfg.num_samples, cfg.num_classes
  p = rng.dirichlet(np.full(k, cfg.dirichlet_alpha), size=q)
  reference = np.array([rng.choice(k, p=row) for row in p], np.int32)
  tilted = p**temperature
  tilted /= tilted.sum(1, keepdims=True)
  ids = np.stack([rng.choice(k, size=m, p=row) for row in tilted]).astype(np.int32)
  ids[rng.uniform(size=ids.shape) < cfg.unparsed_rate] = -1
  return ids, reference


def main(_):
  cfg = _CONFIG.value
  if not _WORKDIR.value:
    raise config_utils.ConfigError("flag --workdir is required (the output folder)")
  workdir = storage.prepare_workdir(_WORKDIR.value)
  rows, runs = {}, []
  jobs = [(m, e) for m in cfg.models for e in cfg.calibration.estimators]
  for i, (model, estimator) in enumerate(tqdm(jobs, desc="simulated models")):
    rng = np.random.default_rng([cfg.seed, list(cfg.models).index(model)])
    ids, reference = simulate(cfg, cfg.models[model], rng)
    out = summary.semantic_calibration(
        ids, reference, estimator=estimator, unparsed=cfg.calibration.unparsed,
        top_k=cfg.calibration.top_k, n_bootstrap=cfg.calibration.n_bootstrap,
        n_bins=cfg.calibration.n_bins, seed=cfg.seed)
    per_q = out.pop("per_question")
    name = f"{model} / {estimator}"
    rows[name] = out
    if estimator == cfg.calibration.estimators[0]:
      runs.append((name, per_q["confidence"], per_q["correct"]))
  diagrams.plot_runs(runs, os.path.join(workdir, "reliability.png"),
                     title="simulated models (generated data)")
  storage.write_json_atomic(os.path.join(workdir, "report.json"),
                           {"config": config_utils.to_dict(cfg), "models": rows})
  header = f"{'model / estimator':<28} {'acc':>6} {'conf':>6} {'smECE [95% CI]':>22} {'ECE':>6} {'Brier':>6} {'AUROC':>6}"
  print(header)
  print("-" * len(header))
  for name, r in rows.items():
    ci = f"{r['smece']:.3f} [{r['smece_ci'][0]:.3f}, {r['smece_ci'][1]:.3f}]"
    print(f"{name:<28} {r['accuracy']:6.3f} {r['mean_confidence']:6.3f} {ci:>22} "
          f"{r['ece']:6.3f} {r['brier']:6.3f} {r['auroc']:6.3f}")
  print(f"\nwrote {workdir}/report.json and {workdir}/reliability.png")


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  config_utils.run(main)
