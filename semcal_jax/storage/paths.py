"""One path type for every location a user gives: local, gs://, s3://, az:// or hf://.

    path = as_path("gs://bucket/runs/a")     # an etils.epath.Path
    join("gs://bucket/runs/a", "evals", "step_000002.json")  # "gs://bucket/runs/a/evals/..."

`etils.epath` reads and writes these URLs through fsspec (gcsfs for gs://) when
TensorFlow is not installed, so any fsspec filesystem registered under one of
those schemes (a test's fake bucket included) is used as is. A URL with
another scheme is refused with a `StorageError` naming it; `file://` URLs are
local paths.
"""

from __future__ import annotations

import os
import re

from etils import epath
from semcal_jax.errors import InputError

# The URL schemes etils.epath dispatches to fsspec.
REMOTE_SCHEMES = ("gs", "s3", "az", "hf")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class StorageError(InputError, OSError):
  """A path cannot be used (unsupported URL, unwritable folder, missing file);
  the one-line message names the path."""


def scheme(path: str | os.PathLike) -> str | None:
  """The URL scheme of `path` ("gs" for "gs://b/x"), None for a local path."""
  m = _SCHEME.match(os.fspath(path))
  return m.group(1).lower() if m else None


def is_remote(path: str | os.PathLike) -> bool:
  """True for a URL other than file://."""
  return scheme(path) not in (None, "file")


def as_path(path: str | os.PathLike) -> epath.Path:
  """`path` as an `etils.epath.Path` (local, or a URL of `REMOTE_SCHEMES`).

  Raises:
    StorageError: a URL whose scheme epath cannot read.
  """
  text = os.fspath(path)
  kind = scheme(text)
  if kind == "file":
    text = text[len("file://"):]
  elif kind is not None and kind not in REMOTE_SCHEMES:
    known = ", ".join(f"{s}://" for s in REMOTE_SCHEMES)
    raise StorageError(f"{text}: unsupported URL scheme {kind}:// (use a local path or {known})")
  return epath.Path(text)


def join(base: str | os.PathLike, *parts: str) -> str:
  """`base / parts...` as a string, for local paths and URLs alike."""
  return os.fspath(as_path(base).joinpath(*parts))


def exists(path: str | os.PathLike) -> bool:
  return as_path(path).exists()


def makedirs(path: str | os.PathLike) -> epath.Path:
  """Creates the folder `path` and its parents (a no-op on object stores); returns it."""
  p = as_path(path)
  p.mkdir(parents=True, exist_ok=True)
  return p


__all__ = ["REMOTE_SCHEMES", "StorageError", "as_path", "exists", "is_remote", "join", "makedirs",
           "scheme"]
