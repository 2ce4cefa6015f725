"""Tiny random `transformers` models of every supported family (test helper)."""

import numpy as np
import torch
import transformers as T

COMMON = dict(vocab_size=320, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)

FAMILIES = {
    "llama": (T.LlamaConfig, T.LlamaForCausalLM, dict(tie_word_embeddings=False)),
    "llama3-rope-scaling": (T.LlamaConfig, T.LlamaForCausalLM, dict(
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
        rope_theta=500000.0)),
    "smollm2-like": (T.LlamaConfig, T.LlamaForCausalLM, dict(
        tie_word_embeddings=True, num_attention_heads=3, num_key_value_heads=1,
        hidden_size=96, rope_theta=100000.0, rms_norm_eps=1e-5)),
    "qwen2": (T.Qwen2Config, T.Qwen2ForCausalLM, dict(tie_word_embeddings=True)),
    "qwen3": (T.Qwen3Config, T.Qwen3ForCausalLM, dict(head_dim=32, tie_word_embeddings=False)),
    "mistral": (T.MistralConfig, T.MistralForCausalLM, dict(sliding_window=16)),
    "gemma3": (T.Gemma3TextConfig, T.Gemma3ForCausalLM, dict(
        head_dim=32, sliding_window=16, query_pre_attn_scalar=24, rope_local_base_freq=10000.0,
        rope_theta=1e6, layer_types=["sliding_attention", "full_attention", "sliding_attention"])),
}


def build(family: str, seed: int = 0):
  """`(hf_model, config_dict, state_dict as numpy)`; norms randomised so offsets matter."""
  cfg_cls, model_cls, extra = FAMILIES[family]
  torch.manual_seed(seed)
  config = cfg_cls(**{**COMMON, **extra})
  config._attn_implementation = "eager"  # pylint: disable=protected-access
  model = model_cls(config).eval()
  with torch.no_grad():
    for name, p in model.named_parameters():
      if "norm" in name or name.endswith("bias"):
        p.add_(torch.randn_like(p) * 0.1)
  state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
  return model, config.to_dict(), state


def reference_logits(model, tokens: np.ndarray) -> np.ndarray:
  with torch.no_grad():
    return model(torch.tensor(np.asarray(tokens))).logits.float().numpy()
