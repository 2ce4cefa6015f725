"""A small local grid: 2 models x 2 styles x 2 seeds on TriviaQA (CPU, ../shared/data).

  python experiments/sweep.py --config=configs/grid_local.py --workdir=/tmp/semcal/grid

Argument keys: n_questions (default 30), num_samples (default 10).
"""

import ml_collections

from semcal_jax import config_utils
from semcal_jax.pipeline import run_config


def get_config(arg=None):
  arg = config_utils.parse_arg(arg, n_questions=30, num_samples=10)
  c = ml_collections.ConfigDict()
  c.base = run_config.default_config()
  c.base.data.n_questions = arg.n_questions
  c.base.sampling.num_samples = arg.num_samples
  c.base.calibration.n_bootstrap = 500
  c.grid = ml_collections.ConfigDict({
      "models": ("gemma-3-270m", "smollm2-135m-instruct"),
      "datasets": ("triviaqa",),
      "styles": ("concise", "sentence"),
      "seeds": (0, 1),
  })
  return c
