"""Does a config fit a Cloud TPU slice? Prints a table per model and exits 0 only if all fit.

  python experiments/plan_tpu.py --config=configs/paper_grid.py --slice=v5e-16
  python experiments/plan_tpu.py --config=configs/paper_grid.py:slice=v4-32 --slice=v4-32
  python experiments/plan_tpu.py --config=configs/local.py:model=/path/Qwen2.5-7B --slice=v5e-8
  python experiments/plan_tpu.py --config=configs/finetune_tpu.py \
      --config.model.spec=gs://b/models/Qwen2.5-7B --slice=v5p-64

For every model: parameters, bytes per chip of weights / KV cache /
activations (and optimizer state for fine-tuning), the mesh, and an estimated
decode step and tokens/s (a roofline, not a measurement). A model that does
not fit prints one line naming the setting that fixes it, and the exit code
is 1; bad flags or configs exit 2. `--slice` defaults to the config's `slice`.
Nothing touches a device and nothing is downloaded.
"""

import sys

from absl import flags
from ml_collections import config_flags

from semcal_jax import config_utils

_CONFIG = config_flags.DEFINE_config_file("config", None, "Grid, run or fine-tuning config.",
                                          lock_config=True)
_SLICE = flags.DEFINE_string("slice", None, "TPU slice, e.g. v5e-16, v5litepod-16, v4-32, "
                             "v5p-64, v6e-16 (default: the config's `slice`).")


def main(_):
  from semcal_jax.pipeline import tpu_chips, tpu_plan  # pylint: disable=g-import-not-at-top
  cfg = _CONFIG.value
  name = _SLICE.value or cfg.get("slice")
  if not name:
    print("error: --slice is required (the config names no slice)", file=sys.stderr)
    sys.exit(2)
  try:
    slice_ = tpu_chips.parse_slice(name)
    plans = tpu_plan.plan(cfg, slice_)
  except (ValueError, KeyError) as e:  # ConfigError is a ValueError
    print(f"error: {str(e).strip(chr(34) + chr(39))}", file=sys.stderr)
    sys.exit(2)
  if cfg.get("slice") and cfg.slice != name:
    print(f"note: the config's per-model settings are chosen for slice={cfg.slice}, planned "
          f"here on {name}")
  print(tpu_plan.table(plans, slice_))
  errors = [p.error for p in plans if p.error]
  for line in errors:
    print(line, file=sys.stderr)
  sys.exit(1 if errors else 0)


if __name__ == "__main__":
  flags.mark_flags_as_required(["config"])
  config_utils.run(main)
