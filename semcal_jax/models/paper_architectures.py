"""Architectures of the paper's checkpoints, without their files.

Planning a run (memory per chip, mesh, batch) needs each model's shape before
anything is copied to the machine. `ARCHITECTURES` maps the Hugging Face
folder name of every model in `registry.PAPER_CHECKPOINTS` to its figures, as
its `config.json` on the hub gives them (https://huggingface.co/<HF id>/blob/main/config.json);
for the multimodal Gemma 3 checkpoints (4b, 12b, 27b) the figures are those of
`text_config`, the part the loader reads. `config_for(name)` returns a
`ModelConfig` built from them.
"""

from __future__ import annotations

from semcal_jax.models.config import ModelConfig
from semcal_jax.models.registry import PAPER_CHECKPOINTS

# family, layers, hidden, heads, kv heads, head_dim, intermediate, vocab, tied embeddings
_QWEN_05B = ("qwen2", 24, 896, 14, 2, 64, 4864, 151936, True)
_QWEN_15B = ("qwen2", 28, 1536, 12, 2, 128, 8960, 151936, True)
_QWEN_3B = ("qwen2", 36, 2048, 16, 2, 128, 11008, 151936, True)
_QWEN_7B = ("qwen2", 28, 3584, 28, 4, 128, 18944, 152064, False)
_QWEN_14B = ("qwen2", 48, 5120, 40, 8, 128, 13824, 152064, False)
_QWEN_32B = ("qwen2", 64, 5120, 40, 8, 128, 27648, 152064, False)
_QWEN_72B = ("qwen2", 80, 8192, 64, 8, 128, 29568, 152064, False)
_LLAMA_8B = ("llama", 32, 4096, 32, 8, 128, 14336, 128256, False)
_LLAMA_70B = ("llama", 80, 8192, 64, 8, 128, 28672, 128256, False)
_MISTRAL_7B = ("mistral", 32, 4096, 32, 8, 128, 14336, 32000, False)
_GEMMA = {
    "270m": ("gemma3", 18, 640, 4, 1, 256, 2048, 262144, True),
    "1b": ("gemma3", 26, 1152, 4, 1, 256, 6912, 262144, True),
    "4b": ("gemma3", 34, 2560, 8, 4, 256, 10240, 262208, True),
    "12b": ("gemma3", 48, 3840, 16, 8, 256, 15360, 262208, True),
    "27b": ("gemma3", 62, 5376, 32, 16, 128, 21504, 262208, True),
}

ARCHITECTURES = {
    **{f"Qwen2.5-{s}{v}": a for s, a in (("0.5B", _QWEN_05B), ("1.5B", _QWEN_15B),
                                         ("3B", _QWEN_3B), ("7B", _QWEN_7B), ("14B", _QWEN_14B),
                                         ("32B", _QWEN_32B), ("72B", _QWEN_72B))
       for v in ("", "-Instruct")},
    **{f"Qwen2.5-Math-{s}{v}": a for s, a in (("1.5B", _QWEN_15B), ("7B", _QWEN_7B),
                                              ("72B", _QWEN_72B))
       for v in ("", "-Instruct")},
    "Llama-3.1-8B": _LLAMA_8B, "Llama-3.1-8B-Instruct": _LLAMA_8B,
    "Llama-3.1-70B": _LLAMA_70B, "Llama-3.1-70B-Instruct": _LLAMA_70B,
    **{f"gemma-3-{s}-{v}": a for s, a in _GEMMA.items() for v in ("pt", "it")},
    "Mistral-7B-v0.1": _MISTRAL_7B, "zephyr-7b-sft-full": _MISTRAL_7B,
    "zephyr-7b-dpo-full": _MISTRAL_7B,
}


def folder_name(key: str) -> str:
  """The HF folder name of a `PAPER_CHECKPOINTS` key (`qwen2.5-7b` -> `Qwen2.5-7B`)."""
  return PAPER_CHECKPOINTS[key].split("/")[-1]


def config_for(name: str) -> ModelConfig:
  """`ModelConfig` of a paper model, by HF folder name or `PAPER_CHECKPOINTS` key.

  Raises KeyError naming the model when it is not one of the paper's."""
  if name in PAPER_CHECKPOINTS:
    name = folder_name(name)
  if name not in ARCHITECTURES:
    raise KeyError(f"model {name!r} is not one of the paper's checkpoints "
                   f"(known: {', '.join(sorted(ARCHITECTURES))})")
  family, layers, hidden, heads, kv, head_dim, inter, vocab, tied = ARCHITECTURES[name]
  return ModelConfig(family=family, vocab_size=vocab, hidden_size=hidden, num_layers=layers,
                     num_heads=heads, num_kv_heads=kv, head_dim=head_dim,
                     intermediate_size=inter, tie_embeddings=tied,
                     qkv_bias=family == "qwen2", qk_norm=family == "gemma3")
