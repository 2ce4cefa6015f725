"""Fine-tuning on GSM8K on this machine (CPU): SFT, CoT-SFT, GRPO, DPO on Gemma-3-270m.

  python experiments/finetune.py --config=configs/finetune.py:objective=grpo \
      --workdir=/tmp/ft_grpo

Argument (big_vision style, comma-separated):
  objective=sft|cot_sft|grpo|dpo   what to train (default grpo)
  model=gemma-3-270m|smollm2-135m-instruct|tiny   (tiny: a random 2-layer model
                                   with SmolLM2's tokenizer, for smoke tests)
  lora_rank=8                      0 = full fine-tuning
  steps=30, eval_every=10, n_eval=50, eval_samples=10, n_train=0 (0 = all)

Every field (semcal_jax/training/run_config.py) can be overridden: `--config.rl.group_size=8`. The
workdir resumes: run the same command again after a crash.
Styles: sft / grpo / dpo train and evaluate in the "concise" style (a number
after "Answer:"), cot_sft trains on GSM8K's worked solutions and evaluates
in the "cot" style. Data: ../shared/data/gsm8k (the official jsonl files).
"""

from semcal_jax import config_utils
from semcal_jax.training import run_config

MODELS = ("gemma-3-270m", "smollm2-135m-instruct", "tiny")


def get_config(arg=None):
  a = config_utils.parse_arg(arg, objective="grpo", model="gemma-3-270m", lora_rank=8, steps=30,
                             eval_every=10, n_eval=50, eval_samples=10, n_train=0, seed=0)
  if a.model not in MODELS:
    raise config_utils.ConfigError(f"config argument 'model': expected one of {MODELS}, got "
                                   f"{a.model!r}")
  c = run_config.default_config()  # every field: semcal_jax/training/run_config.py
  c.objective = a.objective
  c.seed = c.data.seed = a.seed
  c.model.spec = "smollm2-135m-instruct" if a.model == "tiny" else a.model
  c.model.random.enabled = a.model == "tiny"
  c.data.n_train = a.n_train
  c.data.n_eval = a.n_eval
  c.prompts.style = "cot" if a.objective == "cot_sft" else "concise"
  c.lora.rank = a.lora_rank
  c.lora.alpha = 2.0 * max(a.lora_rank, 1)
  c.optim.learning_rate = 1e-4 if a.lora_rank else 1e-5
  c.train.num_steps = a.steps
  c.train.eval_every = a.eval_every
  c.eval.num_samples = a.eval_samples
  if a.model == "tiny":
    c.sft.batch_size = 4
    c.rl.questions_per_step, c.rl.group_size = 2, 4
    c.dpo.n_questions, c.dpo.samples_per_question, c.dpo.batch_size = 8, 4, 2
  return c
