"""The toy GRPO run of `resume_worker` on one ('data', 'model') mesh over every
device of the job, for the simulated-pod test.

  python -m tests.training.pod_worker WORKDIR NUM_STEPS \
      [--coordinator=HOST:PORT --num_processes=N --process_id=I]

Process 0 writes WORKDIR/params.npz: the trained parameters (LoRA adapters).
"""

import os
import sys

import jax
import numpy as np

from semcal_jax import multihost
from semcal_jax.models import make_mesh
from semcal_jax.training import runner

from tests.training import resume_worker

MODEL_AXIS = 2  # x 4 data-parallel ways: on 2 processes x 4 devices, the 'data' axis spans both


def train(workdir: str, num_steps: int) -> dict[str, np.ndarray]:
  """Runs the toy GRPO run; returns its trained parameters as host arrays `{path: array}`."""
  mesh = make_mesh(model=MODEL_AXIS)
  tr, step_fn, cfg, tracker, loaded = resume_worker.build(workdir, num_steps, mesh=mesh)
  runner.fit(tr, step_fn, workdir, cfg, tracker=tracker, loaded=loaded)
  leaves = multihost.to_host(tr.state.params)
  return {jax.tree_util.keystr(k): np.asarray(v)
          for k, v in jax.tree_util.tree_flatten_with_path(leaves)[0]}


def main(argv):
  flags = dict(a[2:].split("=", 1) for a in argv[3:])
  multihost.initialize(coordinator=flags.get("coordinator"),
                       num_processes=int(flags["num_processes"]) if "num_processes" in flags
                       else None,
                       process_id=int(flags["process_id"]) if "process_id" in flags else None)
  params = train(argv[1], int(argv[2]))
  if multihost.is_main():
    np.savez(os.path.join(argv[1], "params.npz"), **params)


if __name__ == "__main__":
  main(sys.argv)
