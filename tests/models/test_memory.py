"""Loading Gemma-3-270m peaks at <= 2.5x its fp32 parameter bytes (RSS, fresh process)."""

import json
import subprocess
import sys

import pytest

from semcal_jax.models import registry

from tests.conftest import require

pytestmark = pytest.mark.slow

_SCRIPT = """
import json
import jax, jax.numpy as jnp
from flax import nnx
def hwm_kib():
  # VmHWM, the peak RSS of this process image. Not getrusage's ru_maxrss: Linux
  # carries that over fork and exec, so a child of a big pytest process would
  # report its parent's peak.
  with open("/proc/self/status") as fh:
    return int(next(l for l in fh if l.startswith("VmHWM:")).split()[1])
jnp.zeros(1).block_until_ready()
before = hwm_kib()
import semcal_jax.models as models
loaded = models.load("gemma-3-270m", with_tokenizer=False, progress=False)
peak = hwm_kib()
n = sum(x.size for x in jax.tree.leaves(nnx.state(loaded.model)))
print(json.dumps({"params": n, "before_kib": before, "peak_kib": peak}))
"""


def test_gemma_load_peak_rss():
  try:
    registry.resolve("gemma-3-270m")
  except registry.ModelNotFoundError as e:
    require(False, str(e))
  out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                       timeout=600, check=True)
  stats = json.loads(out.stdout.strip().splitlines()[-1])
  fp32_bytes = stats["params"] * 4
  ratio = stats["peak_kib"] * 1024 / fp32_bytes
  print(f"params {stats['params']:,}; peak RSS {stats['peak_kib'] / 1024:.0f} MiB "
        f"= {ratio:.2f}x fp32 parameter bytes ({fp32_bytes / 2**20:.0f} MiB)")
  assert stats["params"] > 260_000_000
  assert ratio <= 2.5
