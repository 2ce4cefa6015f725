"""Fine-tune a model (SFT, CoT-SFT, GRPO / RLOO / REINFORCE, DPO; full or LoRA) and
track its B-calibration while it trains.

  python experiments/finetune.py --config=configs/finetune.py:objective=grpo \
      --workdir=/tmp/ft_grpo [--config.train.num_steps=30]

The workdir gets `checkpoints/` (orbax: resume by running the same command
again), `metrics.jsonl`, `tb/` (TensorBoard), `evals/step_*.json`,
`calibration_vs_step.png`, `report.json` (before vs after, the pipeline's
format) and `reliability_before_after.png`. See semcal_jax/training/run_config.py
for every field.

The config is validated, and the model, data and prompts loaded, before anything
is written. The workdir records the config's fingerprint and refuses to resume
under another one (listing the differing keys); `--overwrite` deletes its training
state and starts again (semcal_jax/training/workdir.py). One process writes a
workdir at a time (its lock file names the holder).
"""

from __future__ import annotations

import sys
import time

from absl import flags, logging
from ml_collections import config_flags

from semcal_jax import config_utils
from semcal_jax import multihost

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder (resumes if it has checkpoints).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Delete the workdir's training state first "
                               "(needed to reuse a workdir under another config).")

multihost.define_flags()


def build_mesh(cfg):
  """The ('data', 'model') mesh of `cfg.mesh` (None on a single device)."""
  import jax  # pylint: disable=g-import-not-at-top
  from semcal_jax.models import make_mesh  # pylint: disable=g-import-not-at-top
  devices = jax.devices()
  model = int(cfg.mesh.model)
  data = int(cfg.mesh.data) or len(devices) // model
  if data * model > len(devices) or data < 1 or model < 1:
    raise config_utils.ConfigError(f"config key 'mesh': data={data} x model={model} needs more "
                                   f"than the {len(devices)} devices")
  if data * model == 1:
    return None
  return make_mesh(data=data, model=model, devices=devices[:data * model])


def load_model(cfg, mesh):
  """The LoadedModel: a checkpoint (`model.spec`), or a random model of
  `model.random` with the tokenizer of `model.spec` (smoke tests)."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from semcal_jax import models  # pylint: disable=g-import-not-at-top
  r = cfg.model.random
  if not r.enabled:
    try:
      return models.load(cfg.model.spec, dtype=cfg.model.dtype, mesh=mesh, fsdp=cfg.model.fsdp)
    except FileNotFoundError as e:  # ModelNotFoundError (an InputError) included
      raise config_utils.ConfigError(f"config key 'model.spec': {cfg.model.spec!r}: {e}") from e
  from semcal_jax.models.loading import LoadedModel  # pylint: disable=g-import-not-at-top
  from semcal_jax.models.tokenizer import Tokenizer  # pylint: disable=g-import-not-at-top
  tok = Tokenizer.from_spec(cfg.model.spec)
  mcfg = models.ModelConfig(family=r.family, vocab_size=tok.vocab_size, hidden_size=r.hidden_size,
                            num_layers=r.num_layers, num_heads=r.num_heads,
                            num_kv_heads=r.num_kv_heads, head_dim=r.head_dim,
                            intermediate_size=r.intermediate_size)
  from semcal_jax.training import shard_model  # pylint: disable=g-import-not-at-top
  model = models.init_model(mcfg, seed=r.seed)
  model.embed.set_value(model.embed.get_value() * r.embed_scale)
  model = shard_model(model, mesh, cfg.model.fsdp)
  return LoadedModel(model=model, tokenizer=tok, config=mcfg, mesh=mesh, dtype=jnp.float32,
                     name=f"random({cfg.model.spec})", source="random")


def make_prompter(cfg, loaded, style, pool=None):
  import ml_collections  # pylint: disable=g-import-not-at-top
  from semcal_jax.data import prompts  # pylint: disable=g-import-not-at-top
  pc = ml_collections.ConfigDict(cfg.prompts.to_dict())
  pc.style = style
  chat = loaded.tokenizer.apply_chat_template if pc.format == "chat" else None
  try:
    return prompts.Prompter(pc, dataset=cfg.data.dataset, pool=pool, apply_chat_template=chat)
  except ValueError as e:
    raise config_utils.ConfigError(f"config key {e}") from e


def load_data(cfg):
  """`(train, eval)` question lists."""
  from semcal_jax import data, errors, storage  # pylint: disable=g-import-not-at-top
  d = cfg.data
  kw = dict(path=str(storage.local_tree(d.path)), data_dir=d.data_dir or None)
  data.loader.disable_progress_bars()
  try:
    train = data.load_questions(d.dataset, split=d.train_split, n_questions=d.n_train or None,
                                seed=d.seed, **kw)
    evals = data.load_questions(d.dataset, split=d.eval_split, n_questions=d.n_eval or None,
                                seed=d.seed, **kw)
  except errors.InputError:
    raise
  except (KeyError, ValueError, FileNotFoundError) as e:
    raise config_utils.ConfigError(f"config key 'data' ({d.dataset}, {d.path}): "
                                   f"{str(e).strip(chr(39))}") from e
  if not train or not evals:
    raise config_utils.ConfigError(f"config key 'data' ({d.dataset}, {d.path}): no "
                                   f"{'train' if not train else 'eval'} questions")
  return train, evals


def build_tracker(cfg, loaded, eval_questions):
  from semcal_jax import semantic  # pylint: disable=g-import-not-at-top
  from semcal_jax.data import prompts  # pylint: disable=g-import-not-at-top
  from semcal_jax.training import qa, tracking  # pylint: disable=g-import-not-at-top
  style = cfg.eval.style or cfg.prompts.style
  prompter = make_prompter(cfg, loaded, style)
  budget = prompts.stop_and_budget(prompter.config)
  es = tracking.EvalSet(cfg.data.dataset, style, list(eval_questions),
                        qa.prompt_ids(loaded.tokenizer, prompter, eval_questions),
                        tuple(budget["stop"]), cfg.eval.max_new_tokens or budget["max_new_tokens"])
  return tracking.CalibrationTracker(
      es, semantic.get(cfg.semantic.fn), num_samples=cfg.eval.num_samples, seed=cfg.eval.seed,
      temperature=cfg.eval.temperature, n_bootstrap=cfg.eval.n_bootstrap,
      estimator=cfg.eval.estimator, model_name=loaded.name, max_rows=cfg.eval.max_rows)


def build_objective(cfg):
  from semcal_jax.training import objectives  # pylint: disable=g-import-not-at-top
  if cfg.objective in ("sft", "cot_sft"):
    return objectives.NextToken(per=cfg.sft.per)
  if cfg.objective == "grpo":
    r = cfg.rl
    return objectives.PolicyGradient(clip_low=r.clip_low, clip_high=r.clip_high, beta=r.beta,
                                     kl=r.kl_estimator, aggregate=r.aggregate)
  return objectives.DPO(beta=cfg.dpo.beta, loss=cfg.dpo.loss,
                        label_smoothing=cfg.dpo.label_smoothing)


def _dpo_pairs(cfg, loaded, prompter, train, workdir):
  """Preference pairs from the initial model's own samples (cached in the workdir)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from semcal_jax import semantic, storage  # pylint: disable=g-import-not-at-top
  from semcal_jax.data import prompts  # pylint: disable=g-import-not-at-top
  from semcal_jax.training import batches, qa, rl  # pylint: disable=g-import-not-at-top
  path = storage.join(workdir, "dpo_pairs.json")
  saved = storage.read_json(path)
  if saved is not None:
    return [rl.Pair(tuple(p["prompt"]), tuple(p["chosen"]), tuple(p["rejected"]), p["question"])
            for p in saved["pairs"]], saved["stats"]
  d = cfg.dpo
  n = min(d.n_questions, len(train))
  idx = batches.batch_indices(len(train), n, 0, cfg.seed)
  qs = [train[i] for i in idx]
  budget = prompts.stop_and_budget(prompter.config)
  ro = rl.rollout(loaded, qa.prompt_ids(loaded.tokenizer, prompter, qs),
                  group_size=d.samples_per_question,
                  max_new_tokens=d.max_new_tokens or budget["max_new_tokens"],
                  stop=budget["stop"], seed=batches.step_seed(cfg.seed, 0, 2),
                  question_ids=[q.id for q in qs], max_rows=cfg.eval.max_rows)
  correct, _ = qa.correctness(semantic.get(cfg.semantic.fn), ro.texts, qs, prompter.style)
  fallback = None
  if d.fallback_to_reference:
    eos = [loaded.tokenizer.eos_id] if loaded.tokenizer.eos_id is not None else []
    fallback = [loaded.tokenizer.encode(qa.target_text(prompter, q), add_bos=False) + eos
                for q in qs]
  pairs = rl.preference_pairs(ro, correct > 0, seed=cfg.seed,
                              pairs_per_question=d.pairs_per_question, fallback_chosen=fallback)
  stats = {"questions": n, "samples_per_question": d.samples_per_question,
           "sample_accuracy": float(np.mean(correct)), "pairs": len(pairs)}
  if multihost.is_main():  # every host made the same pairs; one writes them
    storage.write_json_atomic(path, {"stats": stats, "pairs": [
        {"prompt": list(p.prompt), "chosen": list(p.chosen), "rejected": list(p.rejected),
         "question": int(p.question)} for p in pairs]})
  return pairs, stats


def build_steps(cfg, trainer, loaded, train, prompter, style):
  """`(step_fn, meta)` of an SFT or GRPO run (DPO: `_dpo_steps`, after the workdir is claimed)."""
  from semcal_jax import semantic  # pylint: disable=g-import-not-at-top
  from semcal_jax.data import prompts  # pylint: disable=g-import-not-at-top
  from semcal_jax.training import batches, qa, recipes  # pylint: disable=g-import-not-at-top
  tok, pad, meta = loaded.tokenizer, qa.pad_id(loaded.tokenizer), {}
  if cfg.objective in ("sft", "cot_sft"):
    s = cfg.sft
    examples = qa.sft_examples(tok, prompter, train, append_eos=s.append_eos,
                               target_suffix=s.target_suffix,
                               max_prompt_tokens=s.max_prompt_tokens or None,
                               max_target_tokens=s.max_target_tokens or None)
    print(f"sft: {len(examples)} examples ({len(train) - len(examples)} over the length limits)")
    meta["train_examples"] = len(examples)
    return recipes.sft_steps(trainer, examples, batch_size=s.batch_size, seed=cfg.seed,
                             pad_id=pad, prompt_len=s.max_prompt_tokens or None,
                             target_len=s.max_target_tokens or None), meta
  r = cfg.rl
  fn = semantic.get(cfg.semantic.fn)
  budget = prompts.stop_and_budget(prompter.config)
  prompt_ids = qa.prompt_ids(tok, prompter, train)

  def reward_fn(ro, idx):
    rewards, _ = qa.correctness(fn, ro.texts, [train[i] for i in idx], style)
    return rewards

  max_new = r.max_new_tokens or budget["max_new_tokens"]
  return recipes.rl_steps(
      trainer, loaded, prompt_ids, reward_fn, questions_per_step=r.questions_per_step,
      group_size=r.group_size, max_new_tokens=max_new,
      prompt_len=batches.bucket(max(len(p) for p in prompt_ids)),
      continuation_len=batches.bucket(max_new),
      temperature=r.temperature, stop=budget["stop"], seed=cfg.seed, advantage=r.advantage,
      std_normalize=r.std_normalize, updates_per_rollout=r.updates_per_rollout, pad_id=pad,
      question_ids=[q.id for q in train], max_rows=cfg.eval.max_rows,
      skip_without_signal=r.skip_without_signal), meta


def _dpo_steps(cfg, trainer, loaded, train, prompter, workdir):
  from semcal_jax.training import qa, recipes  # pylint: disable=g-import-not-at-top
  pairs, stats = _dpo_pairs(cfg, loaded, prompter, train, workdir)
  print(f"dpo: {stats['pairs']} pairs from {stats['questions']} questions x "
        f"{stats['samples_per_question']} samples (sample accuracy "
        f"{stats['sample_accuracy']:.3f})", flush=True)
  return recipes.dpo_steps(trainer, pairs, batch_size=cfg.dpo.batch_size, seed=cfg.seed,
                           pad_id=qa.pad_id(loaded.tokenizer)), {"dpo_pairs": stats}


def build(cfg):
  """Everything that reads inputs (model, data, prompts), before the workdir is written:
  `(loaded, trainer, tracker, train questions, prompter, style)`."""
  from semcal_jax.training import Trainer, lora, optim  # pylint: disable=g-import-not-at-top
  mesh = build_mesh(cfg)
  loaded = load_model(cfg, mesh)
  train, eval_qs = load_data(cfg)
  print(f"model {loaded.name} ({loaded.config.num_params() / 1e6:.1f}M params), "
        f"{len(train)} train / {len(eval_qs)} eval questions, objective {cfg.objective}, "
        f"{'LoRA rank ' + str(cfg.lora.rank) if cfg.lora.rank else 'full fine-tuning'}",
        flush=True)
  ocfg = optim.from_config(cfg.optim.to_dict(), total_steps=cfg.train.num_steps)
  trainer = Trainer(loaded.model, build_objective(cfg), optim.make(ocfg),
                    lora=lora.from_config(cfg.lora.to_dict()), mesh=mesh,
                    compute_dtype=cfg.train.compute_dtype, grad_accum=cfg.train.grad_accum,
                    temperature=cfg.rl.temperature if cfg.objective == "grpo" else 1.0,
                    logit_chunk=cfg.train.logit_chunk or None, seed=cfg.seed)
  tracker = build_tracker(cfg, loaded, eval_qs)
  style = "cot" if cfg.objective == "cot_sft" else cfg.prompts.style
  return loaded, trainer, tracker, train, make_prompter(cfg, loaded, style), style


def run(cfg, workdir: str, *, overwrite: bool = False) -> dict:
  """Everything `main` does, callable from Python (tests, notebooks)."""
  import contextlib  # pylint: disable=g-import-not-at-top
  from semcal_jax import storage  # pylint: disable=g-import-not-at-top
  from semcal_jax.training import report, run_config, runner  # pylint: disable=g-import-not-at-top
  from semcal_jax.training import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  run_config.validate(cfg)
  if cfg.distributed:
    multihost.initialize(distributed=True)
  workdir = storage.prepare_workdir(workdir)
  main = multihost.is_main()
  t_start = time.perf_counter()
  with storage.WorkdirLock(workdir) if main else contextlib.nullcontext():
    fp = run_config.fingerprint(cfg)
    if not overwrite:
      workdir_lib.check(workdir, fp)  # a refused workdir fails before the model loads
    loaded, trainer, tracker, train, prompter, style = build(cfg)
    workdir_lib.claim(workdir, cfg, overwrite=overwrite, write=main, fingerprint=fp)
    if cfg.objective == "dpo":
      step_fn, meta = _dpo_steps(cfg, trainer, loaded, train, prompter, workdir)
    else:
      step_fn, meta = build_steps(cfg, trainer, loaded, train, prompter, style)
    meta = {"objective": cfg.objective, "model": loaded.name, "dataset": cfg.data.dataset,
            "style": style, "lora": cfg.lora.to_dict() if cfg.lora.rank else None,
            "trainable_params": trainer.num_trainable(), **meta}
    summary = runner.fit(trainer, step_fn, workdir, run_config.run_config(cfg), tracker=tracker,
                         loaded=loaded, meta=meta)
  summary["wall_seconds"] = time.perf_counter() - t_start
  if summary["report"] is not None:
    print(report.table(summary["report"]))
    print(f"\nwall time {summary['wall_seconds']:.0f} s; wrote {workdir}/report.json, "
          f"{workdir}/calibration_vs_step.png, {workdir}/metrics.jsonl")
  return summary


def main(argv):
  if len(argv) > 1:
    raise config_utils.ConfigError(f"unexpected arguments {argv[1:]}")
  logging.set_verbosity(logging.WARNING)
  if not _WORKDIR.value:
    raise config_utils.ConfigError("--workdir is required")
  multihost.initialize_from_flags()  # MultihostError is a ConfigError
  run(_CONFIG.value, _WORKDIR.value, overwrite=_OVERWRITE.value)


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  sys.exit(config_utils.run(main))
