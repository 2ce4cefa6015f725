"""The synthetic-world quickstart: the whole story, with known ground truth, on a CPU.

  python experiments/quickstart.py --config=configs/quickstart.py --workdir=/tmp/semcal_quickstart
  python experiments/quickstart.py --config=configs/quickstart.py:smoke --workdir=/tmp/qs_smoke

Pretrain a tiny model (the project's own NNX decoder) by next-token loss on a
corpus that implies known answer distributions p*, with early stopping on
held-out loss; measure its B-calibration in concise, sentence and cot styles;
from it, train GRPO (correctness reward), DPO (its own correct vs incorrect
samples) and CoT-SFT (worked chains); measure each; add the oracle (p* itself)
and the token-level calibration of the first answer token. Argument: `smoke`
(a tiny version for tests), `seed=N`.
"""

import ml_collections

from semcal_jax import config_utils


def get_config(arg=None):
  arg = config_utils.parse_arg(arg, smoke=False, seed=0)
  c = ml_collections.ConfigDict()
  c.seed = arg.seed
  c.world = ml_collections.ConfigDict({
      "num_people": 360,  # 2 facts each + 1 two-hop question: 1,080 evaluated questions
      "num_cities": 40,
      "num_countries": 8,
      "certain_share": 0.4,
      "rare_share": 0.2,
      "contested_alpha": 1.5,
      "mentions": 12,
      "rare_mentions": 2,
  })
  c.model = ml_collections.ConfigDict({
      "hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "head_dim": 16,
      "intermediate_size": 192,
  })
  c.pretrain = ml_collections.ConfigDict({
      "batch_size": 256, "learning_rate": 4e-3, "warmup_steps": 50, "max_steps": 1100,
      "eval_every": 100, "patience": 2, "heldout_scale": 0.2,
  })
  # max_new_tokens 0: each style's own budget (concise 8, sentence 16, cot 28 tokens).
  # figure_bootstrap: resamples for the band of each reliability diagram (0 = no band).
  c.eval = ml_collections.ConfigDict({"num_samples": 32, "n_bootstrap": 1000, "max_rows": 2048,
                                      "max_new_tokens": 0, "figure_bootstrap": 200})
  c.grpo = ml_collections.ConfigDict({
      "steps": 60, "questions_per_step": 32, "group_size": 8, "learning_rate": 3e-4,
      "beta": 0.02, "style": "concise",
  })
  c.dpo = ml_collections.ConfigDict({
      "samples": 8, "pairs_per_question": 2, "steps": 60, "batch_size": 64,
      "learning_rate": 3e-4, "beta": 0.1, "style": "concise",
  })
  c.cot_sft = ml_collections.ConfigDict({"steps": 80, "batch_size": 64, "learning_rate": 1e-3,
                                         "repeats": 4})
  if arg.smoke:
    c.world.num_people = 40
    c.world.num_cities = 12
    c.world.num_countries = 4
    c.model.hidden_size, c.model.intermediate_size = 32, 96
    c.model.head_dim = 8
    c.pretrain.max_steps, c.pretrain.eval_every, c.pretrain.batch_size = 80, 40, 64
    c.eval.num_samples, c.eval.n_bootstrap, c.eval.max_new_tokens = 8, 50, 12
    c.eval.figure_bootstrap = 0
    c.grpo.steps, c.grpo.questions_per_step, c.grpo.group_size = 2, 8, 4
    c.dpo.steps, c.dpo.samples = 2, 8  # as many samples as the evaluations: one compilation
    c.cot_sft.steps, c.cot_sft.repeats = 2, 1
  return c
