"""A fine-tuning workdir claimed by one config: resume only under the same fingerprint.

    with storage.WorkdirLock(workdir):
      workdir_lib.claim(workdir, cfg, overwrite=False)   # before any training state is written

Rules for what is found in the workdir (so that no state needs deleting by hand):
- a `fingerprint.json` (`run_config.fingerprint`) that differs from the new
  config's is refused, listing the differing keys, when the workdir holds training
  state (checkpoints, `metrics.jsonl` lines, evaluations); without training state
  (a run that failed before its first checkpoint) the new config takes it over;
- a `fingerprint.json` that is not a valid JSON object is the same: refused with
  one line naming the file when there is training state, else taken over;
- `overwrite` deletes the training state and the recorded config first, reading
  nothing, so it works on a corrupt workdir too.
The caller holds the workdir lock; only the main process writes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

from semcal_jax import storage
from semcal_jax.config_utils import ConfigError, differences
from semcal_jax.training import run_config

STATE = ("checkpoints", "metrics.jsonl", "tb", "evals", "report.json", "calibration_vs_step.png",
         "reliability_before_after.png", "dpo_pairs.json", "fingerprint.json", "config.json")


def has_state(workdir) -> bool:
  """Whether `workdir` holds training state: a checkpoint, a metrics line, an eval."""
  root = storage.as_path(workdir)
  for name in ("checkpoints", "evals"):
    folder = root / name
    if folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir()):
      return True
  metrics = root / "metrics.jsonl"
  return metrics.exists() and bool(metrics.read_bytes().strip())


def recorded_fingerprint(workdir) -> dict | None:
  """The fingerprint the workdir was started with; None when there is none.

  Raises:
    ConfigError: fingerprint.json exists but is not a valid JSON object (naming it).
  """
  path = storage.as_path(workdir) / "fingerprint.json"
  if not path.exists():
    return None
  try:
    value = json.loads(path.read_text())
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    value, why = None, f"not valid JSON ({e})"
  else:
    why = f"expected a JSON object, got {type(value).__name__}"
  if not isinstance(value, dict):
    raise ConfigError(f"{os.fspath(path)}: {why}; the training state in the workdir cannot be "
                      "matched to a config: pass --overwrite to start the run again")
  return value


def clear(workdir) -> None:
  """Deletes the training state and the recorded config (`STATE`)."""
  root = storage.as_path(workdir)
  for name in STATE:
    path = root / name
    if path.is_dir():
      if storage.is_remote(path):
        path.rmtree()
      else:
        shutil.rmtree(path)
    elif path.exists():
      path.unlink()


def check(workdir, new: dict) -> bool:
  """Raises ConfigError when the workdir's training state was made under another
  fingerprint than `new` (module docstring). Returns whether the workdir was
  recorded under another (or an unreadable) fingerprint but holds no training
  state: then what is left in it (cached DPO pairs) belongs to the old config."""
  state = has_state(workdir)
  try:
    old = recorded_fingerprint(workdir)
  except ConfigError:
    if state:
      raise
    logging.warning("%s/fingerprint.json: unreadable and no training state; the new config "
                    "takes the workdir", os.fspath(workdir))
    return True
  diff = differences(old, new) if old is not None else []
  if not diff:
    return False
  if not state:
    logging.warning("workdir %s: no training state yet; its recorded config (%s) is replaced",
                    os.fspath(workdir), "; ".join(diff[:4]))
    return True
  raise ConfigError(f"workdir {os.fspath(workdir)} holds a fine-tuning run with another config "
                    f"({'; '.join(diff[:4])}{' ...' if len(diff) > 4 else ''}); use another "
                    "--workdir or pass --overwrite")


def claim(workdir, cfg, *, overwrite: bool = False, write: bool = True,
          fingerprint: dict | None = None) -> dict:
  """Checks `cfg` against the workdir (or clears it with `overwrite`) and records
  `fingerprint.json` and `config.json`; returns the fingerprint (`fingerprint`:
  `run_config.fingerprint(cfg)` when the caller has it). With `write=False` it only
  checks (the other processes of a multi-host run)."""
  new = fingerprint if fingerprint is not None else run_config.fingerprint(cfg)
  taken_over = overwrite or check(workdir, new)
  if write and taken_over:
    clear(workdir)
  if write:
    root = storage.as_path(workdir)
    storage.write_json_atomic(root / "fingerprint.json", new)
    storage.write_json_atomic(root / "config.json", cfg.to_dict())
  return new


__all__ = ["STATE", "check", "claim", "clear", "has_state", "recorded_fingerprint"]
