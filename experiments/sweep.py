"""Run a grid of calibration runs and aggregate them into a table and a figure grid.

  python experiments/sweep.py --config=configs/grid_local.py --workdir=DIR
  python experiments/sweep.py --config=configs/paper_grid.py:models_root=gs://b/m,data_root=gs://b/d \
      --workdir=gs://b/semcal/paper --worker_index=$TPU_WORKER_ID --num_workers=8
  python experiments/sweep.py --config=... --workdir=DIR --aggregate_only

Finished runs are skipped, unfinished ones resume. Each worker (a TPU host or
slice) takes runs i with i % num_workers == worker_index; run --aggregate_only
once all are done to write DIR/results.md, results.csv, reliability_grid.png.
"""

import sys

from absl import flags
from ml_collections import config_flags

from semcal_jax import config_utils

_CONFIG = config_flags.DEFINE_config_file("config", None, "Grid config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Root directory of the grid's runs.")
_WORKER = flags.DEFINE_integer("worker_index", 0, "This worker's index.")
_WORKERS = flags.DEFINE_integer("num_workers", 1, "Number of workers sharing the grid.")
_AGGREGATE_ONLY = flags.DEFINE_bool("aggregate_only", False, "Only write the table and figure.")


def main(_):
  from semcal_jax.pipeline import sweep  # pylint: disable=g-import-not-at-top
  if not 0 <= _WORKER.value < _WORKERS.value:
    print(f"error: --worker_index={_WORKER.value} not in [0, {_WORKERS.value})", file=sys.stderr)
    sys.exit(2)
  try:
    if not _AGGREGATE_ONLY.value:
      sweep.run_grid(_CONFIG.value, _WORKDIR.value, worker_index=_WORKER.value,
                     num_workers=_WORKERS.value)
    if _WORKER.value == 0 and (_WORKERS.value == 1 or _AGGREGATE_ONLY.value):
      out = sweep.aggregate(_CONFIG.value, _WORKDIR.value)
      print(open(out["markdown"]).read())
      print(f"wrote {out['csv']}, {out['markdown']}, {out['figure']}")
  except config_utils.ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  config_utils.run(main)
