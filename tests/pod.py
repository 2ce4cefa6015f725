"""A simulated TPU pod on this machine: N processes x K fake CPU devices.

The processes join one JAX job with `--coordinator=127.0.0.1:PORT
--num_processes=N --process_id=I` (the flags every CLI of the project takes)
and exchange collectives over gloo, as the hosts of a pod do over ICI/DCN.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.conftest import REPO, subprocess_env


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def pod_env(devices: int, **extra: str) -> dict[str, str]:
  """The test subprocess environment with `devices` fake CPU devices per process."""
  env = subprocess_env(**extra)
  flags = [f for f in env.get("XLA_FLAGS", "").split()
           if not f.startswith("--xla_force_host_platform_device_count")]
  env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={devices}"])
  env["JAX_PLATFORMS"] = "cpu"
  return env


def start(args: list[str], *, processes: int = 2, devices: int = 4, log_dir=None,
          **extra_env: str) -> list[subprocess.Popen]:
  """Starts `python ARGS --coordinator=... --num_processes=N --process_id=I` for each I.

  Output goes to `log_dir/process-I.log` (or is discarded)."""
  port = free_port()
  env = pod_env(devices, **extra_env)
  procs = []
  for i in range(processes):
    out = open(os.path.join(log_dir, f"process-{i}.log"), "wb") if log_dir else subprocess.DEVNULL
    procs.append(subprocess.Popen(
        [sys.executable, *args, f"--coordinator=127.0.0.1:{port}",
         f"--num_processes={processes}", f"--process_id={i}"],
        cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT))
  return procs


def wait(procs: list[subprocess.Popen], timeout: float = 600, log_dir=None) -> None:
  """Waits for every process; kills all and fails with the logs' tails if one fails."""
  try:
    codes = [p.wait(timeout=timeout) for p in procs]
  except subprocess.TimeoutExpired:
    codes = None
  if codes and not any(codes):
    return
  for p in procs:
    p.kill()
    p.wait()
  tails = ""
  if log_dir:
    for i in range(len(procs)):
      with open(os.path.join(log_dir, f"process-{i}.log"), "rb") as fh:
        tails += f"\n--- process {i}:\n" + fh.read().decode(errors="replace")[-3000:]
  raise AssertionError(f"pod processes ended with {codes or 'a timeout'}{tails}")


def run(args: list[str], *, processes: int = 2, devices: int = 4, log_dir=None,
        timeout: float = 600, **extra_env: str) -> None:
  """`start` then `wait`."""
  wait(start(args, processes=processes, devices=devices, log_dir=log_dir, **extra_env),
       timeout=timeout, log_dir=log_dir)
