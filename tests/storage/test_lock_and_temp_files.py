"""The workdir lock (one writer, stale locks, object stores) and temporary files."""

import errno
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from semcal_jax import storage
from semcal_jax.storage import lock as lock_lib

from tests.conftest import REPO, subprocess_env

HOLD = ("import sys, time\nfrom semcal_jax import storage\n"
        "storage.WorkdirLock(sys.argv[1]).acquire()\nprint('locked', flush=True)\n"
        "time.sleep(120)\n")


def _holder(folder):
  proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], cwd=REPO,
                          stdout=subprocess.PIPE, text=True, env=subprocess_env())
  assert proc.stdout.readline().strip() == "locked"
  return proc


def test_a_second_process_is_refused_naming_the_holder_and_a_dead_holder_is_stale(tmp_path):
  proc = _holder(tmp_path)
  try:
    with pytest.raises(storage.LockError, match=f"in use by pid {proc.pid} on host") as e:
      storage.WorkdirLock(tmp_path).acquire()
    assert "\n" not in str(e.value) and str(tmp_path / ".lock") in str(e.value)
  finally:
    proc.kill()  # as kill -9 would: the kernel drops its flock
    proc.wait()
  with storage.WorkdirLock(tmp_path):  # the lock file is still there, but stale
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()


def test_the_lock_is_reentrant_within_a_process(tmp_path):
  outer = storage.WorkdirLock(tmp_path).acquire()
  with storage.WorkdirLock(tmp_path):
    pass
  proc = subprocess.run([sys.executable, "-c", HOLD, str(tmp_path)], cwd=REPO, text=True,
                        capture_output=True, timeout=120, env=subprocess_env())
  assert proc.returncode != 0 and "LockError" in proc.stderr  # still held by `outer`
  outer.release()


def test_object_store_locks_refuse_live_holders_and_take_over_stale_ones(fake_gcs):
  root = "gs://bucket/run"
  path = storage.as_path(root) / ".lock"
  path.parent.mkdir(parents=True, exist_ok=True)
  live = {"host": "worker-7", "pid": 1, "started": time.time(), "heartbeat": time.time()}
  path.write_text(json.dumps(live))
  with pytest.raises(storage.LockError, match="pid 1 on host worker-7"):
    storage.WorkdirLock(root).acquire()
  old = dict(live, heartbeat=time.time() - lock_lib.STALE_SECONDS - 1)  # no heartbeat
  path.write_text(json.dumps(old))
  with storage.WorkdirLock(root):
    assert json.loads(path.read_text())["pid"] == os.getpid()
  assert not path.exists()  # released: the object is deleted
  dead = dict(live, host=socket.gethostname(), pid=2**22 + 12345)  # this host, no such pid
  path.write_text(json.dumps(dead))
  with storage.WorkdirLock(root):
    pass


def test_a_full_disk_leaves_no_temporary_file(tmp_path, monkeypatch):
  def full(fd):
    raise OSError(errno.ENOSPC, "No space left on device")

  monkeypatch.setattr(os, "fsync", full)
  with pytest.raises(OSError, match="No space left"):
    storage.write_json_atomic(tmp_path / "report.json", {"a": 1})
  assert list(tmp_path.iterdir()) == []


def test_temporary_files_of_a_killed_writer_are_removed(tmp_path):
  (tmp_path / ".report.json.tmp-0123abcd").write_text("half")
  (tmp_path / "report.json").write_text("{}")
  (tmp_path / "notes.tmp-x").write_text("mine")
  assert storage.remove_temp_files(tmp_path) == [".report.json.tmp-0123abcd"]
  assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.tmp-x", "report.json"]
