"""README command 1: the synthetic-world quickstart (see configs/quickstart.py).

  python experiments/quickstart.py --config=configs/quickstart.py --workdir=/tmp/semcal_quickstart

Prints the results table and writes results.md, results.json and
reliability.png to the workdir.
"""

from absl import flags
from ml_collections import config_flags

from semcal_jax import config_utils

_CONFIG = config_flags.DEFINE_config_file("config", "configs/quickstart.py", "Config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "/tmp/semcal_quickstart", "Output folder.")


def main(_):
  from semcal_jax import storage  # pylint: disable=g-import-not-at-top
  from semcal_jax.pipeline import quickstart  # pylint: disable=g-import-not-at-top
  with storage.WorkdirLock(storage.prepare_workdir(_WORKDIR.value)):  # one writer at a time
    results = quickstart.run_quickstart(_CONFIG.value, _WORKDIR.value)
  print()
  print(results["table"])
  print(f"{results['questions']} questions per row; wall time {results['wall_seconds']:.0f} s; "
        f"wrote {_WORKDIR.value}/results.md, results.json, reliability.png")


if __name__ == "__main__":
  config_utils.run(main)
