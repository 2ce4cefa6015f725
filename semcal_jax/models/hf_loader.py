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

from semcal_jax import errors, storage
from semcal_jax.errors import InputError
from semcal_jax.models.config import ConfigError, ModelConfig

# Checkpoints of multimodal wrappers (e.g. Gemma3ForConditionalGeneration) prefix
# the text model's names; we strip these.
_PREFIXES = ("model.language_model.", "language_model.model.", "language_model.")


class CheckpointError(InputError):
  """The folder is not a loadable HF checkpoint; the message names the file."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
  """A file the checkpoint needs is missing (also a FileNotFoundError)."""


def read_json_object(path: epath.Path) -> dict[str, Any]:
  """The JSON object in `path` (UTF-8, a byte-order mark allowed)."""
  if not path.exists():
    raise CheckpointNotFoundError(f"{path}: missing (an HF folder needs config.json and "
                                  "model.safetensors or model.safetensors.index.json)")
  try:
    value = json.loads(path.read_bytes().decode("utf-8-sig"))
  except UnicodeDecodeError as e:
    raise CheckpointError(f"{path}: not valid UTF-8 (byte 0x{e.object[e.start]:02x} at offset "
                          f"{e.start}); is it a JSON file?") from None
  except json.JSONDecodeError as e:
    raise CheckpointError(f"{path}: not valid JSON ({e})") from None
  if not isinstance(value, dict):
    raise CheckpointError(f"{path}: expected a JSON object, got {type(value).__name__}")
  return value


def _safe_open(path: epath.Path, framework: str):
  """`safetensors.safe_open` of `path` (a local copy when remote); a file that is not
  safetensors (garbage, truncated) raises CheckpointError naming it."""
  from safetensors import safe_open  # pylint: disable=g-import-not-at-top
  local = os.fspath(storage.local_file(path))
  try:
    return safe_open(local, framework=framework)
  except Exception as e:  # pylint: disable=broad-except  # SafetensorError, OSError, ...
    raise CheckpointError(f"{path}: not a readable safetensors file ({errors.one_line(e)}); "
                          "is it truncated or corrupt? Download it again") from None


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
      weight_map = read_json_object(index).get("weight_map")
      if not isinstance(weight_map, dict) or not all(isinstance(v, str)
                                                     for v in weight_map.values()):
        raise CheckpointError(f"{index}: no 'weight_map' of tensor names to file names")
      files = weight_map
    elif single.exists():
      files = {name: "model.safetensors" for name in self._keys(single)}
    else:
      raise CheckpointNotFoundError(f"{folder}: no model.safetensors or "
                                    "model.safetensors.index.json")
    self.files = {_canonical(k): (k, v) for k, v in files.items()}
    self._open = {}

  def _shard(self, filename: str) -> epath.Path:
    path = self.folder / filename
    if not path.exists():
      raise CheckpointNotFoundError(f"{path}: shard listed in the index is missing")
    return path

  @staticmethod
  def _keys(path: epath.Path):
    with _safe_open(path, "numpy") as fh:
      return list(fh.keys())

  def names(self):
    return list(self.files)

  def _handle(self, name: str):
    original, filename = self.files[name]
    if filename not in self._open:
      self._open[filename] = _safe_open(self._shard(filename), "flax")
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
  """`(ModelConfig, SafetensorsTensors, config dict)` of an HF folder.

  Raises:
    CheckpointError (CheckpointNotFoundError: a file is missing): a file that is
      not JSON or not safetensors. ConfigError: config.json describes no model we
      support. Every message names the file.
  """
  folder = storage.as_path(folder)
  config = read_json_object(folder / "config.json")
  try:
    cfg = ModelConfig.from_hf(config)
  except ConfigError as e:
    raise ConfigError(f"{folder}: {e}") from None
  except (TypeError, ValueError, AttributeError) as e:  # values of the wrong type
    raise ConfigError(f"{folder / 'config.json'}: unusable value ({errors.one_line(e)})") from None
  return cfg, SafetensorsTensors(folder), config
