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

import contextlib
import os

from absl import flags
from ml_collections import config_flags

from semcal_jax import config_utils
from semcal_jax import multihost

_CONFIG = config_flags.DEFINE_config_file("config", "configs/probe_synthetic.py", "Config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "/tmp/semcal_probe", "Output folder.")
multihost.define_flags()


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
    from semcal_jax import storage  # pylint: disable=g-import-not-at-top
    from semcal_jax.probe import synthetic  # pylint: disable=g-import-not-at-top
    workdir = storage.prepare_workdir(_WORKDIR.value)
    with storage.WorkdirLock(workdir) if multihost.is_main() else contextlib.nullcontext():
      results = synthetic.run_synthetic(cfg, workdir)
    print()
    print(results["table"])
    print(f"{results['questions']} questions per setting; wall time "
          f"{results['wall_seconds']:.0f} s; wrote {_WORKDIR.value}/results.md, results.json, "
          "probe_vs_smece.png")
  elif mode == "runs":
    from semcal_jax.probe import runs  # pylint: disable=g-import-not-at-top
    print(runs.probe_runs(cfg, _WORKDIR.value)["table"])
  else:
    raise config_utils.ConfigError(f"config key 'probe.mode': expected 'synthetic' or 'runs', "
                                   f"got {mode!r}")


if __name__ == "__main__":
  config_utils.run(main)
