"""Hugging Face Hub ids ("Qwen/Qwen2.5-0.5B", "org/name@revision") as local folders.

    folder = snapshot("Qwen/Qwen2.5-0.5B")            # the cached snapshot's folder

Goes through `huggingface_hub.snapshot_download`, which keeps its cache in
`$HF_HUB_CACHE` (default `~/.cache/huggingface/hub`). With `HF_HUB_OFFLINE=1`
(or `local_only=True`) nothing is downloaded: a pre-filled cache is used, and
an id missing from it raises a `StorageError` naming the id. Only the files a
checkpoint folder needs are fetched (JSON configs, safetensors, tokenizer
files, chat templates).
"""

from __future__ import annotations

import os
import pathlib
import re

from semcal_jax.storage.paths import StorageError

# org/name, optionally @revision (a branch, tag or commit).
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9._/-]+)?$")
CHECKPOINT_FILES = ("*.json", "*.safetensors", "*.jinja", "tokenizer*")


def is_hub_id(spec: str | os.PathLike) -> bool:
  """True when `spec` has the shape of a Hub id ("org/name" or "org/name@rev")."""
  return bool(_HUB_ID.match(os.fspath(spec)))


def offline() -> bool:
  """True when `HF_HUB_OFFLINE` asks for no network access."""
  return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def split_id(spec: str) -> tuple[str, str | None]:
  """`("org/name", revision or None)` of a Hub id."""
  repo, _, revision = spec.partition("@")
  return repo, revision or None


def snapshot(spec: str, *, local_only: bool = False) -> pathlib.Path:
  """The local folder of Hub id `spec` (downloaded unless offline / `local_only`).

  Raises:
    StorageError: `spec` is not a Hub id, or it cannot be found (offline: not
      in the cache), with one line naming it.
  """
  if not is_hub_id(spec):
    raise StorageError(f"{spec!r} is not a Hugging Face Hub id (org/name[@revision])")
  import huggingface_hub  # pylint: disable=g-import-not-at-top
  from huggingface_hub import errors  # pylint: disable=g-import-not-at-top
  repo, revision = split_id(spec)
  no_network = local_only or offline()
  try:
    folder = huggingface_hub.snapshot_download(
        repo, revision=revision, cache_dir=os.environ.get("HF_HUB_CACHE") or None,
        local_files_only=no_network, allow_patterns=list(CHECKPOINT_FILES))
  except (errors.LocalEntryNotFoundError, errors.IncompleteSnapshotError) as e:
    where = os.environ.get("HF_HUB_CACHE") or "the Hugging Face cache"
    why = "is not in" if no_network else "could not be downloaded into"
    raise StorageError(f"Hugging Face Hub id {spec!r} {why} {where} "
                       f"({type(e).__name__})") from None
  except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError,
          errors.HfHubHTTPError) as e:
    raise StorageError(f"Hugging Face Hub id {spec!r}: {str(e).splitlines()[0]}") from None
  return pathlib.Path(folder)


__all__ = ["CHECKPOINT_FILES", "is_hub_id", "offline", "snapshot", "split_id"]
