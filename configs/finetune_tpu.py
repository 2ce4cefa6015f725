"""Fine-tuning Qwen2.5-7B or Llama-3.1-8B on GSM8K on a Cloud TPU pod slice.

Nothing is downloaded at run time: copy the model (a Hugging Face folder with
config.json, tokenizer and safetensors) and GSM8K's train.jsonl / test.jsonl
to every worker (or a shared disk) first, then on all workers at once:

  gcloud compute tpus tpu-vm ssh $TPU --worker=all --command "cd semcal_jax && \
    python experiments/finetune.py \
      --config=configs/finetune_tpu.py:model=qwen2.5-7b,objective=grpo \
      --config.model.spec=/mnt/models/Qwen2.5-7B --config.data.path=/mnt/data/gsm8k \
      --workdir=gs://BUCKET/ft/qwen7b_grpo"

Argument: model=qwen2.5-7b|llama-3.1-8b, objective=sft|cot_sft|grpo|dpo,
lora_rank=16 (0 = full fine-tuning with FSDP), steps=200, model_parallel=1.
Parameters are sharded by the model zoo's logical-axis rules: heads / MLP
width / vocabulary over 'model', the hidden dim over 'data' (FSDP); batches
over 'data'. Computation in bfloat16 with float32 master weights.
"""

from semcal_jax import config_utils
from semcal_jax.training import run_config

MODELS = {"qwen2.5-7b": "Qwen2.5-7B", "llama-3.1-8b": "Llama-3.1-8B"}


def get_config(arg=None):
  a = config_utils.parse_arg(arg, model="qwen2.5-7b", objective="grpo", lora_rank=16, steps=200,
                             model_parallel=1, eval_every=25, n_eval=500, seed=0)
  if a.model not in MODELS:
    raise config_utils.ConfigError(f"config argument 'model': expected one of {sorted(MODELS)}, "
                                   f"got {a.model!r}")
  c = run_config.default_config()  # every field: semcal_jax/training/run_config.py
  c.objective = a.objective
  c.seed = c.data.seed = a.seed
  c.distributed = True
  c.model.spec = ""  # required: --config.model.spec=/path/to/{MODELS[a.model]}
  c.model.dtype = "float32" if not a.lora_rank else "bfloat16"  # frozen base may be bf16
  c.model.fsdp = True
  c.mesh.model = a.model_parallel
  c.data.path = ""  # required: --config.data.path=/path/to/gsm8k
  c.data.n_eval = a.n_eval
  c.prompts.style = "cot" if a.objective == "cot_sft" else "concise"
  c.prompts.k_shot = 5
  c.prompts.styles.concise.max_new_tokens = 32
  c.prompts.styles.cot.max_new_tokens = 512
  c.lora.rank = a.lora_rank
  c.lora.alpha = 2.0 * max(a.lora_rank, 1)
  c.train.num_steps = a.steps
  c.train.eval_every = a.eval_every
  c.train.compute_dtype = "bfloat16"
  c.train.grad_accum = 4
  c.train.save_every = 25
  c.train.keep = 3
  c.train.logit_chunk = 2048
  c.optim.learning_rate = 1e-5 if a.lora_rank else 1e-6
  c.optim.warmup_steps = 10
  c.optim.schedule = "cosine"
  c.optim.end_lr_fraction = 0.1
  c.sft.batch_size = 64
  c.rl.questions_per_step = 32
  c.rl.group_size = 16
  c.rl.updates_per_rollout = 2
  c.dpo.n_questions = 2048
  c.dpo.samples_per_question = 16
  c.dpo.batch_size = 64
  c.eval.num_samples = 20
  c.eval.max_rows = 2048
  return c
