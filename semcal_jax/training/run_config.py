"""The fine-tuning run's config: defaults, validation, and what fixes its results.

`default_config()` gives every field of a fine-tuning run (`experiments/finetune.py`);
the config files `configs/finetune*.py` start from it and apply their arguments.
`validate` checks a config before anything is loaded or written and raises
`config_utils.ConfigError` with one line naming the bad key; it reuses the checks of
`optim.from_config`, `lora.from_config`, the objectives and `runner.RunConfig`.

`fingerprint(cfg)` is the part of the config that determines the trained parameters
and the tracked evaluations, plus `data.content` (a hash of the data files' names and
bytes, so that a data file edited in place is a different input). The rule: every
field is in it except those that only change how a run is executed or recorded, not
what it computes: `distributed` (how the processes start), `data.data_dir` (where
prepared data is cached), and `train.progress`, `train.tensorboard`,
`train.async_checkpoints`, `train.keep`, `train.keep_best` (display, logging and
checkpoint retention). A workdir refuses to resume under a different fingerprint
(`training.workdir`).
"""

from __future__ import annotations

import copy
import json

import ml_collections

from semcal_jax.config_utils import ConfigError, differences  # pylint: disable=unused-import
from semcal_jax.data import prompts as prompts_lib

OBJECTIVES = ("sft", "cot_sft", "grpo", "dpo")
DTYPES = ("float32", "bfloat16")
BEST_MODES = ("max", "min")
# (section, key) left out of the fingerprint (module docstring).
_NOT_FINGERPRINTED = (("", "distributed"), ("data", "data_dir"), ("train", "progress"),
                      ("train", "tensorboard"), ("train", "async_checkpoints"),
                      ("train", "keep"), ("train", "keep_best"))


def default_config() -> ml_collections.ConfigDict:
  """Every field of a fine-tuning run: GRPO with LoRA rank 8 on Gemma-3-270m, GSM8K."""
  c = ml_collections.ConfigDict()
  c.objective = "grpo"  # sft | cot_sft | grpo | dpo
  c.seed = 0
  c.distributed = False  # jax.distributed.initialize() first (multi-host TPU)

  c.model = ml_collections.ConfigDict()
  c.model.spec = "gemma-3-270m"  # named model, HF folder, .gguf file (local or gs://)
  c.model.dtype = "float32"  # parameter (master) dtype
  c.model.fsdp = False  # shard the hidden dim over 'data' too
  c.model.random = ml_collections.ConfigDict({  # a random model with spec's tokenizer
      "enabled": False, "family": "llama", "hidden_size": 64, "num_layers": 2,
      "num_heads": 4, "num_kv_heads": 2, "head_dim": 16, "intermediate_size": 128, "seed": 0,
      "embed_scale": 10.0})
  c.mesh = ml_collections.ConfigDict({"data": 0, "model": 1})  # data 0 = all devices / model

  c.data = ml_collections.ConfigDict()
  c.data.dataset = "gsm8k"
  c.data.path = "../shared/data/gsm8k"
  c.data.data_dir = ""  # prepared data (default $SEMCAL_DATA_DIR or ~/.cache/semcal_jax/tfds)
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.data.n_train = 0  # 0 = the whole split
  c.data.n_eval = 50
  c.data.seed = 0

  c.prompts = prompts_lib.default_config()
  c.prompts.style = "concise"
  c.prompts.k_shot = 3
  c.prompts.styles.concise.max_new_tokens = 12  # GSM8K concise answers are numbers
  c.prompts.styles.cot.max_new_tokens = 256
  c.semantic = ml_collections.ConfigDict({"fn": "numeric"})

  c.lora = ml_collections.ConfigDict({"rank": 8, "alpha": 16.0,
                                      "targets": ("q", "k", "v", "o", "gate", "up", "down")})
  c.optim = ml_collections.ConfigDict({
      "optimizer": "adamw", "learning_rate": 1e-4, "schedule": "constant", "warmup_steps": 0,
      "end_lr_fraction": 0.0, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
      "grad_clip": 1.0})

  c.train = ml_collections.ConfigDict({
      "num_steps": 30, "grad_accum": 1, "compute_dtype": "float32", "logit_chunk": 512,
      "eval_every": 10, "save_every": 10, "keep": 2, "keep_best": 1,
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
      "style": "", "num_samples": 10, "max_new_tokens": 0, "temperature": 1.0,
      "seed": 0, "n_bootstrap": 200, "estimator": "plurality", "max_rows": 256})
  return c


def _fail(key: str, message: str):
  raise ConfigError(f"config key {key!r}: {message}")


def _reraise(error: Exception, fallback_key: str):
  """A library's `ValueError("a.b: what")` as a ConfigError naming key `a.b`."""
  head, sep, rest = str(error).partition(": ")
  if sep and " " not in head:
    _fail(head, rest)
  _fail(fallback_key, str(error))


def _check_choices(cfg) -> None:
  from semcal_jax import data, semantic  # pylint: disable=g-import-not-at-top
  from semcal_jax.calibration.summary import ESTIMATORS  # pylint: disable=g-import-not-at-top
  from semcal_jax.training import rl  # pylint: disable=g-import-not-at-top
  from semcal_jax.training.trainer import COMPUTE_DTYPES  # pylint: disable=g-import-not-at-top
  for key, value, allowed in (
      ("objective", cfg.objective, OBJECTIVES), ("model.dtype", cfg.model.dtype, DTYPES),
      ("train.compute_dtype", cfg.train.compute_dtype, tuple(sorted(COMPUTE_DTYPES))),
      ("train.best_mode", cfg.train.best_mode, BEST_MODES),
      ("rl.advantage", cfg.rl.advantage, rl.ADVANTAGES),
      ("eval.estimator", cfg.eval.estimator, ESTIMATORS),
      ("eval.style", cfg.eval.style, ("",) + tuple(prompts_lib.STYLES)),
      ("semantic.fn", cfg.semantic.fn, tuple(semantic.available())),
      ("data.dataset", cfg.data.dataset, tuple(sorted(data.BUILDERS)))):
    if value not in allowed:
      _fail(key, f"expected one of {allowed}, got {value!r}")


def _check_numbers(cfg) -> None:
  t, r, d, s, e = cfg.train, cfg.rl, cfg.dpo, cfg.sft, cfg.eval
  for key, value, least in (
      ("mesh.data", cfg.mesh.data, 0), ("mesh.model", cfg.mesh.model, 1),
      ("lora.rank", cfg.lora.rank, 0), ("train.num_steps", t.num_steps, 1),
      ("train.grad_accum", t.grad_accum, 1), ("train.logit_chunk", t.logit_chunk, 0),
      ("train.eval_every", t.eval_every, 0), ("train.save_every", t.save_every, 1),
      ("train.keep", t.keep, 1), ("train.keep_best", t.keep_best, 0),
      ("data.n_train", cfg.data.n_train, 0), ("data.n_eval", cfg.data.n_eval, 0),
      ("sft.batch_size", s.batch_size, 1), ("sft.max_prompt_tokens", s.max_prompt_tokens, 0),
      ("sft.max_target_tokens", s.max_target_tokens, 0),
      ("rl.questions_per_step", r.questions_per_step, 1), ("rl.group_size", r.group_size, 2),
      ("rl.max_new_tokens", r.max_new_tokens, 0),
      ("rl.updates_per_rollout", r.updates_per_rollout, 1), ("dpo.batch_size", d.batch_size, 1),
      ("dpo.n_questions", d.n_questions, 1),
      ("dpo.samples_per_question", d.samples_per_question, 2),
      ("dpo.pairs_per_question", d.pairs_per_question, 1),
      ("dpo.max_new_tokens", d.max_new_tokens, 0), ("eval.num_samples", e.num_samples, 1),
      ("eval.max_new_tokens", e.max_new_tokens, 0), ("eval.n_bootstrap", e.n_bootstrap, 0),
      ("eval.max_rows", e.max_rows, 1)):
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
      _fail(key, f"expected an int >= {least}, got {value!r}")
  for key, value in (("rl.temperature", r.temperature), ("eval.temperature", e.temperature)):
    if not value > 0:
      _fail(key, f"expected a number > 0, got {value!r}")


def _check_components(cfg) -> None:
  """The checks of the objects `experiments/finetune.py` builds from the config."""
  from semcal_jax.training import lora, objectives, optim  # pylint: disable=g-import-not-at-top
  if not cfg.model.spec:
    _fail("model.spec", "empty: give a named model (gemma-3-270m, smollm2-135m-instruct), an HF "
          "folder or a .gguf file (--config.model.spec=...)")
  if not cfg.data.path:
    _fail("data.path", "empty: give the folder with the data set's files "
          "(--config.data.path=...); nothing is downloaded at run time")
  try:
    prompts_lib.validate(cfg.prompts)
  except ValueError as e:
    _reraise(e, "prompts")
  for build, key in (
      (lambda: lora.from_config(cfg.lora.to_dict()), "lora"),
      (lambda: optim.from_config(cfg.optim.to_dict(), total_steps=cfg.train.num_steps), "optim"),
      (lambda: objectives.NextToken(per=cfg.sft.per), "sft.per"),
      (lambda: objectives.PolicyGradient(clip_low=cfg.rl.clip_low, clip_high=cfg.rl.clip_high,
                                         beta=cfg.rl.beta, kl=cfg.rl.kl_estimator,
                                         aggregate=cfg.rl.aggregate), "rl"),
      (lambda: objectives.DPO(beta=cfg.dpo.beta, loss=cfg.dpo.loss,
                              label_smoothing=cfg.dpo.label_smoothing), "dpo"),
      (lambda: run_config(cfg), "train")):
    try:
      build()
    except (ValueError, TypeError) as e:
      _reraise(e, key)


def run_config(cfg):
  """The `runner.RunConfig` of `cfg.train`."""
  from semcal_jax.training import runner  # pylint: disable=g-import-not-at-top
  t = cfg.train
  return runner.RunConfig(
      num_steps=t.num_steps, eval_every=t.eval_every, save_every=t.save_every, keep=t.keep,
      keep_best=t.keep_best, best_metric=t.best_metric, best_mode=t.best_mode,
      async_checkpoints=t.async_checkpoints, tensorboard=t.tensorboard, progress=t.progress)


def validate(cfg, *, check_files: bool = True) -> None:
  """Raises ConfigError (one line, naming the key) for any bad value; with
  `check_files`, also when `data.path` or `model.spec` does not exist (nothing is
  downloaded)."""
  _check_choices(cfg)
  _check_numbers(cfg)
  _check_components(cfg)
  if check_files:
    _check_files(cfg)


def _check_files(cfg) -> None:
  from semcal_jax import storage  # pylint: disable=g-import-not-at-top
  from semcal_jax.models import registry  # pylint: disable=g-import-not-at-top
  try:
    found = storage.exists(cfg.data.path)
  except OSError as e:  # StorageError included: an unsupported URL, no access
    _fail("data.path", f"{cfg.data.path}: {e}")
  if not found:
    _fail("data.path", f"{cfg.data.path} does not exist (data set {cfg.data.dataset!r})")
  try:
    registry.resolve(cfg.model.spec, fetch=False)
  except registry.ModelNotFoundError as e:
    _fail("model.spec", str(e))


def fingerprint(cfg) -> dict:
  """The config fields that determine the trained parameters and the tracked
  evaluations (module docstring), as a JSON-able dict, with `data.content`.

  Raises:
    ConfigError: the data path has no data files (naming `data.path`).
  """
  from semcal_jax import data as data_lib  # pylint: disable=g-import-not-at-top
  d = copy.deepcopy(cfg.to_dict())
  for section, key in _NOT_FINGERPRINTED:
    (d[section] if section else d).pop(key, None)
  try:
    d["data"]["content"] = data_lib.content_hash(cfg.data.dataset, cfg.data.path)
  except (FileNotFoundError, KeyError) as e:
    _fail("data.path", str(e).strip("'\""))
  return json.loads(json.dumps(d))


__all__ = ["OBJECTIVES", "default_config", "differences", "fingerprint", "run_config",
           "validate"]
