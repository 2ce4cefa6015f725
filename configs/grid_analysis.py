"""The local sweep behind experiments/analyze.py's figures: base vs instruct, three styles,
a fact and a math data set (CPU, ../shared/data), every uncertainty method.

  python experiments/sweep.py --config=configs/grid_analysis.py --workdir=/tmp/semcal/analysis
  python experiments/analyze.py --sweep=/tmp/semcal/analysis

2 models (Gemma-3-270m base, SmolLM2-135M-Instruct with its chat template) x
(triviaqa, gsm8k) x (concise, sentence, cot): 12 runs. Chains of thought are cut
at `cot_tokens` tokens (512 in the paper's budget) to keep the grid to minutes on a
2-core machine; a chain cut before its answer counts as unparsed. Argument keys:
n_questions (default 24), num_samples (default 8), cot_tokens (default 128).
"""

import ml_collections

from semcal_jax import config_utils
from semcal_jax.pipeline import run_config


def get_config(arg=None):
  arg = config_utils.parse_arg(arg, n_questions=24, num_samples=8, cot_tokens=128)
  c = ml_collections.ConfigDict()
  c.base = run_config.default_config()
  c.base.data.n_questions = arg.n_questions
  c.base.sampling.num_samples = arg.num_samples
  c.base.prompts.styles.cot.max_new_tokens = arg.cot_tokens
  c.base.calibration.n_bootstrap = 200
  c.base.uncertainty.self_assessment = True
  c.grid = ml_collections.ConfigDict({
      "models": ("gemma-3-270m", "smollm2-135m-instruct"),
      "datasets": ("triviaqa", "gsm8k"),
      "styles": ("concise", "sentence", "cot"),
      "seeds": (0,),
      "chat_models": ("instruct",),
  })
  return c
