"""The results store of a run's workdir: samples written per batch, never half.

Layout of `DIR` (local or gs://):

    config.json          the resolved config of the run
    fingerprint.json     the part of it that fixes the samples (run_config.fingerprint)
    samples/part-HHH-NNNNNN.jsonl   one file per sampled batch, host HHH
    report.json, per_question.csv, reliability.png, confidence_hist.png

A part file is written to a temporary name and renamed into place (atomic on
POSIX file systems; object stores write whole objects), so a part exists
complete or not at all; readers ignore temporary names and check every record.
Each record is one question with its M samples, keyed by question id; a run
killed at any moment resumes from the parts that exist and redoes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, Iterable

from etils import epath

from semcal_jax import storage
from semcal_jax.config_utils import ConfigError
from semcal_jax.pipeline import run_config

_PART = re.compile(r"^part-(\d{3})-(\d{6})\.jsonl$")
RECORD_KEYS = ("id", "question", "references", "prompt", "prompt_tokens", "texts",
               "finish_reasons", "token_ids", "logprobs")


class StoreError(ValueError):
  """A workdir holds something unreadable; the message names the file."""


class Store:
  """Samples and config of one run directory."""

  def __init__(self, workdir):
    self.root = storage.as_path(workdir)
    self.samples = self.root / "samples"

  # ------------------------------------------------------------------ config
  def claim(self, cfg, *, overwrite: bool = False, write: bool = True) -> None:
    """Records the config, or checks it against the one already recorded.

    Raises ConfigError listing the keys that would change the samples unless
    `overwrite`, which deletes the old samples and report first. With
    `write=False` it only checks (the other hosts of a multi-host run, which
    must fail alike but leave the writing to one host).
    """
    new = run_config.fingerprint(cfg)
    path = self.root / "fingerprint.json"
    if path.exists():
      old = json.loads(path.read_text())
      diff = run_config.differences(old, new)
      if diff and not overwrite:
        raise ConfigError(f"workdir {os.fspath(self.root)} holds a run with another config "
                          f"({'; '.join(diff[:4])}{' ...' if len(diff) > 4 else ''}); use "
                          "another --workdir or pass --overwrite")
      if diff and write:
        self.clear()
    if not write:
      return
    self.root.mkdir(parents=True, exist_ok=True)
    self.samples.mkdir(parents=True, exist_ok=True)
    storage.write_json_atomic(path, new)
    storage.write_json_atomic(self.root / "config.json", cfg.to_dict())

  def clear(self) -> None:
    """Deletes samples and report files (for --overwrite)."""
    if self.samples.exists():
      if storage.is_remote(self.samples):
        for f in self.samples.iterdir():
          f.unlink()
      else:
        shutil.rmtree(self.samples)
    for name in ("report.json", "per_question.csv", "reliability.png", "confidence_hist.png",
                 "fingerprint.json", "config.json"):
      f = self.root / name
      if f.exists():
        f.unlink()

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
    taken = [int(_PART.match(p.name).group(2)) for p in self.parts()
             if int(_PART.match(p.name).group(1)) == host]
    name = f"part-{host:03d}-{(max(taken) + 1 if taken else 0):06d}.jsonl"
    lines = [json.dumps({"stats": stats, "count": len(records)})]
    lines += [json.dumps(r, ensure_ascii=False) for r in records]
    storage.write_text_atomic(self.samples / name, "\n".join(lines) + "\n")
    return name

  def read(self) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """`({question id: record}, [batch stats])` of every part, each record checked."""
    records, stats = {}, []
    for path in self.parts():
      lines = path.read_text().splitlines()
      try:
        header = json.loads(lines[0])
        body = [json.loads(line) for line in lines[1:]]
      except (json.JSONDecodeError, IndexError) as e:
        raise StoreError(f"{os.fspath(path)}: unreadable ({e})") from None
      if header.get("count") != len(body):
        raise StoreError(f"{os.fspath(path)}: has {len(body)} records, header says "
                         f"{header.get('count')}")
      for r in body:
        missing = [k for k in RECORD_KEYS if k not in r]
        if missing:
          raise StoreError(f"{os.fspath(path)}: record {r.get('id')!r} lacks {missing}")
        records[r["id"]] = r
      stats.append(header.get("stats", {}))
    return records, stats

  def done_ids(self) -> set[str]:
    return set(self.read()[0])


def ordered(records: dict[str, dict], ids: Iterable[str]) -> list[dict]:
  """Records in the run's question order."""
  return [records[i] for i in ids]
