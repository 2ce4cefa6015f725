"""Atomic writes, JSON and JSON-lines files, and workdirs, local or on object stores.

A local file is written to a temporary name in the same folder, flushed,
fsynced and renamed over the target, so a reader sees either the old file or
the complete new one, never a partial write, even if the process is killed
mid-write. On an object store (gs://, ...) one object write is already
all-or-nothing, so the object is written in one call. Appending a line to an
object rewrites the whole object (read, add, write): object stores have no
append.
"""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from semcal_jax.storage.paths import StorageError, as_path, is_remote


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
  target = as_path(path)
  if is_remote(target):
    target.write_bytes(data)
    return
  tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
  try:
    with open(tmp, "wb") as fh:
      fh.write(data)
      fh.flush()
      os.fsync(fh.fileno())
    os.replace(tmp, target)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)


TEMP_PATTERN = re.compile(r"^\..+\.tmp-[0-9a-f]{8}$")  # write_bytes_atomic's temporary names


def remove_temp_files(folder: str | os.PathLike) -> list[str]:
  """Deletes the temporary files a killed writer left in `folder` (not recursive);
  returns their names. Call it only while holding the folder's lock (a live writer's
  temporary file is not to be taken away)."""
  root = as_path(folder)
  if is_remote(root) or not root.is_dir():
    return []  # object stores write whole objects: no temporary files
  gone = []
  for f in root.iterdir():
    if TEMP_PATTERN.match(f.name) and f.is_file():
      f.unlink()
      gone.append(f.name)
  return gone


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
  write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any, *, allow_nan: bool = False) -> None:
  """Writes JSON atomically: strict (NaN and infinities become null) by default,
  for files other tools read; with `allow_nan`, NaN and infinities are written as
  Python's `json` writes them (`NaN`, `Infinity`) and `read_json` gives them back,
  for caches whose NaN is a result like any other."""
  value = obj if allow_nan else finite(obj)
  write_text_atomic(path, json.dumps(value, indent=2, sort_keys=False, default=jsonable,
                                     allow_nan=allow_nan) + "\n")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
  """The JSON value in `path`, or `default` when the file does not exist.

  Raises:
    StorageError: the file exists but is not valid JSON (the message names it).
  """
  p = as_path(path)
  if not p.exists():
    return default
  try:
    return json.loads(p.read_bytes().decode("utf-8-sig"))
  except json.JSONDecodeError as e:
    raise StorageError(f"{os.fspath(p)}: not valid JSON ({e})") from None
  except UnicodeDecodeError as e:
    raise StorageError(f"{os.fspath(p)}: not valid UTF-8 (byte {e.object[e.start]:#04x} at "
                       f"offset {e.start})") from None


def finite(obj: Any) -> Any:
  """`obj` with float NaN/inf replaced by None, recursively (strict JSON has no NaN)."""
  if isinstance(obj, float):
    return obj if math.isfinite(obj) else None
  if isinstance(obj, dict):
    return {k: finite(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [finite(v) for v in obj]
  return obj


def jsonable(x):
  """`json.dumps` default: numpy scalars and arrays as Python values."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  if isinstance(x, np.generic):
    return x.item()
  if isinstance(x, np.ndarray):
    return x.tolist()
  raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def json_line(record: Mapping[str, Any]) -> str:
  """One strict-JSON line (no newline) of `record`."""
  return json.dumps(finite(dict(record)), default=jsonable, allow_nan=False)


def append_jsonl(path: str | os.PathLike, records: Iterable[Mapping[str, Any]]) -> None:
  """Appends `records` to the JSON-lines file `path` (created when missing).

  Locally the lines are appended and fsynced; on an object store the object
  is rewritten whole with the lines added. A last line cut by a crash (no
  final newline) is closed first, so it never swallows the next record.
  """
  data = "".join(json_line(r) + "\n" for r in records).encode("utf-8")
  target = as_path(path)
  if is_remote(target):
    old = target.read_bytes() if target.exists() else b""
    if old and not old.endswith(b"\n"):
      old += b"\n"
    target.write_bytes(old + data)
    return
  with open(target, "a+b") as fh:
    fh.seek(0, os.SEEK_END)
    if fh.tell():
      fh.seek(-1, os.SEEK_END)
      if fh.read(1) != b"\n":
        data = b"\n" + data
    fh.write(data)
    fh.flush()
    os.fsync(fh.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
  """The JSON objects of a JSON-lines file ([] when missing; unparsable lines skipped)."""
  p = as_path(path)
  if not p.exists():
    return []
  out = []
  for line in p.read_text().splitlines():
    try:
      rec = json.loads(line)
    except json.JSONDecodeError:
      continue
    if isinstance(rec, dict):
      out.append(rec)
  return out


def prepare_workdir(workdir: str | os.PathLike) -> str:
  """Creates `workdir` (and parents) and checks that it is writable; returns it.

  Raises:
    StorageError: the folder cannot be created or written (the message names it).
  """
  path = as_path(workdir)
  try:
    path.mkdir(parents=True, exist_ok=True)
    if not is_remote(path):
      probe = path / f".write-probe-{uuid.uuid4().hex[:8]}"
      probe.write_text("ok")
      probe.unlink()
  except OSError as e:
    raise StorageError(f"workdir {os.fspath(path)} is not writable: "
                       f"{getattr(e, 'strerror', None) or e}") from None
  return os.fspath(path)


__all__ = ["append_jsonl", "finite", "json_line", "jsonable", "prepare_workdir", "read_json",
           "read_jsonl", "remove_temp_files", "write_bytes_atomic", "write_json_atomic",
           "write_text_atomic"]
