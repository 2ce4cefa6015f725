"""One calibration run: model -> data -> prompts -> samples -> B -> calibration -> report.

    run_calibration(cfg, workdir)      # resumable: the same call continues a killed run

Built only from the library's modules (`models.load`, `data.load_questions`,
`data.prompts.Prompter`, `sampling.sample`, `semantic`, `calibration`). Samples
are written per batch of questions to the workdir's store as they finish, so
a run killed at any moment (kill -9 included) resumes without redoing a
finished batch, and, the sampler being batch-invariant and keyed by (seed,
question id, sample index), ends with exactly the samples and report of an
uninterrupted run.

Multi-host (TPU pods): call `multihost.initialize` first. When the model fits on
one host's devices (`model.mesh_model` <= local devices), each host loads it on
its local devices and samples questions `i` with `i % hosts == host`, writing
its own part files. A larger `mesh_model` builds one mesh over the devices of
all hosts (the model sharded across them): every host then samples every
question together and host 0 writes the parts. Host 0 writes the report once
every question is stored.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

import jax
from tqdm import tqdm

from semcal_jax import data as data_lib
from semcal_jax import multihost
from semcal_jax import sampling, storage
from semcal_jax.config_utils import ConfigError
from semcal_jax.errors import InputError
from semcal_jax.pipeline import report as report_lib
from semcal_jax.pipeline import run_config
from semcal_jax.pipeline.store import Store


def load_questions(cfg):
  """The run's questions; a data set that cannot be read is a one-line input error."""
  builder, _, _ = run_config.dataset_info(cfg)
  path = run_config.data_path(cfg)
  try:
    questions = data_lib.load_questions(builder, path=local_copy(path),
                                        split=cfg.data.split or None,
                                        n_questions=cfg.data.n_questions or None,
                                        seed=cfg.data.seed)
  except InputError:
    raise
  except (KeyError, ValueError, FileNotFoundError) as e:
    message = e.args[0] if isinstance(e, KeyError) and e.args else e
    raise ConfigError(f"config key 'data': {cfg.data.name} at {path}: {message}") from None
  if not questions:
    raise ConfigError(f"config key 'data.name': {cfg.data.name} ({path}) has no questions")
  return questions


def local_copy(path: str) -> str:
  """A local path for `path`: remote files or folders are copied into the storage
  cache, keyed by their identity (data sets are small next to models); local paths
  are returned as is."""
  if not storage.is_remote(path):
    return path
  return str(storage.local_tree(path))


def sampling_mesh(cfg):
  """The sampling mesh: this host's devices when `model.mesh_model` fits on them
  (the hosts then split the questions), else one mesh over the devices of every
  host (the model sharded across hosts; all hosts sample every question together).
  None on a single device."""
  from semcal_jax import models  # pylint: disable=g-import-not-at-top
  k = cfg.model.mesh_model
  devices = jax.local_devices() if k <= jax.local_device_count() else jax.devices()
  if len(devices) == 1:
    return None
  if len(devices) % k:
    raise ConfigError(f"config key 'model.mesh_model': {k} does not divide the {len(devices)} "
                      f"{'local ' if k <= jax.local_device_count() else ''}devices")
  return models.make_mesh(model=k, devices=devices)


def _records(questions, prompts, result, tokenizer) -> list[dict[str, Any]]:
  out = []
  for i, (q, p) in enumerate(zip(questions, prompts)):
    out.append({
        "id": q.id,
        "question": q.question,
        "references": list(q.answers),
        "prompt": p.text,
        "prompt_tokens": int(result.prompt_lengths[i]),
        "texts": result.texts[i],
        "finish_reasons": result.finish_reasons[i],
        "token_ids": [t.tolist() for t in result.token_ids[i]],
        "logprobs": [[round(float(x), 6) for x in lp] for lp in result.token_logprobs[i]],
    })
  return out


def run_calibration(cfg, workdir: str, *, overwrite: bool = False, progress: bool = True,
                    host: int | None = None, hosts: int | None = None) -> dict[str, Any] | None:
  """Runs (or resumes) one calibration run; returns the report (on host 0).

  `host` / `hosts` default to `jax.process_index()` / `jax.process_count()`
  (all hosts of a pod cooperate on this run); pass 0 / 1 to run it alone on
  this host (a sweep spreading whole runs over hosts)."""
  t_start = time.perf_counter()
  run_config.validate(cfg)
  questions = load_questions(cfg)  # a bad data set fails before the workdir is touched
  workdir = storage.prepare_workdir(workdir)
  store = Store(workdir)
  host = jax.process_index() if host is None else host
  hosts = jax.process_count() if hosts is None else hosts
  if hosts > 1 and multihost.spans_hosts(sampling_mesh(cfg)):
    share = (0, 1)  # one mesh over all hosts: every host samples every question
  else:
    share = (host, hosts)
  # Host 0 takes the workdir lock and claims the workdir (checks the recorded config,
  # clears it for --overwrite, writes it); the others read the stored samples only
  # after that, and fail with host 0's message if it fails.
  lock = storage.WorkdirLock(workdir)

  def claim():
    lock.acquire()
    try:
      store.claim(cfg, overwrite=overwrite)
    except BaseException:
      lock.release()
      raise

  if hosts > 1:
    multihost.first_error_of_main(claim)
  elif host == 0:
    claim()
  try:
    return _sample_and_report(cfg, store, questions, share, host, hosts, progress, t_start)
  finally:
    if host == 0:
      lock.release()


def _sample_and_report(cfg, store, questions, share, host, hosts, progress, t_start):
  """Samples what is not stored yet, then (host 0) writes the report."""
  done = store.done_ids()
  todo = [questions[i] for i in sampling.host_share(len(questions), *share)
          if questions[i].id not in done]
  logging.info("%d questions, %d stored, %d to sample on host %d", len(questions), len(done),
               len(todo), host)
  if todo:
    _sample_all(cfg, store, todo, host, progress, write=share[1] > 1 or host == 0)
  if hosts > 1:
    multihost.barrier("semcal-samples-done")
  if host != 0:
    return None
  records, stats = store.read()
  missing = [q.id for q in questions if q.id not in records]
  if missing:
    raise RuntimeError(f"{len(missing)} questions have no samples (e.g. {missing[:3]}); run "
                       "the same command again to sample them")
  ordered = [records[q.id] for q in questions]
  digest = run_config.digest(run_config.fingerprint(cfg))
  assess = None
  if cfg.uncertainty.self_assessment:
    assess = functools.partial(_self_assessment, cfg, os.fspath(store.root), digest, progress,
                               spans=hosts > 1 and share == (0, 1))
  report, rows = report_lib.build(cfg, ordered, stats, wall_seconds=time.perf_counter() - t_start,
                                  self_assessment=assess)
  report["fingerprint"] = digest
  report_lib.write(os.fspath(store.root), cfg, report, rows)
  return report


SELF_ASSESSMENT_FILE = "self_assessment.json"


def _self_assessment(cfg, workdir: str, digest: str, progress: bool, collapsed, records, *,
                     spans: bool) -> dict[str, Any]:
  """p(True) and verbalized confidence of the plurality answers, stored in the workdir
  (keyed by the run's fingerprint, the answers and the prompts' version), so a rerun
  reuses them; a
  stored file that cannot be read is named in the log and computed again."""
  answers = report_lib.plurality_answers(collapsed, records)
  if spans:
    reason = "not computed: the model is sharded across hosts"
    return {"p_true": reason, "verbalized": reason}
  path = os.path.join(workdir, SELF_ASSESSMENT_FILE)
  u = cfg.uncertainty
  from semcal_jax.pipeline import self_assessment  # pylint: disable=g-import-not-at-top
  key = {"version": self_assessment.VERSION, "fingerprint": digest, "answers": answers,
         "shots": u.p_true_shots, "tokens": u.verbalized_tokens, "min_parsed": u.min_parsed}
  try:
    stored = storage.read_json(path, default={})
    if isinstance(stored, dict) and stored.get("key") == key:
      return stored["scores"]
  except (storage.StorageError, KeyError) as e:
    logging.warning("%s cannot be read (%s); computing it again", path, e)
  loaded = _load_model(cfg, progress)
  scores = self_assessment.assess(
      loaded, [r["question"] for r in records], [r["references"] for r in records], answers,
      chat=cfg.prompts.format == "chat", shots=u.p_true_shots,
      max_new_tokens=u.verbalized_tokens, min_parsed=u.min_parsed)
  storage.write_json_atomic(path, {"key": key, "scores": scores}, allow_nan=True)
  return scores


_LOADED: dict = {}  # the last loaded model, reused by consecutive runs (sweeps)


def _load_model(cfg, progress: bool):
  from semcal_jax import models  # pylint: disable=g-import-not-at-top
  key = (cfg.model.spec, cfg.model.dtype, cfg.model.mesh_model, cfg.model.fsdp)
  if key not in _LOADED:
    _LOADED.clear()
    _LOADED[key] = models.load(cfg.model.spec, dtype=cfg.model.dtype, mesh=sampling_mesh(cfg),
                               fsdp=cfg.model.fsdp, progress=progress)
  return _LOADED[key]


def _sample_all(cfg, store: Store, todo, host: int, progress: bool, write: bool) -> None:
  """Samples `todo` in batches; with `write`, stores each batch as a part of `host`."""
  loaded = _load_model(cfg, progress)
  prompter = data_lib.prompts.Prompter(
      cfg.prompts, dataset=run_config.dataset_info(cfg)[0],
      apply_chat_template=loaded.tokenizer.apply_chat_template)
  s = cfg.sampling
  # One part file per compiled batch: max_rows // num_samples questions (the last
  # batch is padded by the sampler, so every batch reuses one compilation).
  per_batch = max(1, s.max_rows // s.num_samples)
  kwargs = dict(num_samples=s.num_samples, max_new_tokens=run_config.max_new_tokens(cfg),
                temperature=s.temperature, top_k=s.top_k or None,
                top_p=s.top_p if s.top_p < 1 else None, stop=run_config.stop_strings(cfg),
                seed=s.seed, max_rows=s.max_rows, row_chunk=s.row_chunk or None,
                batch_size=per_batch, progress=False)
  total = tokens = 0
  seconds = 0.0
  bar = tqdm(total=len(todo), desc=f"sampling {cfg.model.spec}", unit="q", disable=not progress)
  for start in range(0, len(todo), per_batch):
    batch = todo[start:start + per_batch]
    prompts = [prompter.render(q) for q in batch]
    result = sampling.sample(loaded, [p.text for p in prompts],
                             question_ids=[q.id for q in batch], **kwargs)
    stats = {"generated_tokens": int(result.lengths.sum()),
             "seconds": result.stats["wall_seconds"],
             "compile_seconds": result.stats["compile_seconds"], "questions": len(batch)}
    if write:
      store.write_part(host, _records(batch, prompts, result, loaded.tokenizer), stats)
    total += len(batch)
    tokens += stats["generated_tokens"]
    seconds += stats["seconds"]
    bar.update(len(batch))
    bar.set_postfix(tok_s=f"{tokens / max(seconds, 1e-9):.0f}")
  bar.close()

