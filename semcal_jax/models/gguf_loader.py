"""Load a `.gguf` file (llama.cpp format) through the `gguf` package.

Tensors are dequantised to float32 one at a time (`gguf.quants.dequantize`) and
presented under Hugging Face names in HF layout, undoing llama.cpp's changes
(as llama.cpp's `convert_hf_to_gguf.py` makes them):

- `llama`-architecture files store the rows of `attn_q` / `attn_k` permuted for
  llama.cpp's rope layout; we permute them back. Families whose llama.cpp rope
  is the "NeoX" kind (qwen2, qwen3, gemma3) are stored unpermuted.
- Gemma files store every RMSNorm weight as `1 + w`; we subtract 1.
"""

from __future__ import annotations

import mmap
import os
import pathlib
import re

import numpy as np

from semcal_jax import storage
from semcal_jax.models import gguf_metadata
from semcal_jax.models.config import ConfigError, ModelConfig

# GGUF tensor name -> HF tensor name ({i} = layer).
_LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_GEMMA_LAYER_NAMES = {
    "ffn_norm": "pre_feedforward_layernorm",
    "post_attention_norm": "post_attention_layernorm",
    "post_ffw_norm": "post_feedforward_layernorm",
}
_GLOBAL_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm",
                 "output": "lm_head"}
_PERMUTED_ARCHS = ("llama", "mistral")
_BLOCK = re.compile(r"^blk\.(\d+)\.(.+)\.(weight|bias)$")


# The one error class of GGUF loading (an InputError): header, metadata, tensors and
# tokenizer problems all raise it, with a message naming the file.
GGUFError = gguf_metadata.GGUFError


def hf_name(gguf_name: str, arch: str) -> str | None:
  """HF name of a GGUF tensor, or None if it is not one the model uses."""
  m = _BLOCK.match(gguf_name)
  if m:
    layer, part, kind = m.groups()
    table = {**_LAYER_NAMES, **(_GEMMA_LAYER_NAMES if arch == "gemma3" else
                                {"ffn_norm": "post_attention_layernorm"})}
    if part not in table:
      return None
    return f"model.layers.{layer}.{table[part]}.{kind}"
  stem, _, kind = gguf_name.rpartition(".")
  if stem in _GLOBAL_NAMES:
    return f"{_GLOBAL_NAMES[stem]}.{kind}"
  return None


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
  rows, cols = w.shape[0], (w.shape[1] if w.ndim > 1 else 1)
  out = w.reshape(n_head, rows // n_head // 2, 2, cols).swapaxes(1, 2)
  return out.reshape(w.shape)


class GGUFTensors:
  """HF-named, HF-layout float32 tensors of a GGUF file, dequantised on demand
  from a read-only memory map."""

  def __init__(self, path: pathlib.Path, infos, cfg: ModelConfig, arch: str):
    self.path = path
    self.cfg = cfg
    self.arch = arch
    with open(path, "rb") as fh:
      self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    self.by_hf = {}
    self.unknown = []
    for info in infos:
      name = hf_name(info.name, arch)
      if name is None:
        self.unknown.append(info.name)
      else:
        self.by_hf[name] = info

  def names(self):
    return list(self.by_hf) + [f"gguf:{n}" for n in self.unknown]

  def shape(self, name: str) -> tuple[int, ...]:
    return self.by_hf[name].shape

  def _raw(self, info, first_row: int = 0, rows: int | None = None) -> np.ndarray:
    """The tensor's bytes as `[rows, bytes per row]` uint8 (a view of the map)."""
    total_rows = int(np.prod(info.shape[:-1], dtype=np.int64)) if len(info.shape) > 1 else 1
    row_bytes = info.nbytes // total_rows
    rows = total_rows - first_row if rows is None else min(rows, total_rows - first_row)
    return np.frombuffer(self._map, np.uint8, count=rows * row_bytes,
                         offset=info.offset + first_row * row_bytes).reshape(rows, row_bytes)

  def row_chunks(self, name: str, max_elements: int = 1 << 24):
    """Yields `(first_row, rows)` of a 2-D tensor, dequantised a block of rows at a time
    (quantisation blocks never cross rows), so large tensors are never whole on host."""
    import gguf  # pylint: disable=g-import-not-at-top
    info = self.by_hf[name]
    rows, cols = info.shape
    step = max(1, max_elements // cols)
    for start in range(0, rows, step):
      part = gguf.quants.dequantize(self._raw(info, start, step), info.qtype)
      yield start, self._fix(name, np.asarray(part, np.float32).reshape(-1, cols))

  def __call__(self, name: str) -> np.ndarray:
    import gguf  # pylint: disable=g-import-not-at-top
    info = self.by_hf[name]
    w = np.asarray(gguf.quants.dequantize(self._raw(info), info.qtype), np.float32)
    return self._fix(name, w.reshape(info.shape))

  def _fix(self, name: str, w: np.ndarray) -> np.ndarray:
    """Undoes llama.cpp's layout changes (whole tensors; norms and q/k are small)."""
    if self.arch in _PERMUTED_ARCHS:
      if name.endswith("q_proj.weight") or name.endswith("q_proj.bias"):
        w = _unpermute(w, self.cfg.num_heads)
      elif name.endswith("k_proj.weight") or name.endswith("k_proj.bias"):
        w = _unpermute(w, self.cfg.num_kv_heads)
    if self.arch == "gemma3" and "norm" in name:
      w = w - 1.0
    return w


def read(path: str | os.PathLike):
  """`(ModelConfig, GGUFTensors, metadata)` of a GGUF file, local or remote (copied
  into the storage cache: it is memory-mapped); no weights read yet.

  Raises:
    GGUFError (GGUFNotFoundError: no such file): not a readable GGUF file.
    ConfigError: the metadata does not describe a model we support.
  """
  path = storage.local_file(path)
  if not path.is_file():
    raise gguf_metadata.GGUFNotFoundError(f"GGUF file not found: {path}")
  meta, infos = gguf_metadata.read_header(path)
  arch = meta.get("general.architecture")
  names = [t.name for t in infos]
  embed = next((t for t in infos if t.name == "token_embd.weight"), None)
  if embed is not None and f"{arch}.vocab_size" not in meta:
    meta[f"{arch}.vocab_size"] = int(embed.shape[0])
  try:
    cfg = ModelConfig.from_gguf(meta, tensor_names=names)
  except ConfigError as e:
    raise ConfigError(f"{path}: {e}") from None
  return cfg, GGUFTensors(path, infos, cfg, arch), meta
