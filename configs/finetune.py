"""Fine-tuning on GSM8K on this machine (CPU): SFT, CoT-SFT, GRPO, DPO on Gemma-3-270m.

  python experiments/finetune.py --config=configs/finetune.py:objective=grpo \
      --workdir=/tmp/ft_grpo

Argument (big_vision style, comma-separated):
  objective=sft|cot_sft|grpo|dpo   what to train (default grpo)
  model=gemma-3-270m|smollm2-135m-instruct|tiny   (tiny: a random 2-layer model
                                   with SmolLM2's tokenizer, for smoke tests)
  lora_rank=8                      0 = full fine-tuning
  steps=30, eval_every=10, n_eval=50, eval_samples=10, n_train=0 (0 = all)

Every field below can be overridden: `--config.rl.group_size=8`. The
workdir resumes: run the same command again after a crash.
Styles: sft / grpo / dpo train and evaluate in the "concise" style (a number
after "Answer:"), cot_sft trains on GSM8K's worked solutions and evaluates
in the "cot" style. Data: ../shared/data/gsm8k (the official jsonl files).
"""

import ml_collections

from semcal_jax import config_utils
from semcal_jax.data import prompts

MODELS = ("gemma-3-270m", "smollm2-135m-instruct", "tiny")


def get_config(arg=None):
  a = config_utils.parse_arg(arg, objective="grpo", model="gemma-3-270m", lora_rank=8, steps=30,
                             eval_every=10, n_eval=50, eval_samples=10, n_train=0, seed=0)
  if a.model not in MODELS:
    raise config_utils.ConfigError(f"config argument 'model': expected one of {MODELS}, got "
                                   f"{a.model!r}")
  c = ml_collections.ConfigDict()
  c.objective = a.objective  # sft | cot_sft | grpo | dpo
  c.seed = a.seed
  c.distributed = False  # jax.distributed.initialize() first (multi-host TPU)

  c.model = ml_collections.ConfigDict()
  c.model.spec = "smollm2-135m-instruct" if a.model == "tiny" else a.model
  c.model.dtype = "float32"  # parameter (master) dtype
  c.model.fsdp = False  # shard the hidden dim over 'data' too
  c.model.random = ml_collections.ConfigDict({
      "enabled": a.model == "tiny", "family": "llama", "hidden_size": 64, "num_layers": 2,
      "num_heads": 4, "num_kv_heads": 2, "head_dim": 16, "intermediate_size": 128, "seed": 0,
      "embed_scale": 10.0})
  c.mesh = ml_collections.ConfigDict({"data": 0, "model": 1})  # data 0 = all devices / model

  c.data = ml_collections.ConfigDict()
  c.data.dataset = "gsm8k"
  c.data.path = "../shared/data/gsm8k"
  c.data.data_dir = ""  # prepared data (default $SEMCAL_DATA_DIR or ~/.cache/semcal_jax/tfds)
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.data.n_train = a.n_train  # 0 = the whole split
  c.data.n_eval = a.n_eval
  c.data.seed = a.seed

  c.prompts = prompts.default_config()
  c.prompts.style = "cot" if a.objective == "cot_sft" else "concise"
  c.prompts.k_shot = 3
  c.prompts.styles.concise.max_new_tokens = 12  # GSM8K concise answers are numbers
  c.prompts.styles.cot.max_new_tokens = 256
  c.semantic = ml_collections.ConfigDict({"fn": "numeric"})

  c.lora = ml_collections.ConfigDict({"rank": a.lora_rank, "alpha": 2.0 * max(a.lora_rank, 1),
                                      "targets": ("q", "k", "v", "o", "gate", "up", "down")})
  c.optim = ml_collections.ConfigDict({
      "optimizer": "adamw", "learning_rate": 1e-4 if a.lora_rank else 1e-5,
      "schedule": "constant", "warmup_steps": 0, "end_lr_fraction": 0.0, "b1": 0.9, "b2": 0.999,
      "eps": 1e-8, "weight_decay": 0.0, "grad_clip": 1.0})

  c.train = ml_collections.ConfigDict({
      "num_steps": a.steps, "grad_accum": 1, "compute_dtype": "float32", "logit_chunk": 512,
      "eval_every": a.eval_every, "save_every": 10, "keep": 2, "keep_best": 1,
      "best_metric": "accuracy", "best_mode": "max", "async_checkpoints": True,
      "tensorboard": True, "progress": True})

  c.sft = ml_collections.ConfigDict({
      "batch_size": 8, "per": "token", "append_eos": True, "target_suffix": "",
      "max_prompt_tokens": 0, "max_target_tokens": 0})  # 0 = no limit (bucketed lengths)
  c.rl = ml_collections.ConfigDict({
      "questions_per_step": 4, "group_size": 8, "max_new_tokens": 0,  # 0 = the style's budget
      "temperature": 1.0, "advantage": "grpo", "std_normalize": True, "updates_per_rollout": 1,
      "beta": 0.04, "kl_estimator": "k3", "clip_low": 0.2, "clip_high": 0.2,
      "aggregate": "sequence", "skip_without_signal": True})
  c.dpo = ml_collections.ConfigDict({
      "beta": 0.1, "loss": "sigmoid", "label_smoothing": 0.0, "batch_size": 8,
      "n_questions": 128, "samples_per_question": 8, "pairs_per_question": 2,
      "max_new_tokens": 0, "fallback_to_reference": True})

  c.eval = ml_collections.ConfigDict({
      "style": "", "num_samples": a.eval_samples, "max_new_tokens": 0, "temperature": 1.0,
      "seed": 0, "n_bootstrap": 200, "estimator": "plurality", "max_rows": 256})
  if a.model == "tiny":
    c.sft.batch_size = 4
    c.rl.questions_per_step, c.rl.group_size = 2, 4
    c.dpo.n_questions, c.dpo.samples_per_question, c.dpo.batch_size = 8, 4, 2
  return c
