"""Parameters sharded by logical-axis rules on 8 fake CPU devices give the 1-device logits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.sharding import NamedSharding

from semcal_jax.models import ModelConfig, make_mesh, sharding, weights

from tests.models import hf_reference

_forward = nnx.jit(lambda model, tokens: model(tokens))


@pytest.fixture(scope="module")
def gemma_like():
  _, config, state = hf_reference.build("gemma3")
  return ModelConfig.from_hf(config), state


def test_eight_devices_available():
  assert len(jax.devices()) == 8, "conftest sets --xla_force_host_platform_device_count=8"


@pytest.mark.parametrize("data,model,fsdp", [(2, 4, False), (1, 8, False), (4, 2, True)])
def test_sharded_logits_equal_single_device(gemma_like, data, model, fsdp):
  cfg, state = gemma_like
  tokens = jnp.asarray(np.random.default_rng(0).integers(0, cfg.vocab_size, size=(4, 40)))
  single = weights.fill_model(cfg, state.__getitem__, state.keys())
  mesh = make_mesh(data=data, model=model)
  sharded = weights.fill_model(cfg, state.__getitem__, state.keys(), mesh=mesh, fsdp=fsdp)
  q = nnx.state(sharded)["blocks"]["attn"]["q"].get_value()
  assert isinstance(q.sharding, NamedSharding)
  assert q.sharding.spec[2] == ("model" if cfg.num_heads % model == 0 else None)
  mlp = nnx.state(sharded)["blocks"]["mlp"]["up"].get_value()
  assert mlp.sharding.spec[2] == "model"
  if fsdp:
    assert mlp.sharding.spec[1] == "data"
  got = np.asarray(_forward(sharded, tokens))
  want = np.asarray(_forward(single, tokens))
  assert np.abs(got - want).max() <= 1e-5


def test_non_divisible_dimension_is_replicated():
  mesh = make_mesh(data=2, model=4)
  spec = sharding.spec_for("blocks.attn.q", (30, 576, 9, 64), mesh)  # SmolLM2: 9 heads
  assert spec[2] is None
  assert sharding.spec_for("blocks.mlp.up", (30, 576, 1536), mesh)[2] == "model"


def test_mesh_shape_errors():
  with pytest.raises(ValueError, match="devices"):
    make_mesh(data=3, model=2)
