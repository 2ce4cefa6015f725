"""Model zoo: one Flax NNX decoder for Llama, Mistral, Qwen2/2.5/3, Gemma 3, SmolLM2.

Pipeline position: **models** -> sampling -> semantic (B) -> calibration.

    loaded = semcal_jax.models.load("gemma-3-270m")       # or an HF folder / .gguf file
    logits = loaded.logits(tokens)                          # int32 [B, T] -> [B, T, V]
"""

from semcal_jax.models.config import ModelConfig, RopeConfig
from semcal_jax.models.loading import LoadedModel, load
from semcal_jax.models.registry import ModelNotFoundError
from semcal_jax.models.sharding import make_mesh
from semcal_jax.models.transformer import KVCache, Transformer, init_model

__all__ = ["KVCache", "LoadedModel", "ModelConfig", "ModelNotFoundError", "RopeConfig",
           "Transformer", "init_model", "load", "make_mesh"]
