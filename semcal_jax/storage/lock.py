"""An advisory lock on a workdir: one writer at a time, stale locks detected.

    with storage.WorkdirLock(workdir):     # raises LockError if another process holds it
      ...                                  # write parts, checkpoints, reports

The lock file `<workdir>/.lock` holds the holder's host, pid and start time (JSON),
so that a refused writer is told who holds it.

- Local folders: the file is locked with `fcntl.flock`. The kernel releases a
  flock when its holder exits, however it exits (kill -9 included), so a lock
  left by a dead process is never in the way: its file stays, but the next
  writer's flock succeeds and overwrites the record.
- Object stores (gs://, ...) have no locks: the lock is the object itself. It is
  stale when its holder is on this host and its pid is no longer running, or
  when its heartbeat (refreshed every `HEARTBEAT_SECONDS` by a daemon thread) is
  older than `STALE_SECONDS`; a stale lock is taken over. Taking an object lock
  is check-then-write, so two writers starting within the same second on two
  hosts can both get it: it guards against mistakes, not against races.

The lock is re-entrant within one process (a sweep's runs under its own lock,
nested `with` blocks): a second `WorkdirLock` on the same folder in the same
process shares the first one.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time

from semcal_jax.storage.paths import StorageError, as_path, is_remote

LOCK_NAME = ".lock"
HEARTBEAT_SECONDS = 60.0
STALE_SECONDS = 15 * 60.0

_HELD: dict[str, list] = {}  # resolved workdir -> [depth, lock]; this process's locks
_HELD_GUARD = threading.Lock()


class LockError(StorageError):
  """Another process is writing the workdir; the message names it and the lock file."""


def _record() -> dict:
  now = time.time()
  return {"host": socket.gethostname(), "pid": os.getpid(), "started": now, "heartbeat": now}


def _describe(holder: dict | None, path: str) -> str:
  if not holder:
    return f"another process (lock file {path})"
  started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
  return (f"pid {holder.get('pid')} on host {holder.get('host')} since {started} "
          f"(lock file {path})")


def _pid_alive(pid) -> bool:
  try:
    os.kill(int(pid), 0)
  except ProcessLookupError:
    return False
  except (PermissionError, ValueError, TypeError):
    return True  # exists but is not ours / unreadable: assume alive
  return True


class WorkdirLock:
  """The advisory lock of one workdir (module docstring). Use as a context manager,
  or `acquire()` / `release()`."""

  def __init__(self, workdir: str | os.PathLike):
    self.root = as_path(workdir)
    self.path = self.root / LOCK_NAME
    self._key = os.fspath(self.root) if is_remote(self.root) else os.path.realpath(self.root)
    self._fh = None
    self._stop: threading.Event | None = None
    self._shared = False

  # ---------------------------------------------------------------- public
  def acquire(self) -> WorkdirLock:
    """Takes the lock, or raises LockError naming its holder."""
    with _HELD_GUARD:
      held = _HELD.get(self._key)
      if held is not None:
        held[0] += 1
        self._shared = True
        return self
      if is_remote(self.root):
        self._acquire_object()
      else:
        self._acquire_flock()
      _HELD[self._key] = [1, self]
    return self

  def release(self) -> None:
    with _HELD_GUARD:
      held = _HELD.get(self._key)
      if held is None:
        return
      held[0] -= 1
      if held[0] > 0:
        return
      del _HELD[self._key]
      owner = held[1]
    owner._release_own()  # pylint: disable=protected-access

  def __enter__(self) -> WorkdirLock:
    return self.acquire()

  def __exit__(self, *exc) -> bool:
    self.release()
    return False

  # ---------------------------------------------------------------- local
  def _acquire_flock(self) -> None:
    import fcntl  # pylint: disable=g-import-not-at-top
    os.makedirs(self.root, exist_ok=True)
    fh = open(self.path, "a+", encoding="utf-8")  # pylint: disable=consider-using-with
    try:
      fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      fh.seek(0)
      holder = _parse(fh.read())
      fh.close()
      raise LockError(f"workdir {os.fspath(self.root)} is in use by "
                      f"{_describe(holder, os.fspath(self.path))}; wait for it to finish, "
                      "or stop it, then run again") from None
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps(_record()))
    fh.flush()
    self._fh = fh

  # ---------------------------------------------------------------- object store
  def _acquire_object(self) -> None:
    holder = _parse(self.path.read_text()) if self.path.exists() else None
    if holder is not None and not _stale(holder):
      raise LockError(f"workdir {os.fspath(self.root)} is in use by "
                      f"{_describe(holder, os.fspath(self.path))}; wait for it to finish, or "
                      f"delete the lock file if that process is gone (a lock is stale after "
                      f"{STALE_SECONDS / 60:.0f} minutes without a heartbeat)")
    mine = _record()
    self.path.write_text(json.dumps(mine))
    self._stop = threading.Event()
    threading.Thread(target=self._heartbeat, args=(mine, self._stop), daemon=True,
                     name=f"semcal-lock-{self._key}").start()

  def _heartbeat(self, mine: dict, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
      mine["heartbeat"] = time.time()
      try:
        self.path.write_text(json.dumps(mine))
      except OSError:  # a transient store error: the next beat tries again
        pass

  def _release_own(self) -> None:
    if self._fh is not None:
      import fcntl  # pylint: disable=g-import-not-at-top
      fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
      self._fh.close()
      self._fh = None
    if self._stop is not None:
      self._stop.set()
      self._stop = None
      try:
        holder = _parse(self.path.read_text()) if self.path.exists() else None
        if holder and holder.get("pid") == os.getpid() and \
            holder.get("host") == socket.gethostname():
          self.path.unlink()
      except OSError:
        pass


def _parse(text: str) -> dict | None:
  try:
    value = json.loads(text)
  except (json.JSONDecodeError, TypeError):
    return None
  return value if isinstance(value, dict) else None


def _stale(holder: dict) -> bool:
  if holder.get("host") == socket.gethostname() and not _pid_alive(holder.get("pid")):
    return True
  return time.time() - float(holder.get("heartbeat", 0) or 0) > STALE_SECONDS


__all__ = ["HEARTBEAT_SECONDS", "LOCK_NAME", "LockError", "STALE_SECONDS", "WorkdirLock"]
