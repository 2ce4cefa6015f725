"""kill -9 the main job at random moments three times; the resumed run ends with the
samples and report of an uninterrupted one, and no partial record is ever read."""

import random
import signal
import subprocess
import sys
import time

import pytest

from semcal_jax.pipeline.store import Store

from tests.conftest import REPO, subprocess_env
from tests.pipeline.fixtures import assert_same_run, tiny_model, write_trivia  # noqa: F401

pytestmark = pytest.mark.slow


def _command(model, data, workdir):
  return [sys.executable, "experiments/run_calibration.py",
          "--config=configs/local.py:data=triviaqa,style=concise,n_questions=0,num_samples=4",
          f"--config.model.spec={model}", f"--config.data.path={data}",
          "--config.prompts.k_shot=2", "--config.sampling.max_new_tokens=6",
          "--config.sampling.max_rows=8", "--config.calibration.n_bootstrap=50",
          f"--workdir={workdir}"]


def _env(tmp_path):
  # The five launches share the test session's compilation cache: each relaunch reuses
  # the programs the first one compiled (what a user resuming a run would want too).
  # On 8 fake devices, as the test session: on one device the tiny model writes its parts
  # so fast that a run can end before the random kill comes.
  return subprocess_env(devices=8, SEMCAL_DATA_DIR=str(tmp_path / "tfds"))


def test_kill_nine_three_times_then_resume(tiny_model, tmp_path):
  data = write_trivia(tmp_path / "trivia.jsonl", 48)
  env = _env(tmp_path)
  ref_dir, run_dir = tmp_path / "reference", tmp_path / "killed"
  subprocess.run(_command(tiny_model, data, ref_dir), cwd=REPO, env=env, check=True,
                 capture_output=True, timeout=900)
  rng = random.Random(1234)
  kills, seen = 0, []
  for _ in range(3):
    before = len(Store(run_dir).parts())
    proc = subprocess.Popen(_command(tiny_model, data, run_dir), cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill at a random moment once this session has written a part of its own.
    deadline = time.time() + 300
    while len(Store(run_dir).parts()) <= before and proc.poll() is None and time.time() < deadline:
      time.sleep(0.1)
    time.sleep(rng.uniform(0.0, 2.0))
    if proc.poll() is None:
      proc.send_signal(signal.SIGKILL)
      kills += 1
    proc.wait()
    seen.append(len(Store(run_dir).parts()))
    # Whatever is on disk now is whole: every part parses and every record is complete.
    if (run_dir / "samples").exists():
      records, _ = Store(run_dir).read()
      assert all(len(r["texts"]) == 4 for r in records.values())
      assert not [p for p in (run_dir / "samples").iterdir() if p.name.endswith(".jsonl")
                  and not p.name.startswith("part-")]
  assert kills == 3 and 0 < seen[0] < seen[1] < seen[2] < 24, seen  # killed mid-run each time
  subprocess.run(_command(tiny_model, data, run_dir), cwd=REPO, env=env, check=True,
                 capture_output=True, timeout=900)
  assert_same_run(ref_dir, run_dir, 48)
