"""Load a Hugging Face folder: `config.json` + `model.safetensors` (or sharded).

Tensors are read one at a time through `safetensors.safe_open` (memory-mapped),
so host RAM holds at most one tensor beyond what is already on device. Local
folders and remote ones (gs://, through `semcal_jax.storage`) both work: a
remote shard is copied into the storage cache when first read, keyed by its
URL, size and version, so checkpoints whose shards share file names never
share copies.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from etils import epath

from semcal_jax import storage
from semcal_jax.models.config import ModelConfig

# Checkpoints of multimodal wrappers (e.g. Gemma3ForConditionalGeneration) prefix
# the text model's names; we strip these.
_PREFIXES = ("model.language_model.", "language_model.model.", "language_model.")


class CheckpointError(ValueError):
  """The folder is not a loadable HF checkpoint; the message names the file."""


def _read_json(path: epath.Path) -> dict[str, Any]:
  if not path.exists():
    raise FileNotFoundError(f"{path}: missing (an HF folder needs config.json and "
                            "model.safetensors or model.safetensors.index.json)")
  try:
    return json.loads(path.read_text())
  except json.JSONDecodeError as e:
    raise CheckpointError(f"{path}: not valid JSON ({e})") from None


def _canonical(name: str) -> str:
  for prefix in _PREFIXES:
    if name.startswith(prefix):
      name = "model." + name[len(prefix):] if not name.startswith("lm_head") else name
      break
  return name


class SafetensorsTensors:
  """HF-named tensors of a folder, read one at a time (numpy, float32 or bf16)."""

  def __init__(self, folder: epath.Path):
    self.folder = folder
    index = folder / "model.safetensors.index.json"
    single = folder / "model.safetensors"
    if index.exists():
      weight_map = _read_json(index).get("weight_map")
      if not isinstance(weight_map, dict):
        raise CheckpointError(f"{index}: no 'weight_map'")
      files = weight_map
    elif single.exists():
      files = {name: "model.safetensors" for name in self._keys(single)}
    else:
      raise FileNotFoundError(f"{folder}: no model.safetensors or model.safetensors.index.json")
    self.files = {_canonical(k): (k, v) for k, v in files.items()}
    self._open = {}

  def _local(self, filename: str) -> str:
    path = self.folder / filename
    if not path.exists():
      raise FileNotFoundError(f"{path}: shard listed in the index is missing")
    return os.fspath(storage.local_file(path))

  @staticmethod
  def _keys(path: epath.Path):
    from safetensors import safe_open  # pylint: disable=g-import-not-at-top
    with safe_open(os.fspath(storage.local_file(path)), framework="numpy") as fh:
      return list(fh.keys())

  def names(self):
    return list(self.files)

  def _handle(self, name: str):
    from safetensors import safe_open  # pylint: disable=g-import-not-at-top
    original, filename = self.files[name]
    if filename not in self._open:
      self._open[filename] = safe_open(self._local(filename), framework="flax")
    return self._open[filename], original

  def shape(self, name: str) -> tuple[int, ...]:
    fh, original = self._handle(name)
    return tuple(fh.get_slice(original).get_shape())

  def row_chunks(self, name: str, max_elements: int = 1 << 24):
    """Yields `(first_row, rows)` of a 2-D tensor, a block of rows at a time."""
    fh, original = self._handle(name)
    rows, cols = self.shape(name)
    step = max(1, max_elements // cols)
    sl = fh.get_slice(original)
    for start in range(0, rows, step):
      yield start, np.asarray(sl[start:min(start + step, rows)])

  def __call__(self, name: str) -> np.ndarray:
    fh, original = self._handle(name)
    return np.asarray(fh.get_tensor(original))


def read(folder: str | os.PathLike):
  """`(ModelConfig, SafetensorsTensors, config dict)` of an HF folder."""
  folder = storage.as_path(folder)
  config = _read_json(folder / "config.json")
  cfg = ModelConfig.from_hf(config)
  return cfg, SafetensorsTensors(folder), config
