"""Multi-host (Cloud TPU pod) runtime: joining the processes, host copies, barriers.

A pod job starts the same program on every host. Each CLI of the project takes

    --distributed                      auto-detect (TPU VMs: no arguments needed)
    --coordinator=HOST:PORT --num_processes=N --process_id=I    explicit (any cluster,
                                       or N processes on one machine with fake CPU devices)

and calls `initialize_from_flags()` before anything touches a device. On the CPU
platform the processes talk over gloo, so a pod can be simulated on one machine:
N processes, each with `--xla_force_host_platform_device_count=K`.

Rules the rest of the library follows:
- `to_host(x)` is the only way device results reach numpy. An array other hosts
  hold shards of is gathered with `multihost_utils.process_allgather` (a
  collective: every process calls it, in the same order); `jax.device_get` is
  used only for arrays this process holds whole.
- `barrier(name)` after one host writes what the others read next.
- `is_main()` is the host that writes shared files (process 0).
"""

from __future__ import annotations

import logging
from typing import Any

import jax
import numpy as np

from semcal_jax.config_utils import ConfigError
from semcal_jax.errors import InputError, one_line

_FLAGS_DEFINED = False


def define_flags() -> None:
  """Defines --distributed, --coordinator, --num_processes, --process_id (absl), once."""
  global _FLAGS_DEFINED
  if _FLAGS_DEFINED:
    return
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_bool("distributed", False, "Join a multi-host job, auto-detected (TPU VM, "
                    "SLURM, ...): jax.distributed.initialize() with no arguments.")
  flags.DEFINE_string("coordinator", None, "HOST:PORT of process 0, for an explicit multi-host "
                      "job (with --num_processes and --process_id).")
  flags.DEFINE_integer("num_processes", None, "Processes in the job (with --coordinator).")
  flags.DEFINE_integer("process_id", None, "This process's index, 0 .. num_processes-1.")
  _FLAGS_DEFINED = True


class MultihostError(ConfigError):
  """The multi-host flags are inconsistent; the message names the flag."""


def check_args(coordinator: str | None, num_processes: int | None,
               process_id: int | None) -> None:
  """Raises MultihostError naming the flag for an incomplete or out-of-range set."""
  given = {"coordinator": coordinator, "num_processes": num_processes,
           "process_id": process_id}
  if all(v is None for v in given.values()):
    return
  missing = [f"--{k}" for k, v in given.items() if v is None]
  if missing:
    raise MultihostError(f"flag {missing[0]}: needed with "
                         f"{', '.join('--' + k for k, v in given.items() if v is not None)}")
  host, _, port = coordinator.rpartition(":")
  if not host or not port.isdigit():
    raise MultihostError(f"flag --coordinator: expected HOST:PORT, got {coordinator!r}")
  if num_processes < 1:
    raise MultihostError(f"flag --num_processes: must be >= 1, got {num_processes}")
  if not 0 <= process_id < num_processes:
    raise MultihostError(f"flag --process_id: must be in [0, {num_processes}), got {process_id}")


def initialize(*, distributed: bool = False, coordinator: str | None = None,
               num_processes: int | None = None, process_id: int | None = None) -> bool:
  """Joins the multi-host job if asked to; returns whether this is a multi-process job.

  With none of the arguments set this is a no-op (one process). Must run before
  the first use of a device."""
  check_args(coordinator, num_processes, process_id)
  if jax.distributed.is_initialized():
    return jax.process_count() > 1
  if coordinator is None and not distributed:
    return False
  if coordinator is not None and num_processes == 1:
    return False
  # CPU devices of several processes exchange collectives over gloo (JAX's default
  # for the CPU platform; set explicitly so an environment that changed it still works).
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if coordinator is None:
    jax.distributed.initialize()
  else:
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)
  logging.info("process %d of %d, %d local / %d global devices", jax.process_index(),
               jax.process_count(), jax.local_device_count(), jax.device_count())
  return jax.process_count() > 1


def initialize_from_flags() -> bool:
  """`initialize` with the values of the flags `define_flags` defined."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  return initialize(distributed=f.distributed, coordinator=f.coordinator,
                    num_processes=f.num_processes, process_id=f.process_id)


def is_main() -> bool:
  """Whether this is the process that writes shared files (process 0)."""
  return jax.process_index() == 0


def barrier(name: str) -> None:
  """Waits until every process reaches the barrier `name` (no-op on one process)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(name)


def first_error_of_main(fn) -> Any:
  """Runs `fn()` on process 0 only and makes every process fail alike.

  When `fn` raises an `errors.InputError` on process 0 (a workdir already in use,
  a recorded config that differs), process 0 re-raises it and every other process
  raises `MultihostError` with the same message, instead of waiting at the next
  barrier for a process that has gone. Returns `fn()`'s value on process 0, None
  elsewhere. A collective: every process calls it at the same point."""
  message, value = "", None
  if is_main():
    try:
      value = fn()
    except InputError as e:
      message = one_line(e)
      if jax.process_count() == 1:
        raise
      error = e
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    raw = np.zeros(_MESSAGE_BYTES, np.uint8)
    data = message.encode("utf-8")[:_MESSAGE_BYTES]
    raw[:len(data)] = np.frombuffer(data, np.uint8)
    got = np.asarray(multihost_utils.broadcast_one_to_all(raw))
    text = bytes(got[got > 0].tolist()).decode("utf-8", "replace")
    if text:
      if is_main():
        raise error
      raise MultihostError(f"{text} (reported by process 0)")
  return value


_MESSAGE_BYTES = 2048


def _leaf_to_host(x):
  if not isinstance(x, jax.Array):
    return np.asarray(x)
  if x.is_fully_addressable:
    return np.asarray(jax.device_get(x))
  if x.is_fully_replicated:
    return np.asarray(x.addressable_data(0))
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def to_host(tree: Any) -> Any:
  """`tree` with every array as a numpy array holding its global value.

  Arrays sharded over devices of other processes are gathered (a collective:
  every process must call `to_host` on the same arrays in the same order)."""
  return jax.tree.map(_leaf_to_host, tree)


def put(x, sharding):
  """`jax.device_put(x, sharding)`, also when `sharding` spans several hosts and `x` is
  an array on this host's device (JAX only puts host values there: every host
  passes the same value and keeps the shards of its own devices)."""
  if isinstance(x, jax.Array) and not sharding.is_fully_addressable:
    x = np.asarray(x)
  return jax.device_put(x, sharding)


def spans_hosts(mesh) -> bool:
  """Whether `mesh` holds devices of more than one process."""
  return mesh is not None and len({d.process_index for d in mesh.devices.flat}) > 1

