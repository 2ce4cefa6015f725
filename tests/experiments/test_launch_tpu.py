"""experiments/launch_tpu.sh (its dry run on multi-host slices, the planner, bad input) and
experiments/tpu_worker.sh, its worker side.

No test runs the real gcloud: a `gcloud` that fails is first on PATH (the worker-side test
swaps in one that copies files, standing in for `gcloud storage cp`).
"""

import os
import pathlib
import re
import subprocess
import threading

import pytest

from tests.conftest import REPO

SCRIPT = "experiments/launch_tpu.sh"
JAX_PIN = re.search(r"^jax==(\S+)$", (REPO / "requirements.txt").read_text(),
                    re.MULTILINE).group(1)
CONFIG = "configs/local.py:model=gs://b/models/Qwen2.5-7B,data=triviaqa,n_questions=1000"
COMMAND = f"python experiments/run_calibration.py --config={CONFIG} --workdir=gs://b/runs/q7"

FAILING_GCLOUD = """#!/usr/bin/env bash
echo "gcloud $*" >> "$GCLOUD_CALLS"; exit 97
"""
# `gcloud storage cp SRC DST`, with gs:// mapped to the folder $FAKE_GCS.
COPYING_GCLOUD = """#!/usr/bin/env bash
echo "gcloud $*" >> "$GCLOUD_CALLS"
[ "$1 $2" = "storage cp" ] || exit 97
shift 2; [ "$1" = --no-user-output-enabled ] && shift
src="${1/gs:\\/\\//$FAKE_GCS/}"; dst="${2/gs:\\/\\//$FAKE_GCS/}"
mkdir -p "$(dirname "$dst")" && cp "$src" "$dst"
"""


def _env(tmp_path: pathlib.Path, gcloud: str = FAILING_GCLOUD, **settings: str) -> dict:
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir(exist_ok=True)
  (bin_dir / "gcloud").write_text(gcloud)
  (bin_dir / "gcloud").chmod(0o755)
  env = {k: v for k, v in os.environ.items()
         if k not in ("TPU_NAME", "ZONE", "PROJECT", "ACCELERATOR", "SLICE", "DRY_RUN", "RETRIES")}
  env.update(PATH=f"{bin_dir}:{env['PATH']}", HOME=str(tmp_path / "home"),
             GCLOUD_CALLS=str(tmp_path / "gcloud_calls"), TPU_NAME="semcal", ZONE="us-west4-a",
             PROJECT="proj", REPO_URL="https://example.invalid/semcal_jax.git", **settings)
  return env


def _launch(env: dict, *args: str, script: str = SCRIPT) -> subprocess.CompletedProcess:
  return subprocess.run(["bash", script, *args], check=False, cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=60)


def _index(lines: list[str], *parts: str) -> int:
  hits = [i for i, line in enumerate(lines) if all(p in line for p in parts)]
  assert len(hits) == 1, (parts, lines)
  return hits[0]


def test_dry_run_on_four_hosts_prints_every_step_and_each_workers_command(tmp_path):
  env = _env(tmp_path, ACCELERATOR="v5litepod-16")
  proc = _launch(env, "--dry-run", COMMAND)
  assert proc.returncode == 0, proc.stderr
  assert not (tmp_path / "gcloud_calls").exists()  # nothing ran
  lines = proc.stdout.splitlines()
  plan = _index(lines, "experiments/plan_tpu.py", f"--config={CONFIG}", "--slice=v5e-16")
  create = _index(lines, "gcloud compute tpus tpu-vm create semcal",
                  "--accelerator-type=v5litepod-16", "--project=proj", "--zone=us-west4-a")
  install = _index(lines, "ssh semcal", "--worker=all", "requirements.txt")
  run = _index(lines, "ssh semcal", "--worker=all", "experiments/tpu_worker.sh", "--num-workers=4")
  assert plan < create < install < run
  for part in ("pip install -q --user uv", "uv python install 3.11", "uv venv",
               "--python 3.11", "-r requirements.txt -e .", f"jax[tpu]=={JAX_PIN}",
               "-f https://storage.googleapis.com/jax-releases/libtpu_releases.html"):
    assert part in lines[install], part
  workers = [line for line in lines if line.startswith("+ [worker ")]
  assert len(workers) == 4
  for i, line in enumerate(workers):
    assert line.startswith(f"+ [worker {i}] ")
    assert f"SEMCAL_WORKER_ID={i} SEMCAL_NUM_WORKERS=4" in line
    assert f"{COMMAND} --distributed)" in line
    assert f"$HOME/semcal_logs/b/runs/q7/logs/worker-{i}.log" in line
    assert f"copied to gs://b/runs/q7/logs/worker-{i}.log" in line


@pytest.mark.parametrize("accelerator,slice_,hosts", [
    ("v4-32", "v4-32", 4), ("v5p-64", "v5p-64", 8), ("v5litepod-8", "v5e-8", 1)])
def test_slice_table_sets_planner_slice_and_worker_count(tmp_path, accelerator, slice_, hosts):
  env = _env(tmp_path, ACCELERATOR=accelerator, DRY_RUN="1")
  command = "python experiments/sweep.py --config=configs/paper_grid.py --workdir=/tmp/grid"
  proc = _launch(env, command)
  assert proc.returncode == 0, proc.stderr
  assert f"--slice={slice_}" in proc.stdout and f"--num-workers={hosts}" in proc.stdout
  workers = [line for line in proc.stdout.splitlines() if line.startswith("+ [worker ")]
  assert len(workers) == hosts
  assert workers[-1].endswith(f">>/tmp/grid/logs/worker-{hosts - 1}.log 2>&1")
  # One host needs no distributed runtime; a pod gets --distributed appended.
  assert all(("--distributed" in line) == (hosts > 1) for line in workers)


def test_a_config_the_planner_rejects_stops_the_launch_before_any_gcloud(tmp_path):
  planner = tmp_path / "python"
  planner.write_text('#!/usr/bin/env bash\necho "$@" > "$PLANNER_ARGS"\n'
                     'echo "error: does not fit" >&2; exit 1\n')
  planner.chmod(0o755)
  env = _env(tmp_path, ACCELERATOR="v4-32", PYTHON=str(planner),
             PLANNER_ARGS=str(tmp_path / "planner_args"))
  proc = _launch(env, f"{COMMAND} --config.model.mesh_model=8")
  assert proc.returncode == 1
  assert proc.stderr.splitlines()[-1].startswith("launch_tpu.sh: stopped: the planner rejected")
  assert (tmp_path / "planner_args").read_text().split() == [
      "experiments/plan_tpu.py", f"--config={CONFIG}", "--config.model.mesh_model=8",
      "--slice=v4-32"]
  assert not (tmp_path / "gcloud_calls").exists()


@pytest.mark.parametrize("args,unset,settings,named", [
    ((), (), {}, "give the command"),
    ((COMMAND,), ("TPU_NAME",), {}, "TPU_NAME"),
    ((COMMAND,), ("ZONE",), {}, "ZONE"),
    ((COMMAND,), ("PROJECT",), {}, "PROJECT"),
    ((COMMAND,), (), {"ACCELERATOR": "v9-16"}, "ACCELERATOR=v9-16"),
    (("python experiments/sweep.py",), (), {}, "--workdir"),
    ((COMMAND,), (), {"RETRIES": "two"}, "RETRIES=two"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, unset, settings, named):
  env = _env(tmp_path, **{"ACCELERATOR": "v5litepod-16", **settings})
  for key in unset:
    del env[key]
  proc = _launch(env, "--dry-run", *args)
  assert proc.returncode == 2
  assert proc.stdout == ""
  assert len(proc.stderr.splitlines()) == 1 and named in proc.stderr, proc.stderr


def test_worker_side_stops_a_left_over_job_appends_the_log_and_copies_it_up(tmp_path):
  env = _env(tmp_path, gcloud=COPYING_GCLOUD, FAKE_GCS=str(tmp_path / "gcs"))
  home = tmp_path / "home"
  home.mkdir()
  (home / "semcal_jax").symlink_to(REPO)
  remote_log = tmp_path / "gcs/b/run/logs/worker-1.log"
  remote_log.parent.mkdir(parents=True)
  remote_log.write_text("an earlier launch on a VM since re-created\n")
  left_over = subprocess.Popen(["sleep", "60"], start_new_session=True)
  reaper = threading.Thread(target=left_over.wait)  # a dead job must not linger as a zombie
  reaper.start()
  (home / ".semcal_launch").mkdir()
  (home / ".semcal_launch/job.pid").write_text(f"{left_over.pid}\n")
  try:
    proc = _launch(env, "--worker-id=1", "--num-workers=4", "--log-dir=gs://b/run/logs", "--",
                   'echo "worker $SEMCAL_WORKER_ID of $SEMCAL_NUM_WORKERS"; exit 3',
                   script="experiments/tpu_worker.sh")
  finally:
    left_over.kill()
    reaper.join()
  assert left_over.returncode == -15  # SIGTERM, before the new job started
  assert proc.returncode == 3
  log = remote_log.read_text()
  assert log.startswith("an earlier launch")
  assert log.rstrip().endswith("worker 1 of 4")
  assert (home / "semcal_logs/b/run/logs/worker-1.log").read_text() == log
