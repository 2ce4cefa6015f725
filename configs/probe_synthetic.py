"""The mechanism probe in the synthetic world (CPU): KL gap vs smECE across six settings.

  python experiments/probe_vs_calibration.py --config=configs/probe_synthetic.py \
      --workdir=/tmp/semcal_probe

The models are the quickstart's (configs/quickstart.py: pretraining, GRPO, DPO,
CoT-SFT), on a smaller world (240 people, 720 questions) with at most 800
pretraining steps, to fit in ten minutes on two CPU cores; settings: base in 3
styles, GRPO, DPO, CoT-SFT. Each
setting's sampled class shares are the targets of a rank-8 LoRA probe (and a
linear probe), prompted with the concise question. Argument: `smoke` (a tiny
version for tests), `seed=N`. Writes results.md, results.json and
probe_vs_smece.png.
"""

import os

from semcal_jax import config_utils

_QUICKSTART = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quickstart.py")


def probe_section(smoke: bool = False):
  import ml_collections  # pylint: disable=g-import-not-at-top
  p = ml_collections.ConfigDict()
  p.mode = "synthetic"
  p.prompt_style = "concise"  # the probe answers directly, whatever the setting's style
  p.max_candidates = 8  # most frequent classes per question kept as candidates
  p.distractors = True  # fill empty candidate slots with other questions' answers (target 0)
  p.linear = True  # also fit the linear probe (last prompt hidden state -> plurality share)
  p.n_bootstrap = 2000  # resamples of the Spearman CI (over settings)
  p.lora = ml_collections.ConfigDict({
      "rank": 8, "alpha": 16.0, "lora_targets": ("q", "k", "v", "o", "gate", "up", "down"),
      "learning_rate": 1e-3, "steps": 40, "batch_size": 64, "train_fraction": 0.5,
      "per_token_mean": False, "seed": 0, "n_bootstrap": 200, "logit_chunk": 512})
  if smoke:
    p.lora.steps, p.lora.batch_size, p.lora.n_bootstrap, p.n_bootstrap = 4, 16, 0, 50
  return p


def get_config(arg=None):
  a = config_utils.parse_arg(arg, smoke=False, seed=0)
  c = config_utils.load(f"{_QUICKSTART}:seed={a.seed}" + (",smoke" if a.smoke else ""),
                        lock=False)
  if not a.smoke:  # a smaller world and shorter pretraining, for the ten-minute budget
    c.world.num_people = 240
    c.pretrain.batch_size, c.pretrain.max_steps = 256, 800
    c.eval.n_bootstrap = 200
  c.probe = probe_section(a.smoke)
  return c
