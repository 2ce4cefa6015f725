"""Fine-tuning on a simulated pod (2 processes x 4 fake CPU devices): the toy GRPO run
with calibration tracking ends with the parameters, metrics and report of the same
run in one process on 8 devices."""

import json

import numpy as np
import pytest

from tests import pod
from tests.training import pod_worker

pytestmark = pytest.mark.slow

STEPS = 2


def _records(workdir):
  out = []
  for line in (workdir / "metrics.jsonl").read_text().splitlines():
    rec = json.loads(line)
    out.append({k: v for k, v in rec.items() if "seconds" not in k})
  return out


def test_grpo_on_a_pod_matches_one_process(tmp_path):
  one = tmp_path / "one"
  ref = pod_worker.train(str(one), STEPS)
  two = tmp_path / "pod"
  two.mkdir()
  pod.run(["-m", "tests.training.pod_worker", str(two), str(STEPS)], log_dir=str(tmp_path))
  got = dict(np.load(two / "params.npz"))
  assert got.keys() == ref.keys() and ref
  for k in ref:
    np.testing.assert_allclose(got[k], ref[k], rtol=1e-5, atol=1e-6, err_msg=k)
  assert any(np.abs(v).max() > 0 for v in ref.values())  # the adapters moved
  a, b = _records(one), _records(two)
  assert [r["step"] for r in a] == [r["step"] for r in b]
  for ra, rb in zip(a, b):
    assert ra.keys() == rb.keys()
    for k in ra:
      if isinstance(ra[k], float):
        assert rb[k] == pytest.approx(ra[k], rel=1e-4, abs=1e-5), (ra["step"], k)
      else:
        assert ra[k] == rb[k], (ra["step"], k)
  rep_a = json.loads((one / "report.json").read_text())
  rep_b = json.loads((two / "report.json").read_text())
  assert rep_a["after"]["accuracy"] == rep_b["after"]["accuracy"]
  assert rep_a["after"]["smece"] == pytest.approx(rep_b["after"]["smece"], abs=1e-6)
