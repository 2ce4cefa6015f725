"""The synthetic-world quickstart (configs/quickstart.py): pretrain, measure, fine-tune, measure.

Everything is the project's own code: the NNX decoder (a tiny Llama-family
config), `training` (Trainer, NextToken / PolicyGradient / DPO objectives),
`sampling`, the world's exact B (`data.synthetic`), and `calibration`. The
theory's predictions (base calibrated; GRPO and DPO over-confident; CoT
miscalibrated) are hypotheses: the table reports what is measured.
"""

from __future__ import annotations

import os
import time
from typing import Any

import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from semcal_jax import storage
from semcal_jax.calibration import diagrams
from semcal_jax.data import synthetic
from semcal_jax.data.synthetic import corpus
from semcal_jax.models import ModelConfig, init_model
from semcal_jax.models.loading import LoadedModel
from semcal_jax.pipeline import synthetic_eval
from semcal_jax import training as T


def _examples(tok, texts, prompt_split: str | None = None):
  """`qa.Example`s: the loss is on everything after BOS, or after `prompt_split`."""
  out = []
  for i, text in enumerate(texts):
    ids = tok.encode(text, add_bos=False)
    cut = 1
    if prompt_split is not None and prompt_split in text:
      cut = len(tok.encode(text.split(prompt_split)[0] + prompt_split, add_bos=False))
    out.append(T.qa.Example(tuple(ids[:cut]), tuple(ids[cut:]), str(i)))
  return out


def as_loaded(model, tok, name: str) -> LoadedModel:
  """A tiny synthetic-world model as a `LoadedModel` (for the sampler)."""
  return LoadedModel(model=model, tokenizer=tok, config=model.config, mesh=None,
                     dtype=jnp.float32, name=name, source="synthetic")


def _trainer(model, objective, lr, steps, warmup=0):
  opt = T.optim.make(T.optim.OptimConfig(learning_rate=lr, warmup_steps=warmup,
                                         total_steps=max(steps, 1), schedule="cosine"
                                         if warmup else "constant"))
  return T.Trainer(model, objective, opt, logit_chunk=None)


def pretrain(cfg, world, tok, log) -> tuple[Any, dict[str, Any]]:
  """Next-token pretraining with early stopping on held-out loss; returns the best model."""
  p = cfg.pretrain
  train = _examples(tok, corpus.corpus(world, cfg.seed))
  heldout = _examples(tok, corpus.corpus(world, cfg.seed + 1000, scale=p.heldout_scale))
  # The exact longest text (rounded to 8), not a power-of-two bucket: one
  # compilation either way, and no step spends compute on padding.
  target_len = -(-max(len(e.target) for e in train + heldout) // 8) * 8
  mc = cfg.model
  model_cfg = ModelConfig(family="llama", vocab_size=tok.vocab_size, hidden_size=mc.hidden_size,
                          num_layers=mc.num_layers, num_heads=mc.num_heads,
                          num_kv_heads=mc.num_kv_heads, head_dim=mc.head_dim,
                          intermediate_size=mc.intermediate_size, tie_embeddings=True,
                          max_position_embeddings=256)
  trainer = _trainer(init_model(model_cfg, seed=cfg.seed), T.objectives.NextToken(),
                     p.learning_rate, p.max_steps, p.warmup_steps)
  step_fn = T.recipes.sft_steps(trainer, train, batch_size=p.batch_size, seed=cfg.seed,
                                pad_id=tok.pad_id, prompt_len=1, target_len=target_len)
  heldout_batch = T.qa.sft_batch(heldout, np.arange(len(heldout)), pad_id=tok.pad_id,
                                 prompt_len=1, target_len=target_len)
  mask = heldout_batch["loss_mask"]

  def heldout_loss():
    lp = trainer.logprobs(heldout_batch)
    return float(-(lp * mask).sum() / mask.sum())

  best, best_step, best_model, bad, history = float("inf"), 0, None, 0, []
  bar = tqdm(range(p.max_steps), desc="pretraining", leave=False)
  for step in bar:
    metrics = step_fn(step)
    if (step + 1) % p.eval_every == 0 or step + 1 == p.max_steps:
      loss = heldout_loss()
      history.append({"step": step + 1, "train_nll": metrics["nll"], "heldout_nll": loss})
      bar.set_postfix(train=f"{metrics['nll']:.3f}", heldout=f"{loss:.3f}")
      if loss < best - 1e-4:
        best, best_step, best_model, bad = loss, step + 1, trainer.policy_model(), 0
      else:
        bad += 1
        if bad >= p.patience:
          break
  log(f"pretraining: best held-out NLL {best:.4f} at step {best_step} of {step + 1} "
      f"({len(train)} texts, {model_cfg.num_params():,} parameters)")
  return best_model, {"best_step": best_step, "heldout_nll": best, "history": history,
                      "parameters": model_cfg.num_params()}


def _label_rng(seed, step):
  return np.random.default_rng([seed, 4242, step])


def grpo(cfg, world, tok, base, facts, log):
  g = cfg.grpo
  b = synthetic.SyntheticCollapsing(world)
  prompts = [tok.encode(corpus.prompt(f, g.style), add_bos=False) for f in facts]
  trainer = _trainer(base, T.objectives.PolicyGradient(beta=g.beta), g.learning_rate, g.steps)

  def reward_fn(ro, idx):  # 1 if the answer's class equals a label drawn from p*
    rng = _label_rng(cfg.seed, int(idx[0]))
    labels = [str(facts[i].sample(rng)) for i in idx]
    return np.asarray([[float(b.canonical(t, g.style) == y) for t in row]
                       for row, y in zip(ro.texts, labels)], np.float32)

  loaded = as_loaded(base, tok, "base")
  budget = synthetic_eval.budget(g.style, cfg.eval.max_new_tokens)
  step_fn = T.recipes.rl_steps(trainer, loaded, prompts, reward_fn,
                               questions_per_step=g.questions_per_step, group_size=g.group_size,
                               max_new_tokens=budget,
                               seed=cfg.seed, pad_id=tok.pad_id, max_rows=1024,
                               question_ids=[f.id for f in facts])
  rewards = []
  for step in tqdm(range(g.steps), desc="GRPO", leave=False):
    rewards.append(step_fn(step)["reward_mean"])
  log(f"GRPO: mean reward {np.mean(rewards[:5]):.3f} (first 5 steps) -> "
      f"{np.mean(rewards[-5:]):.3f} (last 5)")
  return trainer.policy_model(), {"reward_first": float(np.mean(rewards[:5])),
                                  "reward_last": float(np.mean(rewards[-5:]))}


def dpo(cfg, world, tok, base, facts, log):
  d = cfg.dpo
  b = synthetic.SyntheticCollapsing(world)
  prompts = [tok.encode(corpus.prompt(f, d.style), add_bos=False) for f in facts]
  ro = T.rl.rollout(as_loaded(base, tok, "base"), prompts, group_size=d.samples,
                    max_new_tokens=synthetic_eval.budget(d.style, cfg.eval.max_new_tokens),
                    seed=cfg.seed + 7,
                    question_ids=[f.id for f in facts], max_rows=1024, row_chunk=None)
  labels = synthetic.draw_labels(world, facts, cfg.seed + 11)
  correct = np.asarray([[b.canonical(t, d.style) == y for t in row]
                        for row, y in zip(ro.texts, labels)])
  pairs = T.rl.preference_pairs(ro, correct, seed=cfg.seed, pairs_per_question=d.pairs_per_question)
  trainer = _trainer(base, T.objectives.DPO(beta=d.beta), d.learning_rate, d.steps)
  step_fn = T.recipes.dpo_steps(trainer, pairs, batch_size=d.batch_size, seed=cfg.seed,
                                pad_id=tok.pad_id)
  margins = [step_fn(step)["reward_margin"]
             for step in tqdm(range(d.steps), desc="DPO", leave=False)]
  log(f"DPO: {len(pairs)} pairs; reward margin {margins[0]:.3f} -> {margins[-1]:.3f}")
  return trainer.policy_model(), {"pairs": len(pairs), "margin_first": margins[0],
                                  "margin_last": margins[-1]}


def cot_sft(cfg, world, tok, base, facts, log):
  c = cfg.cot_sft
  texts = corpus.cot_corpus(world, cfg.seed + 3, facts, repeats=c.repeats)
  examples = _examples(tok, texts, prompt_split=" A :")
  trainer = _trainer(base, T.objectives.NextToken(), c.learning_rate, c.steps)
  step_fn = T.recipes.sft_steps(trainer, examples, batch_size=c.batch_size, seed=cfg.seed,
                                pad_id=tok.pad_id)
  losses = [step_fn(step)["nll"] for step in tqdm(range(c.steps), desc="CoT-SFT", leave=False)]
  log(f"CoT-SFT: {len(examples)} worked chains; NLL {losses[0]:.3f} -> {losses[-1]:.3f}")
  return trainer.policy_model(), {"nll_first": losses[0], "nll_last": losses[-1]}


def make_world(cfg):
  """`(world, tokenizer, evaluated facts, labels drawn from p*)` of a quickstart config."""
  world = synthetic.make_world(cfg.seed, **cfg.world.to_dict())
  facts = list(world.questions)
  return world, synthetic.make_tokenizer(world), facts, synthetic.draw_labels(world, facts,
                                                                             cfg.seed)


def run_quickstart(cfg, workdir: str, *, log=print) -> dict[str, Any]:
  """Runs the whole quickstart; writes results.md/json and reliability diagrams."""
  t0 = time.perf_counter()
  workdir = storage.prepare_workdir(workdir)
  world, tok, facts, labels = make_world(cfg)
  log(f"world: {len(world.people)} people, {len(facts)} questions "
      f"({sum(f.kind == 'certain' for f in world.facts)} certain, "
      f"{sum(f.kind == 'contested' for f in world.facts)} contested, "
      f"{sum(f.kind == 'rare' for f in world.facts)} rare single-hop facts; "
      f"{len(world.two_hop)} two-hop)")
  clock = time.perf_counter()
  base, pre = pretrain(cfg, world, tok, log)
  pre["seconds"] = time.perf_counter() - clock
  e = cfg.eval
  ev = dict(num_samples=e.num_samples, seed=cfg.seed, n_bootstrap=e.n_bootstrap)
  rows: dict[str, dict[str, Any]] = {}
  rows["oracle p*"] = synthetic_eval.evaluate_oracle(facts, labels, **ev)
  ev["max_new_tokens"] = e.max_new_tokens
  base_loaded = as_loaded(base, tok, "base")
  for style in corpus.STYLES:
    rows[f"base / {style}"] = synthetic_eval.evaluate(base_loaded, world, facts, labels, style,
                                                      max_rows=e.max_rows, **ev)
  rows["base / first token"] = synthetic_eval.evaluate_first_token(
      base_loaded, world, facts, labels, "concise", seed=cfg.seed, n_bootstrap=e.n_bootstrap)
  log(f"base model measured in {len(corpus.STYLES)} styles + first token "
      f"({time.perf_counter() - clock - pre['seconds']:.0f} s)")
  stages = {"pretrain": pre}
  for name, fn, style in (("GRPO", grpo, cfg.grpo.style), ("DPO", dpo, cfg.dpo.style),
                          ("CoT-SFT", cot_sft, "cot")):
    clock = time.perf_counter()
    tuned, stats = fn(cfg, world, tok, base, facts, log)
    rows[f"{name} / {style}"] = synthetic_eval.evaluate(as_loaded(tuned, tok, name), world, facts,
                                                        labels, style, max_rows=e.max_rows, **ev)
    stats["seconds"] = time.perf_counter() - clock  # training + its evaluation
    stages[name] = stats
    log(f"{name}: trained and measured in {stats['seconds']:.0f} s")
  per_q = {name: row.pop("per_question") for name, row in rows.items()}
  for row in rows.values():
    row.pop("values", None)
  _figures(workdir, rows, per_q, n_bootstrap=e.figure_bootstrap)
  results = {"config": cfg.to_dict(), "stages": stages, "rows": rows,
             "questions": len(facts), "wall_seconds": time.perf_counter() - t0}
  table = format_table(rows)
  storage.write_json_atomic(os.path.join(workdir, "results.json"), results)
  storage.write_text_atomic(os.path.join(workdir, "results.md"), table)
  results["table"] = table
  return results


def over_under(x: float) -> str:
  return f"over +{x:.3f}" if x > 0 else f"under {x:.3f}"


def format_table(rows: dict[str, dict[str, Any]]) -> str:
  head = ("| row | accuracy | mean conf | smECE [95% CI] | ECE | Brier | AUROC | over/under | "
          "TV to p* |\n|---|---|---|---|---|---|---|---|---|\n")
  lines = []
  for name, r in rows.items():
    ci = r.get("smece_ci") or [float("nan")] * 2
    tv = r.get("tv_to_p_star")
    lines.append(f"| {name} | {r['accuracy']:.3f} | {r['mean_confidence']:.3f} | "
                 f"{r['smece']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] | {r['ece']:.3f} | "
                 f"{r['brier']:.3f} | {r['auroc']:.3f} | {over_under(r['overconfidence'])} | "
                 f"{'' if tv is None else f'{tv:.3f}'} |")
  return head + "\n".join(lines) + "\n"


def _figures(workdir, rows, per_q, n_bootstrap: int):
  """reliability.png: one smoothed diagram per row (bootstrap band), smECE in each legend."""
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  names = list(rows)
  cols = 4
  fig, axes = plt.subplots(-(-len(names) // cols), cols, figsize=(3.4 * cols,
                                                                  3.4 * -(-len(names) // cols)),
                           squeeze=False)
  for ax, name in zip(axes.ravel(), names):
    f, y = per_q[name]
    curve = diagrams.smoothed_curve(np.asarray(f, np.float64), np.asarray(y, np.float64),
                                    n_bootstrap=n_bootstrap)
    diagrams.plot_smoothed(curve, ax=ax, title=name)
  for ax in axes.ravel()[len(names):]:
    ax.axis("off")
  fig.tight_layout()
  diagrams.save(fig, os.path.join(workdir, "reliability.png"))


__all__ = ["as_loaded", "cot_sft", "dpo", "format_table", "grpo", "make_world", "pretrain",
           "run_quickstart"]
