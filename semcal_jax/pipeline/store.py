"""The results store of a run's workdir: samples written per batch, never half.

Layout of `DIR` (local or gs://):

    .lock                advisory lock of the process writing the run (storage.WorkdirLock)
    config.json          the resolved config of the run
    fingerprint.json     the part of it that fixes the samples (run_config.fingerprint)
    samples/part-HHH-NNNNNN.jsonl   one file per sampled batch, host HHH
    report.json, per_question.csv, reliability.png, confidence_hist.png

A part file is written to a temporary name and renamed into place (atomic on
POSIX file systems; object stores write whole objects), so a part exists
complete or not at all; readers ignore temporary names and check every record.
Each record is one question with its M samples, keyed by question id; a run
killed at any moment resumes from the parts that exist and redoes nothing.

Rules for what is found in a workdir (so that no state needs deleting by hand):
- a fingerprint that differs from the new config's is refused, listing the
  differing keys, unless `overwrite` (which clears the run first) or unless the
  workdir holds no samples yet (a run that failed before its first batch: there
  is nothing to lose, so the new config simply takes the workdir over);
- a fingerprint.json that is not valid JSON is the same: taken over when there
  are no samples, else refused with one line naming the file (pass --overwrite);
- a part file that cannot be read (truncated, empty, a record missing keys, a
  header count that does not match) is named in one warning line and renamed to
  `<name>.corrupt` by the next writer; its questions are sampled again;
- a part whose questions all appear in earlier parts (two writers before locks
  existed) is skipped, stats included, so token counts are not doubled;
- temporary files (`.*.tmp-*`) left by a killed writer are removed by the next
  one (which holds the workdir lock, so no other writer is mid-write).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from typing import Any

from etils import epath

from semcal_jax import storage
from semcal_jax.config_utils import ConfigError
from semcal_jax.errors import InputError
from semcal_jax.pipeline import run_config

_PART = re.compile(r"^part-(\d{3})-(\d{6})\.jsonl$")
RECORD_KEYS = ("id", "question", "references", "prompt", "prompt_tokens", "texts",
               "finish_reasons", "token_ids", "logprobs")
OUTPUTS = ("report.json", "per_question.csv", "reliability.png", "confidence_hist.png")


class StoreError(InputError):
  """A workdir holds something unreadable; the message names the file."""


class Store:
  """Samples and config of one run directory."""

  def __init__(self, workdir):
    self.root = storage.as_path(workdir)
    self.samples = self.root / "samples"

  # ------------------------------------------------------------------ config
  def recorded_fingerprint(self) -> dict | None:
    """The fingerprint the workdir was started with; None when there is none.

    Raises:
      StoreError: fingerprint.json exists but is not a valid JSON object.
    """
    path = self.root / "fingerprint.json"
    if not path.exists():
      return None
    try:
      value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
      raise StoreError(f"{os.fspath(path)}: not valid JSON ({e}); the stored samples cannot "
                       "be matched to a config: pass --overwrite to start the run again") from None
    if not isinstance(value, dict):
      raise StoreError(f"{os.fspath(path)}: expected a JSON object, got {type(value).__name__}; "
                       "pass --overwrite to start the run again")
    return value

  def claim(self, cfg, *, overwrite: bool = False, write: bool = True) -> None:
    """Records the config, or checks it against the one already recorded (module
    docstring: a differing or unreadable fingerprint is refused only when there are
    samples to protect).

    Raises ConfigError listing the keys that would change the samples unless
    `overwrite`, which deletes the old samples and report first. With
    `write=False` it only checks (the other hosts of a multi-host run, which
    must fail alike but leave the writing to one host). The caller holds the
    workdir lock when `write`.
    """
    new = run_config.fingerprint(cfg)
    if overwrite:
      if write:
        self.clear()
    else:
      self._check(new)
    if not write:
      return
    self.root.mkdir(parents=True, exist_ok=True)
    self.samples.mkdir(parents=True, exist_ok=True)
    self.heal()
    storage.write_json_atomic(self.root / "fingerprint.json", new)
    storage.write_json_atomic(self.root / "config.json", cfg.to_dict())

  def _check(self, new: dict) -> None:
    try:
      old = self.recorded_fingerprint()
    except StoreError:
      if self.parts():
        raise
      logging.warning("%s: unreadable and no samples yet; the new config takes the workdir",
                      os.fspath(self.root / "fingerprint.json"))
      return
    diff = run_config.differences(old, new) if old is not None else []
    if not diff:
      return
    if not self.parts():
      logging.warning("workdir %s: no samples yet; its recorded config (%s) is replaced",
                      os.fspath(self.root), "; ".join(diff[:4]))
      return
    raise ConfigError(f"workdir {os.fspath(self.root)} holds a run with another config "
                      f"({'; '.join(diff[:4])}{' ...' if len(diff) > 4 else ''}); use "
                      "another --workdir or pass --overwrite")

  def clear(self) -> None:
    """Deletes samples, report files and the recorded config (for --overwrite); it
    reads nothing, so it works on a corrupt workdir too."""
    if self.samples.exists():
      if storage.is_remote(self.samples):
        for f in self.samples.iterdir():
          f.unlink()
      else:
        shutil.rmtree(self.samples)
    for name in OUTPUTS + ("fingerprint.json", "config.json"):
      f = self.root / name
      if f.exists():
        f.unlink()

  def heal(self) -> list[str]:
    """Removes temporary files and renames unreadable parts to `<name>.corrupt`
    (their questions are then sampled again); returns the names of those parts.
    Only the process holding the workdir lock calls it."""
    for folder in (self.root, self.samples):
      storage.remove_temp_files(folder)
    bad = []
    for path in self.parts():
      problem = _read_part(path)[2]
      if problem is not None:
        logging.warning("%s: %s; set aside as %s.corrupt, its questions will be sampled again",
                        os.fspath(path), problem, path.name)
        path.rename(path.parent / (path.name + ".corrupt"))
        bad.append(path.name)
    return bad

  # ------------------------------------------------------------------ samples
  def parts(self) -> list[epath.Path]:
    if not self.samples.exists():
      return []
    return sorted(p for p in self.samples.iterdir() if _PART.match(p.name))

  def write_part(self, host: int, records: list[dict[str, Any]], stats: dict[str, Any]) -> str:
    """Writes one batch of records as a new part file, atomically; returns its name."""
    for r in records:
      missing = [k for k in RECORD_KEYS if k not in r]
      if missing:
        raise StoreError(f"record {r.get('id')!r} lacks {missing}")
    names = [p.name.removesuffix(".corrupt") for p in self.samples.iterdir()]  # set-aside too
    taken = [int(m.group(2)) for m in map(_PART.match, names) if m and int(m.group(1)) == host]
    name = f"part-{host:03d}-{(max(taken) + 1 if taken else 0):06d}.jsonl"
    lines = [json.dumps({"stats": stats, "count": len(records)})]
    lines += [json.dumps(r, ensure_ascii=False) for r in records]
    storage.write_text_atomic(self.samples / name, "\n".join(lines) + "\n")
    return name

  def read(self) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """`({question id: record}, [batch stats])` of every readable part, each record
    checked. An unreadable part is skipped with a warning naming it (`heal`
    renames it); a part holding only questions already read is skipped whole."""
    records, stats = {}, []
    for path in self.parts():
      header, body, problem = _read_part(path)
      if problem is not None:
        logging.warning("%s: %s; its questions will be sampled again", os.fspath(path), problem)
        continue
      if body and all(r["id"] in records for r in body):
        logging.warning("%s: every question is also in an earlier part; skipped",
                        os.fspath(path))
        continue
      for r in body:
        records[r["id"]] = r
      stats.append(header.get("stats", {}))
    return records, stats

  def done_ids(self) -> set[str]:
    return set(self.read()[0])


def _read_part(path) -> tuple[dict | None, list[dict], str | None]:
  """`(header, records, None)` of a part file, or `(None, [], what is wrong)`."""
  try:
    lines = path.read_text().splitlines()
  except (OSError, UnicodeDecodeError) as e:
    return None, [], f"unreadable ({e})"
  if not lines:
    return None, [], "empty"
  try:
    header = json.loads(lines[0])
    body = [json.loads(line) for line in lines[1:]]
  except json.JSONDecodeError as e:
    return None, [], f"not valid JSON lines ({e})"
  if not isinstance(header, dict) or header.get("count") != len(body):
    count = header.get("count") if isinstance(header, dict) else None
    return None, [], f"has {len(body)} records, header says {count}"
  for r in body:
    missing = [k for k in RECORD_KEYS if not isinstance(r, dict) or k not in r]
    if missing:
      rid = r.get("id") if isinstance(r, dict) else None
      return None, [], f"record {rid!r} lacks {missing}"
  return header, body, None
