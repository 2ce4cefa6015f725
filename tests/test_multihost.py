"""semcal_jax.multihost in one process: flag checks, host copies, meshes.

The multi-process behaviour (gathers across hosts, barriers) is tested on a
simulated pod in tests/pipeline/test_pod.py and tests/training/test_pod.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

from semcal_jax import multihost
from semcal_jax.config_utils import ConfigError
from semcal_jax.models import make_mesh


@pytest.mark.parametrize("args,message", [
    (("localhost:1234", None, None), "flag --num_processes"),
    ((None, 2, 0), "flag --coordinator"),
    (("localhost", 2, 0), "expected HOST:PORT"),
    (("localhost:x", 2, 0), "expected HOST:PORT"),
    (("localhost:1234", 0, 0), "flag --num_processes: must be >= 1"),
    (("localhost:1234", 2, 2), "flag --process_id: must be in [0, 2)"),
    (("localhost:1234", 2, -1), "flag --process_id"),
])
def test_bad_flags_name_the_flag(args, message):
  with pytest.raises(multihost.MultihostError, match=message.replace("[", r"\[").replace(")", r"\)")):
    multihost.check_args(*args)
  assert issubclass(multihost.MultihostError, ConfigError)  # the CLIs' one-line handler


def test_single_process_is_a_no_op():
  assert multihost.check_args(None, None, None) is None
  assert multihost.initialize() is False
  assert multihost.initialize(coordinator="localhost:1", num_processes=1, process_id=0) is False
  assert multihost.is_main()
  multihost.barrier("nothing to wait for")


def test_to_host_and_put_on_a_mesh():
  mesh = make_mesh(data=4, model=2)
  x = np.arange(32, dtype=np.float32).reshape(8, 4)
  sharded = multihost.put(jnp.asarray(x), NamedSharding(mesh, P("data", "model")))
  assert sharded.sharding.spec == P("data", "model")
  tree = multihost.to_host({"a": sharded, "b": [jnp.float32(2.5)], "c": 3})
  np.testing.assert_array_equal(tree["a"], x)
  assert isinstance(tree["a"], np.ndarray) and float(tree["b"][0]) == 2.5 and tree["c"] == 3
  assert not multihost.spans_hosts(mesh) and not multihost.spans_hosts(None)
  assert jax.process_count() == 1
