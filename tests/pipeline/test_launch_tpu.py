"""The Cloud TPU launcher parses, and its dry run shows create / install / run on all workers."""

import os
import subprocess

from tests.conftest import REPO


def test_dry_run_prints_the_three_steps():
  env = {**os.environ, "TPU_NAME": "semcal", "ZONE": "us-west4-a", "ACCELERATOR": "v5litepod-16",
         "PROJECT": "proj", "REPO_URL": "https://example.invalid/semcal.git", "DRY_RUN": "1"}
  out = subprocess.run(["bash", "experiments/launch_tpu.sh", "python experiments/sweep.py"],
                       cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
  lines = out.strip().splitlines()
  assert len(lines) == 3
  assert " create semcal " in lines[0] and "--accelerator-type=v5litepod-16" in lines[0]
  assert "--worker=all" in lines[1] and "requirements.txt" in lines[1]
  assert "--worker=all" in lines[2] and "python\\ experiments/sweep.py" in lines[2]


def test_missing_settings_fail_clearly():
  env = {k: v for k, v in os.environ.items() if k not in ("TPU_NAME",)}
  proc = subprocess.run(["bash", "experiments/launch_tpu.sh", "x"], cwd=REPO, env=env,
                        capture_output=True, text=True)
  assert proc.returncode != 0 and "TPU_NAME" in proc.stderr
