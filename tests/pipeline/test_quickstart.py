"""The synthetic-world quickstart, end to end at smoke size (README command 1 in small)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, subprocess_env

ROWS = ("oracle p*", "base / concise", "base / sentence", "base / cot", "base / first token",
        "GRPO / concise", "DPO / concise", "CoT-SFT / cot")


@pytest.mark.slow
def test_smoke_quickstart_writes_the_table(tmp_path):
  proc = subprocess.run([sys.executable, "experiments/quickstart.py",
                         "--config=configs/quickstart.py:smoke", f"--workdir={tmp_path}"],
                        cwd=REPO, capture_output=True, text=True, timeout=600,
                        env=subprocess_env())  # one device, the session's compilation cache
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert tuple(results["rows"]) == ROWS
  table = (tmp_path / "results.md").read_text()
  assert table in proc.stdout  # the printed table is the written one
  for name, row in results["rows"].items():
    assert row["n"] == results["questions"] == 120, name
    assert 0.0 <= row["accuracy"] <= 1.0 and 0.0 <= row["mean_confidence"] <= 1.0
    assert row["smece_ci"][0] <= row["smece_ci"][1], name
    assert f"| {name} |" in table
  # p* itself is calibrated up to the noise of M = 8 draws and 120 questions.
  assert results["rows"]["oracle p*"]["smece"] < 0.15
  assert results["rows"]["oracle p*"]["tv_to_p_star"] < 0.3
  assert set(results["stages"]) == {"pretrain", "GRPO", "DPO", "CoT-SFT"}
  assert (tmp_path / "reliability.png").stat().st_size > 10_000
