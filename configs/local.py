"""A calibration run on this machine (CPU), from ../shared/data.

  python experiments/run_calibration.py \
      --config=configs/local.py:model=gemma-3-270m,data=triviaqa,style=sentence,n_questions=100,num_samples=20 \
      --workdir=/tmp/semcal/gemma-triviaqa-sentence

Argument keys: model (a named model, HF folder or .gguf), data (triviaqa, gsm8k,
math, svamp, nq_open, simple_qa, openmathinstruct2), style (concise, sentence,
cot), format (base, chat), n_questions (0 = all), num_samples, seed, data_path
("" = ../shared/data/<data set>). Every field of
`semcal_jax.pipeline.run_config.default_config()` can be overridden with
`--config.<key>=<value>`, e.g. `--config.sampling.temperature=0.7`.
"""

from semcal_jax import config_utils
from semcal_jax.pipeline import run_config


def get_config(arg=None):
  arg = config_utils.parse_arg(arg, model="gemma-3-270m", data="triviaqa", style="sentence",
                               format="base", n_questions=100, num_samples=20, seed=0,
                               data_path="")
  c = run_config.default_config()
  c.model.spec = arg.model
  c.data.name = arg.data
  c.data.path = arg.data_path
  c.data.n_questions = arg.n_questions
  c.prompts.style = arg.style
  c.prompts.format = arg.format
  c.sampling.num_samples = arg.num_samples
  c.sampling.seed = arg.seed
  return c
