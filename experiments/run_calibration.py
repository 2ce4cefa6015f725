"""The main job: measure a model's semantic calibration on a data set in one style.

  python experiments/run_calibration.py --config=configs/local.py:model=gemma-3-270m,data=triviaqa \
      [--config.sampling.num_samples=50 ...] --workdir=DIR [--overwrite]

Resumable: run the same command again after a crash (or kill -9) and it goes on
from the samples already in DIR. A changed config in a used DIR is refused
(or --overwrite). Writes DIR/report.json, per_question.csv, reliability.png,
confidence_hist.png. On a TPU pod, run it on every worker with --distributed, or
with --coordinator=HOST:PORT --num_processes=N --process_id=I (see README).
"""

import json
import sys

from absl import flags
from ml_collections import config_flags

from semcal_jax import config_utils
from semcal_jax import multihost

_CONFIG = config_flags.DEFINE_config_file("config", None, "Run config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (local path or gs://).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Discard the samples of a different config.")
multihost.define_flags()


def main(_):
  from semcal_jax.pipeline import run  # pylint: disable=g-import-not-at-top
  try:
    multihost.initialize_from_flags()
    report = run.run_calibration(_CONFIG.value, _WORKDIR.value, overwrite=_OVERWRITE.value)
  except (config_utils.ConfigError, multihost.MultihostError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  if report is not None:
    keys = ("model", "dataset", "style", "n_questions", "num_samples", "accuracy",
            "mean_confidence", "smece", "smece_ci", "ece", "auroc", "unparsed_fraction",
            "tokens_per_second", "wall_seconds")
    print(json.dumps({k: report[k] for k in keys}, indent=1))


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  config_utils.run(main)
