"""The probe on a finished calibration run (`experiments/run_calibration.py` workdir).

The run's samples are collapsed again with its own B (`pipeline.report`), the
class shares become the targets, and the model of the run is loaded to train
the LoRA probe (and the linear one) on them:

    out = probe_run("/tmp/semcal/gemma-triviaqa", ProbeConfig(steps=60), max_candidates=8)
    out["lora"]["kl_gap"], out["linear"]["r2"], out["smece"]

Prompts: the run's own prompt for each question, or (with `prompt_style` /
`k_shot` set) the question rendered again: `k_shot=0` is the question alone,
`prompt_style="concise"` on a chain-of-thought run asks the probe to answer
directly what the run reached after reasoning.
Candidate strings: in the concise style, each class's most frequent response
(first line); otherwise the class key of B. A candidate is `" " + answer`
(base format) followed by the style's first stop string, or EOS.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from typing import Any

import ml_collections

from semcal_jax import storage
from semcal_jax.data import prompts as prompts_lib
from semcal_jax.data.question import Question
from semcal_jax.errors import InputError
from semcal_jax.pipeline import report as report_lib
from semcal_jax.pipeline import run_config
from semcal_jax.pipeline.store import Store
from semcal_jax.probe import linear_probe, lora_probe
from semcal_jax.probe import targets as targets_lib


class RunNotFinishedError(InputError):
  """The run directory to probe is not a finished calibration run; the message says why."""


def load_run(workdir) -> tuple[ml_collections.ConfigDict, list[dict[str, Any]], dict]:
  """`(config, records in sampling order, report)` of a finished run directory.

  Raises:
    RunNotFinishedError naming the directory and what is missing: no config.json,
    no samples, no readable report.json (the run has not finished: probing its
    partial samples would give another answer once it has), or a report of other
    samples than those stored.
  """
  root = storage.as_path(workdir)
  path = root / "config.json"
  if not path.exists():
    raise RunNotFinishedError(f"{os.fspath(path)}: not found ({os.fspath(root)} is not a "
                              "calibration run directory)")
  cfg = ml_collections.ConfigDict(storage.read_json(path))
  records, _ = Store(root).read()
  if not records:
    raise RunNotFinishedError(f"{os.fspath(root / 'samples')}: the run has no samples yet")
  try:
    report = storage.read_json(root / "report.json")
  except storage.StorageError as e:
    raise RunNotFinishedError(f"{e}; run the calibration run's command again to rewrite "
                              "it") from None
  if report is None:
    raise RunNotFinishedError(f"{os.fspath(root)}: the run is not finished ({len(records)} "
                              "questions sampled, no report.json); finish it (run its command "
                              "again) before probing it")
  if report.get("n_questions") != len(records):
    raise RunNotFinishedError(f"{os.fspath(root / 'report.json')}: reports "
                              f"{report.get('n_questions')} questions but the run stores "
                              f"{len(records)}; run its command again")
  return cfg, list(records.values()), report


def run_identity(workdir, settings: dict) -> str:
  """16 hex digits naming what a probe of the run at `workdir` depends on: the run's
  fingerprint (which fixes its samples), its collapsing and calibration settings,
  and the probe `settings`; not the run's path (a run redone with another config
  in the same folder is another run)."""
  root = storage.as_path(workdir)
  fp = Store(root).recorded_fingerprint()
  cfg = storage.read_json(root / "config.json") or {}
  key = [fp, cfg.get("collapse"), cfg.get("calibration"), settings]
  return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def probe_inputs(cfg, records, tokenizer, *, max_candidates: int = 8, prompt_style: str = "",
                 k_shot: int = -1, distractors: bool = True, seed: int = 0,
                 apply_chat_template=None):
  """`(prompt ids [Q], candidate ids [Q][K], Targets)` of a run's records.

  `prompt_style` ("" = the run's) and `k_shot` (-1 = the run's; 0 = the
  question only) re-render the prompts when they differ from the run's;
  `distractors`: empty candidate slots get other questions' answers."""
  collapsed = report_lib.collapse_records(cfg, records)
  concise = cfg.prompts.style == "concise"
  answers = ([[t.split("\n")[0] for t in r["texts"]] for r in records] if concise else None)
  t = targets_lib.from_classes(collapsed.keys, answers, collapsed.matches,
                               max_candidates=max_candidates)
  if distractors:
    t = targets_lib.with_distractors(t, seed=seed)
  style = prompt_style or cfg.prompts.style
  shots = cfg.prompts.k_shot if k_shot < 0 else k_shot
  if style == cfg.prompts.style and shots == cfg.prompts.k_shot:
    texts = [r["prompt"] for r in records]
  else:
    pcfg = ml_collections.ConfigDict(cfg.prompts.to_dict())
    pcfg.style, pcfg.k_shot = style, shots
    prompter = prompts_lib.Prompter(pcfg, dataset=run_config.dataset_info(cfg)[0],
                                    apply_chat_template=apply_chat_template)
    texts = [prompter.render(Question(id=r["id"], question=r["question"],
                                      answers=tuple(r["references"]))).text for r in records]
  prompt_ids = [list(tokenizer.encode(x)) for x in texts]
  base = cfg.prompts.format == "base"
  stops = tuple(cfg.prompts.styles[style]["stop" if base else "chat_stop"])
  cands = lora_probe.encode_candidates(tokenizer, [[a + (stops[0] if stops else "") if a else ""
                                                    for a in row] for row in t.answers],
                                       t.valid, prefix=" " if base else "",
                                       eos_id=None if stops else tokenizer.eos_id)
  return prompt_ids, cands, t


def probe_run(workdir, cfg: lora_probe.ProbeConfig = lora_probe.ProbeConfig(), *,
              max_candidates: int = 8, prompt_style: str = "", k_shot: int = -1,
              model_spec: str = "",
              dtype: str = "float32", mesh_model: int = 1, linear: bool = True,
              distractors: bool = True,
              progress: bool = True, log=print) -> dict[str, Any]:
  """LoRA probe (and linear probe) on one run; returns a JSON-able summary.

  `mesh_model` > 1 shards the model tensor-parallel that many ways (the rest of
  the devices are data parallel), as the sampler does."""
  import jax  # pylint: disable=g-import-not-at-top
  from semcal_jax import models  # pylint: disable=g-import-not-at-top
  t0 = time.perf_counter()
  run_cfg, records, report = load_run(workdir)
  mesh = None
  if len(jax.devices()) > 1 or mesh_model > 1:
    mesh = models.make_mesh(model=mesh_model)
  loaded = models.load(model_spec or run_cfg.model.spec, dtype=dtype, mesh=mesh,
                       progress=progress)
  prompts, cands, t = probe_inputs(run_cfg, records, loaded.tokenizer,
                                   max_candidates=max_candidates, prompt_style=prompt_style,
                                   k_shot=k_shot, distractors=distractors, seed=cfg.seed,
                                   apply_chat_template=loaded.tokenizer.apply_chat_template)
  log(f"{os.fspath(workdir)}: {len(records)} questions x {t.num_samples} samples, "
      f"{int(t.usable.sum())} with a parsed answer, {t.valid.sum(-1).mean():.2f} candidate "
      f"classes per question (dropped share {t.dropped.mean():.3f})")
  pad = loaded.tokenizer.pad_id if loaded.tokenizer.pad_id is not None else 0
  res = lora_probe.train_probe(loaded.model, prompts, cands, t, cfg, mesh=loaded.mesh,
                               pad_id=pad, progress=progress, log=log)
  out = {"run": os.fspath(workdir), "model": run_cfg.model.spec, "style": run_cfg.prompts.style,
         "dataset": run_cfg.data.name, "probe_config": dataclasses.asdict(cfg),
         "max_candidates": max_candidates, "distractors": distractors, "lora": res.summary,
         "smece": report.get("smece"), "smece_ci": report.get("smece_ci")}
  if linear:
    out["linear"] = linear_probe.probe_plurality_share(
        loaded.model, prompts, t, res.train_idx, res.heldout_idx, batch_size=cfg.batch_size,
        pad_id=pad, seed=cfg.seed)
  out["seconds"] = time.perf_counter() - t0
  return out


__all__ = ["RunNotFinishedError", "load_run", "probe_inputs", "probe_run", "run_identity"]
