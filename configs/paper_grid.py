"""The paper's grid on Cloud TPU: base vs tuned models x data sets x styles.

Models are Hugging Face folders copied to a bucket (nothing is downloaded at run
time): set `models_root` to the gs:// (or local) folder that holds one
sub-folder per checkpoint, named like the HF id (e.g. Qwen2.5-7B-Instruct), and
`data_root` to the folder that holds the data sets (triviaqa/, gsm8k/, math/,
simple_qa/, openmathinstruct2/), e.g. gs://my-bucket/semcal/data.

  python experiments/sweep.py --config=configs/paper_grid.py:models_root=gs://b/models,data_root=gs://b/data \
      --workdir=gs://b/semcal/paper --worker_index=$WORKER --num_workers=$WORKERS

Argument keys: models_root, data_root, family (all, qwen, llama, gemma, mistral),
n_questions (default 1000), num_samples (default 50).
"""

import ml_collections

from semcal_jax import config_utils
from semcal_jax.models import registry
from semcal_jax.pipeline import run_config

FAMILIES = {
    "qwen": [k for k in registry.PAPER_CHECKPOINTS if k.startswith("qwen2.5")],
    "llama": [k for k in registry.PAPER_CHECKPOINTS if k.startswith("llama")],
    "gemma": [k for k in registry.PAPER_CHECKPOINTS if k.startswith("gemma")],
    "mistral": ["mistral-7b-v0.1", "zephyr-7b-sft-full", "zephyr-7b-dpo-full"],
}
DATASETS = ("triviaqa", "simple_qa", "gsm8k", "openmathinstruct2", "math")
STYLES = ("concise", "sentence", "cot")


def get_config(arg=None):
  arg = config_utils.parse_arg(arg, models_root="gs://YOUR_BUCKET/models",
                               data_root="gs://YOUR_BUCKET/data", family="all",
                               n_questions=1000, num_samples=50)
  names = sum(FAMILIES.values(), []) if arg.family == "all" else FAMILIES[arg.family]
  c = ml_collections.ConfigDict()
  c.base = run_config.default_config()
  c.base.model.dtype = "bfloat16"
  c.base.data.n_questions = arg.n_questions
  c.base.sampling.num_samples = arg.num_samples
  c.base.sampling.max_rows = 2048
  c.grid = ml_collections.ConfigDict({
      "models": tuple(f"{arg.models_root}/{registry.PAPER_CHECKPOINTS[n].split('/')[-1]}"
                      for n in names),
      "datasets": DATASETS,
      "styles": STYLES,
      "seeds": (0,),
      "chat_models": ("instruct", "-it", "zephyr"),
  })
  c.data_root = arg.data_root  # each run reads <data_root>/<data set folder>
  return c
