"""From checkpoint tensors (Hugging Face names and layouts) to a sharded model.

Both loaders (safetensors folders and GGUF files) present their tensors under
Hugging Face names in HF layout (`[out, in]` matrices); `fill_model` maps them
onto our parameter tree, one tensor at a time: each is read, transformed,
shape-checked and placed on its target `NamedSharding` before the next is
read, so host memory never holds more than one tensor beyond what is already
on device. Stacked block parameters `[L, ...]` are allocated sharded on device
and filled layer by layer with a donated in-place update.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from semcal_jax.errors import InputError
from semcal_jax.models import sharding as sharding_lib
from semcal_jax.models.config import ModelConfig
from semcal_jax.models.transformer import Transformer, abstract_model


class WeightsError(InputError):
  """Checkpoint tensors do not fit the model; the message names them."""


@dataclasses.dataclass(frozen=True)
class Entry:
  """One parameter: our path, its HF name (with `{i}` for the layer) and the
  transform from the HF array to our layout."""
  path: str
  hf_name: str
  transform: Callable[[np.ndarray], np.ndarray]
  stacked: bool


def _heads_in(n):  # [N*Dh, D] -> [D, N, Dh]
  return lambda w: w.reshape(n, -1, w.shape[-1]).transpose(2, 0, 1)


def _heads_out(n):  # [D, H*Dh] -> [H, Dh, D]
  return lambda w: w.reshape(w.shape[0], n, -1).transpose(1, 2, 0)


def _bias(n):  # [N*Dh] -> [N, Dh]
  return lambda b: b.reshape(n, -1)


_T = lambda w: w.T
_ID = lambda w: w


def plan(cfg: ModelConfig) -> list[Entry]:
  """Every parameter of a model with this config, with its HF source."""
  h, k = cfg.num_heads, cfg.num_kv_heads
  layer = "model.layers.{i}."
  out = [Entry("embed", "model.embed_tokens.weight", _ID, False),
         Entry("final_norm.scale", "model.norm.weight", _ID, False)]
  if not cfg.tie_embeddings:
    out.append(Entry("lm_head", "lm_head.weight", _T, False))
  blocks = [
      ("attn.q", "self_attn.q_proj.weight", _heads_in(h)),
      ("attn.k", "self_attn.k_proj.weight", _heads_in(k)),
      ("attn.v", "self_attn.v_proj.weight", _heads_in(k)),
      ("attn.o", "self_attn.o_proj.weight", _heads_out(h)),
      ("mlp.gate", "mlp.gate_proj.weight", _T),
      ("mlp.up", "mlp.up_proj.weight", _T),
      ("mlp.down", "mlp.down_proj.weight", _T),
      ("input_norm.scale", "input_layernorm.weight", _ID),
  ]
  if cfg.sandwich_norm:
    blocks += [("post_attn_norm.scale", "post_attention_layernorm.weight", _ID),
               ("pre_mlp_norm.scale", "pre_feedforward_layernorm.weight", _ID),
               ("post_mlp_norm.scale", "post_feedforward_layernorm.weight", _ID)]
  else:
    blocks.append(("pre_mlp_norm.scale", "post_attention_layernorm.weight", _ID))
  if cfg.qkv_bias:
    blocks += [("attn.q_bias", "self_attn.q_proj.bias", _bias(h)),
               ("attn.k_bias", "self_attn.k_proj.bias", _bias(k)),
               ("attn.v_bias", "self_attn.v_proj.bias", _bias(k))]
  if cfg.qk_norm:
    blocks += [("attn.q_norm.scale", "self_attn.q_norm.weight", _ID),
               ("attn.k_norm.scale", "self_attn.k_norm.weight", _ID)]
  out += [Entry(f"blocks.{p}", layer + n, t, True) for p, n, t in blocks]
  return out


def expected_names(cfg: ModelConfig) -> list[str]:
  names = []
  for e in plan(cfg):
    names += [e.hf_name.format(i=i) for i in range(cfg.num_layers)] if e.stacked else [e.hf_name]
  return names


# Tensors a checkpoint may carry that the model does not use.
_IGNORED = re.compile(r"(rotary_emb\.inv_freq$)|(^lm_head\.weight$)")


def check_names(cfg: ModelConfig, available: Iterable[str], source: str) -> None:
  """Raises WeightsError listing missing and unexpected tensors."""
  available = set(available)
  expected = set(expected_names(cfg))
  missing = sorted(expected - available)
  unexpected = sorted(n for n in available - expected if not _IGNORED.search(n))
  if missing or unexpected:
    parts = []
    if missing:
      parts.append(f"missing {len(missing)} tensors: {', '.join(missing[:8])}"
                   + (" ..." if len(missing) > 8 else ""))
    if unexpected:
      parts.append(f"unexpected {len(unexpected)} tensors: {', '.join(unexpected[:8])}"
                   + (" ..." if len(unexpected) > 8 else ""))
    raise WeightsError(f"{source}: " + "; ".join(parts))


def _state_leaves(model: Transformer) -> dict[str, nnx.Variable]:
  """`{dotted path: Variable}` of the model's parameters."""
  out = {}
  for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
    out[".".join(str(p) for p in path)] = var
  return out


def _set_layer(stacked, value, index):
  return jax.lax.dynamic_update_index_in_dim(stacked, value.astype(stacked.dtype), index, 0)


# In place: the stacked buffer is donated, so filling it never doubles it.
_set_layer_donated = jax.jit(_set_layer, donate_argnums=0)


def fill_model(cfg: ModelConfig, get_tensor: Callable[[str], np.ndarray], available: Iterable[str],
               *, dtype=jnp.float32, mesh=None, fsdp: bool = False, source: str = "checkpoint",
               progress: Callable[[str], None] | None = None) -> Transformer:
  """Builds a `Transformer` whose parameters come from `get_tensor(hf_name)`.

  Raises:
    WeightsError: a tensor is missing, unexpected or of the wrong shape (the
      message names `source`, the checkpoint file or folder, and the tensor).
  """
  check_names(cfg, available, source)
  model = abstract_model(cfg, dtype=dtype)
  leaves = _state_leaves(model)
  by_path = {e.path: e for e in plan(cfg)}
  if set(by_path) != set(leaves):
    raise WeightsError(f"internal: plan {sorted(set(by_path) ^ set(leaves))} differs from model")
  values = {}
  for path, var in leaves.items():
    entry = by_path[path]
    shape = var.get_value().shape
    target = sharding_lib.sharding_for(path, shape, mesh, fsdp)
    if entry.stacked:
      arr = jax.jit(lambda: jnp.zeros(shape, dtype), out_shardings=target)()
      for i in range(cfg.num_layers):
        name = entry.hf_name.format(i=i)
        arr = _set_layer_donated(arr, _fetch(get_tensor, entry, name, shape[1:], source), i)
        arr.block_until_ready()  # bounds host memory: this layer's copy is freed now
        if progress:
          progress(name)
    elif entry.transform in (_ID, _T) and hasattr(get_tensor, "row_chunks") and len(shape) == 2:
      arr = _stream_matrix(get_tensor, entry, shape, dtype, target, source)
    else:
      host = _fetch(get_tensor, entry, entry.hf_name, shape, source)
      arr = jax.device_put(host.astype(jnp.dtype(dtype)), target).block_until_ready()
      del host
      if progress:
        progress(entry.hf_name)
    values[path] = arr
  for path, var in leaves.items():
    var.set_value(values[path])
  graphdef, state = nnx.split(model)
  return nnx.merge(graphdef, state)


def _set_rows(full, rows, start, axis):
  return jax.lax.dynamic_update_slice_in_dim(full, rows.astype(full.dtype), start, axis)


_set_rows_donated = jax.jit(_set_rows, donate_argnums=0, static_argnums=3)


def _stream_matrix(tensors, entry: Entry, shape, dtype, target, source: str):
  """Fills a 2-D parameter (embedding, LM head) block by block, so that neither the
  whole float32 tensor nor a second copy of it is ever on the host."""
  name = entry.hf_name
  src_shape = tuple(tensors.shape(name))
  want = shape if entry.transform is _ID else shape[::-1]
  if src_shape != tuple(want):
    raise WeightsError(f"{source}: tensor {name}: shape {src_shape} does not match the config "
                       f"(expected {tuple(want)})")
  arr = jax.jit(lambda: jnp.zeros(shape, dtype), out_shardings=target)()
  axis = 0 if entry.transform is _ID else 1
  for start, rows in tensors.row_chunks(name):
    block = rows if axis == 0 else rows.T
    arr = _set_rows_donated(arr, jnp.asarray(block, dtype), start, axis)
    arr.block_until_ready()  # dispatch is async: without this, blocks pile up on the host
  return arr


def _fetch(get_tensor, entry: Entry, name: str, shape, source: str) -> np.ndarray:
  raw = np.asarray(get_tensor(name))
  try:
    arr = entry.transform(raw)
  except ValueError as e:
    raise WeightsError(f"{source}: tensor {name}: shape {raw.shape} cannot take our layout "
                       f"{shape}: {e}") from None
  if tuple(arr.shape) != tuple(shape):
    raise WeightsError(f"{source}: tensor {name}: shape {raw.shape} does not match the config "
                       f"(expected {tuple(shape)} after layout change, got {arr.shape})")
  return np.ascontiguousarray(arr)
