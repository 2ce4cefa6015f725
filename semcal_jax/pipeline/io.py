"""Atomic file writes and workdir handling, local or gs:// (through etils.epath).

A file is written to a temporary name in the same folder, flushed, fsynced and
renamed over the target, so a reader sees either the old file or the complete
new one, never a partial write, even if the process is killed mid-write.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from etils import epath


def _is_local(path: epath.Path) -> bool:
  return "://" not in os.fspath(path)


def write_bytes_atomic(path, data: bytes) -> None:
  path = epath.Path(path)
  tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
  if _is_local(path):
    with open(tmp, "wb") as fh:
      fh.write(data)
      fh.flush()
      os.fsync(fh.fileno())
    os.replace(tmp, path)
  else:  # object stores: a single object write is already all-or-nothing
    path.write_bytes(data)


def write_text_atomic(path, text: str) -> None:
  write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path, obj: Any) -> None:
  """Writes strict JSON (NaN and infinities become null) atomically."""
  write_text_atomic(path, json.dumps(finite(obj), indent=2, sort_keys=False,
                                     default=jsonable, allow_nan=False) + "\n")


def finite(obj: Any) -> Any:
  """`obj` with float NaN/inf replaced by None, recursively (strict JSON has no NaN)."""
  import math  # pylint: disable=g-import-not-at-top
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


def prepare_workdir(workdir) -> str:
  """Creates `workdir` (and parents) and checks that it is writable; returns it."""
  path = epath.Path(workdir)
  try:
    path.mkdir(parents=True, exist_ok=True)
    if _is_local(path):
      probe = path / f".write-probe-{uuid.uuid4().hex[:8]}"
      probe.write_text("ok")
      probe.unlink()
  except OSError as e:
    raise SystemExit(f"error: workdir {os.fspath(path)} is not writable: {e.strerror or e}") from None
  return os.fspath(path)
