"""Calibration demo on generated data (no model, no data set needed).

Simulated "models" answer Q questions M times each. Every question has a true
answer-class distribution p (Dirichlet); the reference answer is drawn from p.
A calibrated model samples its answers from p itself; an over-confident one
from p sharpened (p^t, t > 1); an under-confident one from p flattened (t < 1).

  python experiments/calibration_demo.py --config=configs/calibration_demo.py \
      --workdir=/tmp/semcal_demo [--config.num_questions=5000]

Argument (big_vision style): `configs/calibration_demo.py:num_questions=500,num_samples=10`.
"""

import ml_collections

from semcal_jax import config_utils


def get_config(arg=None):
  arg = config_utils.parse_arg(arg, num_questions=2000, num_samples=20, seed=0)
  c = ml_collections.ConfigDict()
  c.seed = arg.seed
  c.num_questions = arg.num_questions
  c.num_samples = arg.num_samples
  c.num_classes = 6  # answer classes per question
  c.dirichlet_alpha = 0.5  # concentration of the true class distributions
  c.unparsed_rate = 0.02  # share of samples B cannot parse
  # Temperature applied to p for each simulated model: p^t / sum(p^t).
  c.models = ml_collections.ConfigDict({
      "calibrated": 1.0,
      "over-confident": 2.0,
      "under-confident": 0.5,
  })
  c.calibration = ml_collections.ConfigDict({
      # Each model is scored with each estimator: "plurality" chooses the answer and
      # measures its share on the same M samples (biased up at small M);
      # "heldout" chooses on half of them and measures on the other half.
      "estimators": ("plurality", "heldout"),
      "unparsed": "class",  # or "exclude"
      "n_bootstrap": 1000,
      "n_bins": 15,
      "top_k": 3,
  })
  return c
