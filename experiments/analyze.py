"""The paper's summary figures from a finished sweep.

  python experiments/analyze.py --sweep=DIR

Reads DIR/results.csv (written by experiments/sweep.py) and each run's
report.json; writes into DIR smece_by_model_style.png, smece_vs_parameters.png,
accuracy_vs_smece.png, overconfidence.png, methods.png and analysis.md (the
numbers behind them), and prints analysis.md.
"""

from absl import flags

from semcal_jax import config_utils

_SWEEP = flags.DEFINE_string("sweep", None, "Folder of a finished sweep (local or gs://).")


def main(_):
  from semcal_jax import storage  # pylint: disable=g-import-not-at-top
  from semcal_jax.pipeline import analysis  # pylint: disable=g-import-not-at-top
  paths = analysis.analyze(_SWEEP.value)
  print(storage.as_path(paths["analysis.md"]).read_text())
  print("wrote " + ", ".join(paths.values()))


if __name__ == "__main__":
  flags.mark_flags_as_required(["sweep"])
  config_utils.run(main)
