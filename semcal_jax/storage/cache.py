"""A local cache of remote files and folders, keyed by what the source is, not where.

    local = local_file("gs://b/models/Qwen2.5-7B/model-00001-of-00004.safetensors")
    folder = local_tree("gs://b/data/triviaqa")

An entry's key is the URL together with the source's size and version, as
the filesystem reports them (fsspec `info()`: the object generation on GCS,
the ETag on S3, else the modification time); a source that reports none of
these is keyed by its content's sha256. Two checkpoints whose shards share
file names therefore never share entries, and a source rewritten in place
gets a fresh entry. Each file is downloaded to a temporary name and renamed
into place, and an entry whose size differs from the source's (a copy cut
short by hand, a full disk) is downloaded again.

Entries live under `cache_root()`: `$SEMCAL_CACHE`, default `~/.cache/semcal_jax`.
Local paths are returned as they are.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import tempfile
from typing import Any

from semcal_jax.storage.paths import StorageError, as_path, is_remote

# fsspec `info()` fields that change whenever an object is rewritten, most specific first.
VERSION_FIELDS = ("generation", "etag", "ETag", "md5Hash", "crc32c", "mtime", "LastModified",
                  "updated")
_BLOCK = 1 << 22


def cache_root() -> pathlib.Path:
  """`$SEMCAL_CACHE` (default `~/.cache/semcal_jax`), created."""
  path = pathlib.Path(os.environ.get("SEMCAL_CACHE", pathlib.Path.home() / ".cache" / "semcal_jax"))
  path.mkdir(parents=True, exist_ok=True)
  return path


def _filesystem(url: str):
  import fsspec  # pylint: disable=g-import-not-at-top
  return fsspec.core.url_to_fs(url)


def _info(fs, path: str, url: str) -> dict[str, Any]:
  try:
    return fs.info(path)
  except FileNotFoundError:
    raise StorageError(f"{url}: no such file or folder") from None


def _content_sha256(fs, path: str) -> str:
  digest = hashlib.sha256()
  with fs.open(path, "rb") as fh:
    for block in iter(lambda: fh.read(_BLOCK), b""):
      digest.update(block)
  return digest.hexdigest()


def identity(url: str) -> tuple[int, str]:
  """`(size, version)` of the remote file `url` (module docstring)."""
  fs, path = _filesystem(url)
  info = _info(fs, path, url)
  version = next((str(info[k]) for k in VERSION_FIELDS if info.get(k) not in (None, "")), None)
  return int(info["size"]), version or "sha256:" + _content_sha256(fs, path)


def _key(*parts: object) -> str:
  return hashlib.sha256("\n".join(map(str, parts)).encode("utf-8")).hexdigest()[:24]


def _download(fs, path: str, target: pathlib.Path, size: int, url: str) -> None:
  """Copies `path` to `target` through a temporary file; checks the size."""
  target.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
  try:
    with os.fdopen(fd, "wb") as out, fs.open(path, "rb") as src:
      for block in iter(lambda: src.read(_BLOCK), b""):
        out.write(block)
      out.flush()
      os.fsync(out.fileno())
    got = os.path.getsize(tmp)
    if got != size:
      raise StorageError(f"{url}: copied {got} bytes, the source has {size}")
    os.replace(tmp, target)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)


def _fresh(target: pathlib.Path, size: int) -> bool:
  return target.is_file() and target.stat().st_size == size


def local_file(url: str | os.PathLike) -> pathlib.Path:
  """A local copy of the file `url` (downloaded once per identity); a local path as is.

  Raises:
    StorageError: `url` does not exist or is a folder.
  """
  if not is_remote(url):
    return pathlib.Path(os.fspath(as_path(url)))
  url = os.fspath(as_path(url))
  fs, path = _filesystem(url)
  if fs.isdir(path):
    raise StorageError(f"{url}: is a folder, not a file")
  size, version = identity(url)
  target = cache_root() / "remote" / _key(url, size, version) / pathlib.PurePosixPath(path).name
  if not _fresh(target, size):
    _download(fs, path, target, size, url)
  return target


def local_tree(url: str | os.PathLike) -> pathlib.Path:
  """A local copy of the folder (or file) `url`, keyed by every file's identity;
  a local path as is.

  Raises:
    StorageError: `url` does not exist.
  """
  if not is_remote(url):
    return pathlib.Path(os.fspath(as_path(url)))
  url = os.fspath(as_path(url)).rstrip("/")
  fs, root = _filesystem(url)
  if not fs.isdir(root):
    return local_file(url)
  files = fs.find(root, detail=True)
  if not files:
    raise StorageError(f"{url}: no such folder, or it is empty")
  entries = []
  for name, info in sorted(files.items()):
    rel = pathlib.PurePosixPath(name).relative_to(pathlib.PurePosixPath(root))
    version = next((str(info[k]) for k in VERSION_FIELDS if info.get(k) not in (None, "")), None)
    entries.append((str(rel), int(info["size"]), version or "sha256:" + _content_sha256(fs, name),
                    name))
  key = _key(url, *(f"{rel} {size} {version}" for rel, size, version, _ in entries))
  folder = cache_root() / "remote" / key / pathlib.PurePosixPath(root).name
  for rel, size, _, name in entries:
    target = folder / rel
    if not _fresh(target, size):
      _download(fs, name, target, size, f"{url}/{rel}")
  return folder


__all__ = ["VERSION_FIELDS", "cache_root", "identity", "local_file", "local_tree"]
