"""Load a `.gguf` file (llama.cpp format) through the `gguf` package.

Tensors are dequantised to float32 one at a time (`gguf.quants.dequantize`) and
presented under Hugging Face names in HF layout, undoing llama.cpp's changes
(`../shared/REFERENCE.md` §3):

- `llama`-architecture files store the rows of `attn_q` / `attn_k` permuted for
  llama.cpp's rope layout; we permute them back. Families whose llama.cpp rope
  is the "NeoX" kind (qwen2, qwen3, gemma3) are stored unpermuted.
- Gemma files store every RMSNorm weight as `1 + w`; we subtract 1.
"""

from __future__ import annotations

import os
import pathlib
import re
from typing import Any

import numpy as np

from semcal_jax.models.config import ModelConfig

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


class GGUFError(ValueError):
  """The file is not a usable GGUF model; the message says why."""


def open_reader(path: str | os.PathLike):
  import gguf  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"GGUF file not found: {path}")
  try:
    return gguf.GGUFReader(os.fspath(path))
  except (ValueError, OSError) as e:
    raise GGUFError(f"{path}: not a readable GGUF file ({e})") from None


def scalar_metadata(reader) -> dict[str, Any]:
  """Scalar and string metadata (arrays other than small ones are skipped)."""
  out = {}
  for key, field in reader.fields.items():
    if key.startswith("tokenizer.ggml.") and key not in (
        "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id",
        "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token"):
      continue
    try:
      out[key] = field.contents()
    except Exception:  # pylint: disable=broad-except  # exotic field types are not needed
      continue
  return out


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
  """HF-named, HF-layout float32 tensors of a GGUF file, dequantised on demand."""

  def __init__(self, reader, cfg: ModelConfig, arch: str):
    self.reader = reader
    self.cfg = cfg
    self.arch = arch
    self.by_hf = {}
    unknown = []
    for t in reader.tensors:
      name = hf_name(t.name, arch)
      if name is None:
        unknown.append(t.name)
      else:
        self.by_hf[name] = t
    self.unknown = unknown

  def names(self):
    return list(self.by_hf) + [f"gguf:{n}" for n in self.unknown]

  def __call__(self, name: str) -> np.ndarray:
    import gguf  # pylint: disable=g-import-not-at-top
    t = self.by_hf[name]
    shape = tuple(int(d) for d in reversed(t.shape))  # ggml lists the fastest dim first
    w = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), np.float32).reshape(shape)
    if self.arch in _PERMUTED_ARCHS:
      if name.endswith("q_proj.weight") or name.endswith("q_proj.bias"):
        w = _unpermute(w, self.cfg.num_heads)
      elif name.endswith("k_proj.weight") or name.endswith("k_proj.bias"):
        w = _unpermute(w, self.cfg.num_kv_heads)
    if self.arch == "gemma3" and "norm" in name:
      w = w - 1.0
    return w


def read(path: str | os.PathLike):
  """`(ModelConfig, GGUFTensors, metadata)` of a GGUF file (no weights read yet)."""
  reader = open_reader(path)
  meta = scalar_metadata(reader)
  arch = meta.get("general.architecture")
  names = [t.name for t in reader.tensors]
  embed = next((t for t in reader.tensors if t.name == "token_embd.weight"), None)
  if embed is not None and f"{arch}.vocab_size" not in meta:
    meta[f"{arch}.vocab_size"] = int(embed.shape[1])  # ggml order: [D, V]
  cfg = ModelConfig.from_gguf(meta, tensor_names=names)
  return cfg, GGUFTensors(reader, cfg, arch), meta
