"""Meshes and logical-axis sharding rules for the model's parameters.

A mesh has axes `('data', 'model')`. Every parameter dimension has a logical
name; `RULES` maps logical names to mesh axes: attention heads and the MLP
width go on 'model' (tensor parallelism), the vocabulary too; with
`fsdp=True` the hidden dimension goes on 'data' (fully sharded data parallel).
A dimension that the mesh axis does not divide (SmolLM2's 9 heads on 4
devices) is replicated instead; `spec_for` reports which.
"""

from __future__ import annotations

import logging

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P, SingleDeviceSharding

# Logical axes of each parameter, by its path in the model (layer axis first
# for stacked block parameters).
LOGICAL_AXES = {
    "embed": ("vocab", "embed"),
    "lm_head": ("embed", "vocab"),
    "final_norm.scale": (None,),
    "blocks.attn.q": ("layers", "embed", "heads", None),
    "blocks.attn.k": ("layers", "embed", "kv_heads", None),
    "blocks.attn.v": ("layers", "embed", "kv_heads", None),
    "blocks.attn.o": ("layers", "heads", None, "embed"),
    "blocks.attn.q_bias": ("layers", "heads", None),
    "blocks.attn.k_bias": ("layers", "kv_heads", None),
    "blocks.attn.v_bias": ("layers", "kv_heads", None),
    "blocks.attn.q_norm.scale": ("layers", None),
    "blocks.attn.k_norm.scale": ("layers", None),
    "blocks.mlp.gate": ("layers", "embed", "mlp"),
    "blocks.mlp.up": ("layers", "embed", "mlp"),
    "blocks.mlp.down": ("layers", "mlp", "embed"),
}


def rules(fsdp: bool = False) -> dict[str, str | None]:
  return {"vocab": "model", "heads": "model", "kv_heads": "model", "mlp": "model",
          "embed": "data" if fsdp else None, "layers": None}


def make_mesh(data: int | None = None, model: int = 1, devices=None) -> Mesh:
  """A `('data', 'model')` mesh; `data` defaults to all devices / model.

  `devices` defaults to every device of the job (all hosts of a pod); pass
  `jax.local_devices()` for a mesh of this host only."""
  devices = list(devices if devices is not None else jax.devices())
  if data is None:
    data = len(devices) // model
  if data * model != len(devices):
    raise ValueError(f"mesh: data={data} x model={model} != {len(devices)} devices")
  return Mesh(np.asarray(devices).reshape(data, model), ("data", "model"))


def logical_axes(path: str, ndim: int) -> tuple:
  """Logical axes of a parameter path like `blocks.input_norm.scale`."""
  if path in LOGICAL_AXES:
    return LOGICAL_AXES[path]
  return (None,) * ndim  # norms and anything else: replicated


def spec_for(path: str, shape, mesh: Mesh | None, fsdp: bool = False) -> P:
  """PartitionSpec of one parameter; non-divisible dimensions are replicated."""
  if mesh is None:
    return P()
  names = logical_axes(path, len(shape))
  table = rules(fsdp)
  out = []
  for dim, name in zip(shape, names):
    axis = table.get(name) if name else None
    if axis is not None and dim % mesh.shape[axis]:
      logging.info("sharding: %s dim %d (%s) not divisible by mesh axis %s=%d; replicated",
                   path, dim, name, axis, mesh.shape[axis])
      axis = None
    out.append(axis)
  return P(*out)


def sharding_for(path: str, shape, mesh: Mesh | None, fsdp: bool = False):
  if mesh is None:
    return SingleDeviceSharding(jax.local_devices()[0])
  return NamedSharding(mesh, spec_for(path, shape, mesh, fsdp))


def replicated(mesh: Mesh | None):
  return SingleDeviceSharding(jax.local_devices()[0]) if mesh is None else NamedSharding(mesh, P())


def data_sharding(mesh: Mesh | None, ndim: int):
  """Batch axis on 'data', the rest replicated."""
  if mesh is None:
    return SingleDeviceSharding(jax.local_devices()[0])
  return NamedSharding(mesh, P("data", *([None] * (ndim - 1))))
