"""The probe in the synthetic world: KL gap vs smECE for base (3 styles), GRPO, DPO, CoT-SFT.

The models come from the quickstart's own stages (`pipeline.quickstart`:
pretraining, GRPO, DPO, CoT-SFT); each setting (model x response style) is
sampled and scored as in the quickstart table, its samples' class shares are
the probe targets, and a LoRA probe plus a linear probe are trained on that
setting's model with the concise question prompt. One point per setting:
(KL gap, smECE); Spearman's rho across settings with a bootstrap CI.

    results = run_synthetic(cfg, workdir)   # configs/probe_synthetic.py
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from semcal_jax import storage
from semcal_jax.data.synthetic import corpus
from semcal_jax.pipeline import quickstart
from semcal_jax.pipeline import synthetic_eval
from semcal_jax.probe import compare, linear_probe, lora_probe
from semcal_jax.probe import targets as targets_lib


def probe_setting(cfg, world, tok, model, facts, labels, style: str, name: str,
                  log=print) -> dict[str, Any]:
  """Samples one setting, builds its targets and trains both probes on `model`."""
  e, p = cfg.eval, cfg.probe
  ev = synthetic_eval.evaluate(quickstart.as_loaded(model, tok, name), world, facts, labels,
                               style, num_samples=e.num_samples, seed=cfg.seed,
                               n_bootstrap=e.n_bootstrap, max_rows=e.max_rows,
                               max_new_tokens=e.max_new_tokens)
  values = ev.pop("values")
  ev.pop("per_question")
  matches = np.asarray([[v == y for v in row] for row, y in zip(values, labels)])
  t = targets_lib.from_classes(values, None, matches, max_candidates=p.max_candidates)
  if p.distractors:  # other values of the same relation
    t = targets_lib.with_distractors(t, [f.relation for f in facts], seed=cfg.seed)
  prompts = [tok.encode(corpus.prompt(f, p.prompt_style), add_bos=False) for f in facts]
  cands = lora_probe.encode_candidates(tok, t.answers, t.valid, prefix="", eos_id=tok.eos_id)
  pcfg = lora_probe.ProbeConfig.from_config(p.lora)
  res = lora_probe.train_probe(model, prompts, cands, t, pcfg, pad_id=tok.pad_id, progress=False,
                               log=lambda msg: log(f"{name}: {msg}"))
  out = {"calibration": ev, "lora": res.summary}
  if p.linear:
    out["linear"] = linear_probe.probe_plurality_share(
        model, prompts, t, res.train_idx, res.heldout_idx, batch_size=256, pad_id=tok.pad_id,
        seed=cfg.seed)
  return out


def run_synthetic(cfg, workdir: str, *, log=print) -> dict[str, Any]:
  """Pretrain + GRPO / DPO / CoT-SFT (quickstart stages), probe every setting,
  correlate; writes results.json, results.md and probe_vs_smece.png."""
  t0 = time.perf_counter()
  workdir = storage.prepare_workdir(workdir)
  world, tok, facts, labels = quickstart.make_world(cfg)
  log(f"world: {len(world.people)} people, {len(facts)} questions")
  base, pre = quickstart.pretrain(cfg, world, tok, log)
  models = {"base": base}
  for name, fn in (("GRPO", quickstart.grpo), ("DPO", quickstart.dpo),
                   ("CoT-SFT", quickstart.cot_sft)):
    models[name], _ = fn(cfg, world, tok, base, facts, log)
  log(f"models trained in {time.perf_counter() - t0:.0f} s")
  settings = [("base", s) for s in corpus.STYLES] + [
      ("GRPO", cfg.grpo.style), ("DPO", cfg.dpo.style), ("CoT-SFT", "cot")]
  rows = {}
  for model_name, style in settings:
    name = f"{model_name} / {style}"
    clock = time.perf_counter()
    rows[name] = probe_setting(cfg, world, tok, models[model_name], facts, labels, style, name,
                               log)
    rows[name]["seconds"] = time.perf_counter() - clock
  names = list(rows)
  gaps = [rows[n]["lora"]["kl_gap"] for n in names]
  smeces = [rows[n]["calibration"]["smece"] for n in names]
  stats = compare.spearman_ci(gaps, smeces, n_bootstrap=cfg.probe.n_bootstrap, seed=cfg.seed)
  compare.scatter(names, gaps, smeces, stats, os.path.join(workdir, "probe_vs_smece.png"),
                  smece_ci=[rows[n]["calibration"]["smece_ci"] for n in names],
                  title="synthetic world: probe KL gap vs B-calibration")
  results = {"config": cfg.to_dict(), "pretrain": pre, "rows": rows, "spearman": stats,
             "questions": len(facts), "wall_seconds": time.perf_counter() - t0}
  table = format_table(rows, stats)
  storage.write_json_atomic(os.path.join(workdir, "results.json"), results)
  storage.write_text_atomic(os.path.join(workdir, "results.md"), table)
  results["table"] = table
  return results


def format_table(rows: dict[str, dict[str, Any]], stats: dict[str, Any]) -> str:
  head = ("| setting | smECE [95% CI] | accuracy | held-out KL | floor | KL gap | KL before | "
          "probe smECE | linear R^2 |\n|---|---|---|---|---|---|---|---|---|\n")
  lines = []
  for name, r in rows.items():
    c, l = r["calibration"], r["lora"]
    ci = c.get("smece_ci") or [float("nan")] * 2
    lin = r.get("linear", {}).get("r2", float("nan"))
    lines.append(f"| {name} | {c['smece']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] | {c['accuracy']:.3f} | "
                 f"{l['heldout_kl']:.4f} | {l['noise_floor']:.4f} | {l['kl_gap']:.4f} | "
                 f"{l['kl_before']:.4f} | {l['probe_calibration']['smece']:.3f} | {lin:.3f} |")
  lo, hi = stats["ci"]
  return (head + "\n".join(lines) + f"\n\nSpearman(KL gap, smECE) = {stats['spearman']:.3f} "
          f"[{lo:.3f}, {hi:.3f}] (bootstrap over settings), n = {stats['n']}\n")


__all__ = ["format_table", "probe_setting", "run_synthetic"]
