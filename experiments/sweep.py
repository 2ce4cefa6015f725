"""Run a grid of calibration runs and aggregate them into a table and a figure grid.

  python experiments/sweep.py --config=configs/grid_local.py --workdir=DIR
  python experiments/sweep.py --config=configs/paper_grid.py:models_root=gs://b/m,data_root=gs://b/d \
      --workdir=gs://b/semcal/paper --worker_index=$TPU_WORKER_ID --num_workers=8
  python experiments/sweep.py --config=... --workdir=DIR --aggregate_only

Finished runs are skipped, unfinished ones resume. Each worker takes runs i with
i % num_workers == worker_index. On a pod, start it on every host with
--distributed (or --coordinator/--num_processes/--process_id): the hosts are the
workers, runs whose model needs several hosts run on all of them together, and
process 0 writes DIR/results.md, results.csv, reliability_grid.png at the end.
Independent workers (--worker_index/--num_workers, no multi-host job) run
--aggregate_only once all are done.
"""


from absl import flags
from ml_collections import config_flags

from semcal_jax import config_utils
from semcal_jax import multihost

_CONFIG = config_flags.DEFINE_config_file("config", None, "Grid config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Root directory of the grid's runs.")
_WORKER = flags.DEFINE_integer("worker_index", None, "This worker's index (default: this "
                               "process's index in a multi-host job, else 0).")
_WORKERS = flags.DEFINE_integer("num_workers", None, "Number of workers sharing the grid "
                                "(default: the job's processes, else 1).")
_AGGREGATE_ONLY = flags.DEFINE_bool("aggregate_only", False, "Only write the table and figure.")
multihost.define_flags()


def main(_):
  import jax  # pylint: disable=g-import-not-at-top
  from semcal_jax import storage  # pylint: disable=g-import-not-at-top
  from semcal_jax.pipeline import sweep  # pylint: disable=g-import-not-at-top
  multihost.initialize_from_flags()
  worker = jax.process_index() if _WORKER.value is None else _WORKER.value
  workers = jax.process_count() if _WORKERS.value is None else _WORKERS.value
  if not 0 <= worker < workers:
    raise config_utils.ConfigError(f"flag --worker_index: {worker} not in [0, {workers})")
  if not _AGGREGATE_ONLY.value:
    sweep.run_grid(_CONFIG.value, _WORKDIR.value, worker_index=worker, num_workers=workers)
  # One job that ran the whole grid (one process, or all hosts of a pod) aggregates at
  # the end; independent workers run --aggregate_only once all are done.
  whole_job = workers == jax.process_count()
  if worker == 0 and multihost.is_main() and (whole_job or _AGGREGATE_ONLY.value):
    out = sweep.aggregate(_CONFIG.value, _WORKDIR.value)
    print(storage.as_path(out["markdown"]).read_text())
    print(f"wrote {out['csv']}, {out['markdown']}, {out['figure']}")


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  config_utils.run(main)
