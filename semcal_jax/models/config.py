"""One dataclass describes every supported decoder family.

`ModelConfig.from_hf(config_json)` and `ModelConfig.from_gguf(metadata)` read a
checkpoint's own description, so any size of a family loads without
hand-copied numbers. Families (as `transformers` implements them):

| family  | specifics |
|---------|-----------|
| llama   | RMSNorm, SwiGLU, RoPE (+ Llama-3 scaling); SmolLM2 is a llama |
| mistral | llama + sliding-window attention |
| qwen2   | llama + q/k/v bias (Qwen2 and Qwen2.5) |
| qwen3   | llama + RMSNorm on q and k, explicit head_dim |
| gemma3  | (1 + w) RMSNorm, q/k norm, pre- and post-norms, sqrt(d) embedding scale, GeLU(tanh), local/global layers with own sliding window and RoPE bases |
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from semcal_jax import config_utils

FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "gemma3")
# model_type / general.architecture -> family
_ARCHITECTURES = {
    "llama": "llama", "mistral": "mistral", "qwen2": "qwen2", "qwen3": "qwen3",
    "gemma3": "gemma3", "gemma3_text": "gemma3",
}


# A checkpoint's configuration missing something or naming an unknown architecture is
# a config error like any other: the command-line tools print it as one line.
ConfigError = config_utils.ConfigError


@dataclasses.dataclass(frozen=True)
class RopeConfig:
  """Rotary embedding of one kind of layer."""
  theta: float = 10_000.0
  kind: str = "default"  # "default" | "linear" | "llama3"
  factor: float = 1.0
  low_freq_factor: float = 1.0  # llama3
  high_freq_factor: float = 4.0  # llama3
  original_max_position: int = 8192  # llama3


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Architecture of a decoder-only transformer. Shapes use these names:
  B batch, T sequence, D hidden_size, H num_heads, K num_kv_heads,
  Dh head_dim, F intermediate_size, V vocab_size, L num_layers."""
  family: str
  vocab_size: int
  hidden_size: int
  num_layers: int
  num_heads: int
  num_kv_heads: int
  head_dim: int
  intermediate_size: int
  rms_norm_eps: float = 1e-6
  rope: RopeConfig = RopeConfig()
  local_rope: RopeConfig | None = None  # gemma3 sliding-window layers
  sliding_window: int | None = None
  # Per layer: True = sliding-window ("local") attention. Empty = all global.
  local_layers: tuple[bool, ...] = ()
  tie_embeddings: bool = True
  qkv_bias: bool = False
  qk_norm: bool = False
  query_pre_attn_scalar: float | None = None  # attention scale = this ** -0.5
  max_position_embeddings: int = 8192

  def __post_init__(self):
    if self.family not in FAMILIES:
      raise ConfigError(f"family: unknown {self.family!r}; known: {', '.join(FAMILIES)}")
    if self.num_heads % self.num_kv_heads:
      raise ConfigError(f"num_heads ({self.num_heads}) must be a multiple of num_kv_heads "
                        f"({self.num_kv_heads})")
    if self.local_layers and len(self.local_layers) != self.num_layers:
      raise ConfigError(f"local_layers has {len(self.local_layers)} entries for "
                        f"{self.num_layers} layers")

  # --- family traits -------------------------------------------------------
  @property
  def is_gemma(self) -> bool:
    return self.family == "gemma3"

  @property
  def norm_offset(self) -> float:
    """Gemma's RMSNorm multiplies by (1 + w)."""
    return 1.0 if self.is_gemma else 0.0

  @property
  def sandwich_norm(self) -> bool:
    """Gemma normalises the outputs of attention and MLP too."""
    return self.is_gemma

  @property
  def activation(self) -> str:
    return "gelu_tanh" if self.is_gemma else "silu"

  @property
  def embed_scale(self) -> float:
    return math.sqrt(self.hidden_size) if self.is_gemma else 1.0

  @property
  def attn_scale(self) -> float:
    scalar = self.query_pre_attn_scalar or self.head_dim
    return scalar**-0.5

  def layer_is_local(self) -> tuple[bool, ...]:
    return self.local_layers or (bool(self.sliding_window),) * self.num_layers

  def num_params(self) -> int:
    d, f, h, k, dh = (self.hidden_size, self.intermediate_size, self.num_heads,
                      self.num_kv_heads, self.head_dim)
    attn = d * dh * (2 * h + 2 * k) + (dh * (h + 2 * k) if self.qkv_bias else 0)
    norms = d * (4 if self.sandwich_norm else 2) + (2 * dh if self.qk_norm else 0)
    per_layer = attn + 3 * d * f + norms
    head = 0 if self.tie_embeddings else d * self.vocab_size
    return self.num_layers * per_layer + self.vocab_size * d + d + head

  def replace(self, **kw) -> "ModelConfig":
    return dataclasses.replace(self, **kw)

  # --- readers ---------------------------------------------------------------
  @classmethod
  def from_hf(cls, cfg: Mapping[str, Any]) -> "ModelConfig":
    """From a Hugging Face `config.json` dict (old and transformers-5 rope formats)."""
    cfg = dict(cfg)
    if "text_config" in cfg and cfg.get("model_type") == "gemma3":
      cfg = {**cfg["text_config"], "model_type": "gemma3_text"}
    model_type = cfg.get("model_type")
    family = _ARCHITECTURES.get(model_type)
    if family is None:
      raise ConfigError(f"config.json: unknown model_type {model_type!r}; supported: "
                        f"{', '.join(sorted(_ARCHITECTURES))}")

    def need(key):
      if key not in cfg:
        raise ConfigError(f"config.json ({model_type}): missing key {key!r}")
      return cfg[key]

    d, h = need("hidden_size"), need("num_attention_heads")
    n_layers = need("num_hidden_layers")
    head_dim = cfg.get("head_dim") or d // h
    global_rope, local_rope = _hf_rope(cfg, family)
    sliding = cfg.get("sliding_window")
    local_layers: tuple[bool, ...] = ()
    if family == "gemma3":
      types = cfg.get("layer_types")
      if types is None:
        pattern = cfg.get("sliding_window_pattern", 6)
        types = ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention"
                 for i in range(n_layers)]
      local_layers = tuple(t == "sliding_attention" for t in types)
    elif family in ("qwen2", "qwen3"):
      if not cfg.get("use_sliding_window", False):
        sliding = None
      else:
        first = cfg.get("max_window_layers", n_layers)
        local_layers = tuple(i >= first for i in range(n_layers))
    return cls(
        family=family,
        vocab_size=need("vocab_size"),
        hidden_size=d,
        num_layers=n_layers,
        num_heads=h,
        num_kv_heads=cfg.get("num_key_value_heads") or h,
        head_dim=head_dim,
        intermediate_size=need("intermediate_size"),
        rms_norm_eps=cfg.get("rms_norm_eps", 1e-6),
        rope=global_rope,
        local_rope=local_rope,
        sliding_window=sliding if (family != "llama" and sliding) else None,
        local_layers=local_layers,
        tie_embeddings=cfg.get("tie_word_embeddings", family == "gemma3"),
        qkv_bias=family == "qwen2" or bool(cfg.get("attention_bias", False)),
        qk_norm=family in ("qwen3", "gemma3"),
        query_pre_attn_scalar=cfg.get("query_pre_attn_scalar") if family == "gemma3" else None,
        max_position_embeddings=cfg.get("max_position_embeddings", 8192),
    )

  @classmethod
  def from_gguf(cls, meta: Mapping[str, Any], *, tensor_names=()) -> "ModelConfig":
    """From GGUF metadata (llama.cpp key names)."""
    arch = meta.get("general.architecture")
    family = _ARCHITECTURES.get(arch)
    if family is None:
      raise ConfigError(f"GGUF: unknown general.architecture {arch!r}; supported: "
                        f"{', '.join(sorted(set(_ARCHITECTURES) - {'gemma3_text'}))}")

    def need(key):
      full = f"{arch}.{key}"
      if full not in meta:
        raise ConfigError(f"GGUF ({arch}): missing metadata key {full!r}")
      return meta[full]

    def get(key, default=None):
      return meta.get(f"{arch}.{key}", default)

    d, h, n_layers = need("embedding_length"), need("attention.head_count"), need("block_count")
    kv = get("attention.head_count_kv", h)
    head_dim = get("attention.key_length") or get("rope.dimension_count") or d // h
    vocab = get("vocab_size") or len(meta.get("tokenizer.ggml.tokens", ()))
    rope = RopeConfig(theta=float(get("rope.freq_base", 10_000.0)))
    scaling = get("rope.scaling.type")
    if scaling == "linear":
      rope = dataclasses.replace(rope, kind="linear", factor=float(get("rope.scaling.factor", 1)))
    local_rope, local_layers, sliding = None, (), get("attention.sliding_window")
    if family == "gemma3":
      local_rope = RopeConfig(theta=10_000.0)
      pattern = 6
      local_layers = tuple((i + 1) % pattern != 0 for i in range(n_layers))
    tied = "output.weight" not in set(tensor_names)
    return cls(
        family=family, vocab_size=int(vocab), hidden_size=d, num_layers=n_layers, num_heads=h,
        num_kv_heads=kv, head_dim=head_dim, intermediate_size=need("feed_forward_length"),
        rms_norm_eps=float(get("attention.layer_norm_rms_epsilon", 1e-6)), rope=rope,
        local_rope=local_rope, sliding_window=sliding if family in ("gemma3", "mistral") else None,
        local_layers=local_layers, tie_embeddings=tied,
        qkv_bias="blk.0.attn_q.bias" in set(tensor_names),
        qk_norm=family in ("qwen3", "gemma3"),
        query_pre_attn_scalar=_gguf_query_scalar(family, d, h, head_dim),
        max_position_embeddings=int(get("context_length", 8192)),
    )


def _gguf_query_scalar(family, d, h, head_dim):
  """GGUF has no query_pre_attn_scalar; like llama.cpp, Gemma 3 uses head_dim except
  for the 27B model (d = 5376), which uses d / heads."""
  if family != "gemma3":
    return None
  return float(d // h) if d == 5376 else float(head_dim)


def _rope_from(params: Mapping[str, Any], default_theta: float) -> RopeConfig:
  kind = params.get("rope_type", params.get("type", "default")) or "default"
  if kind not in ("default", "linear", "llama3"):
    raise ConfigError(f"rope_type {kind!r} is not supported (default, linear, llama3)")
  return RopeConfig(
      theta=float(params.get("rope_theta", default_theta)),
      kind=kind,
      factor=float(params.get("factor", 1.0)),
      low_freq_factor=float(params.get("low_freq_factor", 1.0)),
      high_freq_factor=float(params.get("high_freq_factor", 4.0)),
      original_max_position=int(params.get("original_max_position_embeddings", 8192)),
  )


def _hf_rope(cfg: Mapping[str, Any], family: str):
  """(global RopeConfig, local RopeConfig or None) from old or new HF formats."""
  theta = float(cfg.get("rope_theta", 10_000.0))
  params = cfg.get("rope_parameters")
  if family == "gemma3":
    local_theta = float(cfg.get("rope_local_base_freq", 10_000.0))
    if params and "full_attention" in params:
      return (_rope_from(params["full_attention"], theta),
              _rope_from(params.get("sliding_attention", {}), local_theta))
    glob = _rope_from({**(cfg.get("rope_scaling") or {}), "rope_theta": theta}, theta)
    return glob, RopeConfig(theta=local_theta)
  if params:
    return _rope_from(params, theta), None
  return _rope_from({**(cfg.get("rope_scaling") or {}), "rope_theta": theta}, theta), None
