"""Paths, atomic writes, JSON lines and workdirs, local and on a (fake) gs:// bucket."""

import json
import subprocess
import sys

import pytest

from semcal_jax import storage

from tests.conftest import REPO


def test_as_path_schemes_and_errors(tmp_path):
  assert storage.as_path(tmp_path) == tmp_path
  assert storage.as_path(f"file://{tmp_path}") == tmp_path
  assert str(storage.as_path("gs://b/x/y")) == "gs://b/x/y"
  assert storage.join("gs://b/runs", "a", "report.json") == "gs://b/runs/a/report.json"
  assert storage.is_remote("gs://b/x") and not storage.is_remote(tmp_path)
  with pytest.raises(storage.StorageError, match=r"ftp://host/x: unsupported URL scheme ftp://"):
    storage.as_path("ftp://host/x")
  assert issubclass(storage.StorageError, ValueError) and issubclass(storage.StorageError, OSError)


@pytest.mark.parametrize("where", ["local", "remote"])
def test_atomic_json_and_jsonl(where, tmp_path, fake_gcs):
  base = str(tmp_path) if where == "local" else fake_gcs[0]
  path = storage.join(base, "report.json")
  storage.write_json_atomic(path, {"x": float("nan"), "y": [1.5, float("inf")]})
  assert storage.read_json(path) == {"x": None, "y": [1.5, None]}
  assert storage.read_json(storage.join(base, "missing.json"), default={}) == {}
  log = storage.join(base, "metrics.jsonl")
  storage.append_jsonl(log, [{"step": 1}])
  storage.append_jsonl(log, [{"step": 2}, {"step": 3}])
  assert [r["step"] for r in storage.read_jsonl(log)] == [1, 2, 3]
  folder = tmp_path if where == "local" else fake_gcs[1]
  assert sorted(p.name for p in folder.iterdir() if p.is_file()) == ["metrics.jsonl",
                                                                     "report.json"]


def test_append_after_a_cut_line_keeps_the_new_record(tmp_path, fake_gcs):
  for log in (str(tmp_path / "m.jsonl"), storage.join(fake_gcs[0], "m.jsonl")):
    storage.as_path(log).write_text('{"step": 1}\n{"step": 2, "ki')  # killed mid-line
    storage.append_jsonl(log, [{"step": 3}])
    assert [r["step"] for r in storage.read_jsonl(log)] == [1, 3]


def test_prepare_workdir(tmp_path, fake_gcs):
  assert storage.prepare_workdir(tmp_path / "a" / "b") == str(tmp_path / "a" / "b")
  assert (tmp_path / "a" / "b").is_dir() and not list((tmp_path / "a" / "b").iterdir())
  assert storage.prepare_workdir(fake_gcs[0] + "/runs/x") == "gs://bucket/runs/x"
  with pytest.raises(storage.StorageError, match=r"^workdir /proc/semcal_x is not writable"):
    storage.prepare_workdir("/proc/semcal_x")


def test_cli_storage_error_is_one_line_exit_2(tmp_path):
  proc = subprocess.run(
      [sys.executable, "experiments/calibration_demo.py", "--config=configs/calibration_demo.py",
       "--workdir=/proc/semcal_demo"], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.strip().splitlines() if l.startswith("error")]
  assert len(lines) == 1 and "workdir /proc/semcal_demo is not writable" in lines[0], proc.stderr
  assert "Traceback" not in proc.stderr


def test_json_is_strict(tmp_path):
  storage.write_json_atomic(tmp_path / "a.json", {"v": float("-inf")})
  assert json.loads((tmp_path / "a.json").read_text(), parse_constant=pytest.fail) == {"v": None}
