"""The mechanism probe on finished calibration runs (real models; CPU or TPU).

  python experiments/run_calibration.py \
      --config=configs/local.py:model=gemma-3-270m,data=triviaqa,style=concise,n_questions=200 \
      --workdir=/tmp/semcal/gemma-tqa-concise
  python experiments/probe_vs_calibration.py --config=configs/probe_runs.py \
      --config.probe.runs=/tmp/semcal/gemma-tqa-concise --workdir=/tmp/semcal_probe_runs

`probe.runs`: comma-separated run directories (local or gs://), e.g. those of a
sweep (experiments/sweep.py writes one folder per model x data set x style).
Each run's model is loaded again (`probe.model_spec` overrides the one in its
config.json); its samples give the targets. With three or more runs, the
scatter of KL gap vs smECE and Spearman's rho are written too. A finished
run's probe is kept in WORKDIR/probes/ and not redone on a rerun.
Argument: `tpu` (bfloat16 parameters, more steps, model-parallel mesh of 8).
"""

import os

from semcal_jax import config_utils

_SYNTHETIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe_synthetic.py")


def get_config(arg=None):
  import ml_collections  # pylint: disable=g-import-not-at-top
  a = config_utils.parse_arg(arg, tpu=False, seed=0)
  c = ml_collections.ConfigDict()
  c.seed = a.seed
  c.probe = config_utils.load(_SYNTHETIC, lock=False).probe  # the same probe settings
  c.probe.mode = "runs"
  c.probe.runs = ""  # required: comma-separated run directories
  c.probe.model_spec = ""  # "" = the model of each run's config.json
  c.probe.dtype = "float32"
  c.probe.mesh_model = 1  # tensor-parallel ways (1 = no model parallelism)
  c.probe.prompt_style = ""  # "" = each run's own style; "concise" for cot runs
  c.probe.k_shot = 0  # the question alone (-1 = the run's own few-shot prompt)
  c.probe.lora.learning_rate = 1e-3
  c.probe.lora.steps = 40
  c.probe.lora.batch_size = 8
  c.probe.lora.train_fraction = 0.8
  if a.tpu:
    c.probe.dtype = "bfloat16"
    c.probe.mesh_model = 8
    c.probe.lora.steps, c.probe.lora.batch_size = 300, 32
    c.probe.lora.logit_chunk = 2048
  return c
