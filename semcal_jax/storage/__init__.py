"""Storage: every path a user gives (local, gs://, any URL etils.epath reads through fsspec).

The bottom layer of the package (it imports nothing else from semcal_jax but
`errors`):

- `paths`: `as_path` (an `etils.epath.Path`), `is_remote`, `join`, `StorageError`;
- `files`: atomic writes, JSON / JSON-lines helpers, `prepare_workdir`;
- `cache`: local copies of remote files and folders keyed by the source's identity;
- `hub`: Hugging Face Hub ids resolved to local snapshot folders;
- `lock`: the advisory lock of a workdir (one writer at a time).
"""

from semcal_jax.storage import cache, files, hub, lock, paths
from semcal_jax.storage.cache import cache_root, local_file, local_tree
from semcal_jax.storage.files import (append_jsonl, finite, json_line, jsonable, prepare_workdir,
                                      read_json, read_jsonl, remove_temp_files,
                                      write_bytes_atomic,
                                      write_json_atomic, write_text_atomic)
from semcal_jax.storage.lock import LockError, WorkdirLock
from semcal_jax.storage.paths import StorageError, as_path, exists, is_remote, join, makedirs

__all__ = ["LockError", "StorageError", "WorkdirLock", "append_jsonl", "as_path", "cache",
           "cache_root", "exists", "files", "finite", "hub", "is_remote", "join", "json_line",
           "jsonable", "local_file", "local_tree", "lock", "makedirs", "paths", "prepare_workdir",
           "read_json", "read_jsonl", "remove_temp_files", "write_bytes_atomic",
           "write_json_atomic", "write_text_atomic"]
