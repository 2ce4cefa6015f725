"""Bytes per chip of a model's weights, its sampler's KV cache and activations, and a
roofline estimate of a decode step. Pure arithmetic on a `ModelConfig`: no device.

The counts follow what the code allocates:

- weights: every parameter of `models.transformer.Transformer`, laid out by
  `models.sharding.spec_for` on a `('data', 'model')` mesh: a dimension goes
  on 'model' only when the axis divides it, otherwise it is replicated (8 KV
  heads on 16 devices are whole on every device); with FSDP the hidden
  dimension goes on 'data' too, and each use of a parameter gathers it whole
  over 'data' first (`fsdp_gather_bytes`: one layer, or the embedding / LM head,
  at a time, counted twice for the next one's prefetch);
- sampling (`sampling.api` / `sampling.decode`): a batch holds
  `P = max(1, max_rows // M)` prompts (rounded up to a multiple of the 'data'
  axis) and `R = P * M` rows. The prompt is prefilled once into a prompt cache
  `[L, P, T, K, Dh]` (T = the prompt's power-of-two bucket), and every row has
  its own cache `[L, R, N, K, Dh]` of its N = max_new_tokens generated tokens.
  Compaction copies the running rows (at most `R / 2`) into a new rows cache
  with one prompt-cache row each while the old ones are still alive, so the
  decode phase peaks at `P*T + R*N + R/2 * (T + N)` cache slots when
  compaction can happen (`R / 2 >= row_chunk * data`);
- activations: the logits `[rows, V]` in float32 (plus their model-dtype
  copy and the row-chunked sampling temporaries), and in the prefill the
  attention scores `[P, H, T, T]` (float32 + probabilities) and MLP width of
  one layer (the layers run in a `lax.scan`).

Per-chip figures divide a sharded dimension by its mesh axis; rows and prompts
go on 'data'. Shapes: L layers, D hidden, H heads, K KV heads, Dh head dim,
F MLP width, V vocabulary.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import types

from semcal_jax.models import sharding
from semcal_jax.models.config import ModelConfig
from semcal_jax.sampling import planning

DTYPE_BYTES = {"float32": 4, "bfloat16": 2}


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
  """`{parameter path: shape}` of the Transformer (stacked layers first)."""
  L, D, H, K = cfg.num_layers, cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads
  Dh, F, V = cfg.head_dim, cfg.intermediate_size, cfg.vocab_size
  shapes = {"embed": (V, D), "final_norm.scale": (D,),
            "blocks.input_norm.scale": (L, D), "blocks.pre_mlp_norm.scale": (L, D),
            "blocks.attn.q": (L, D, H, Dh), "blocks.attn.k": (L, D, K, Dh),
            "blocks.attn.v": (L, D, K, Dh), "blocks.attn.o": (L, H, Dh, D),
            "blocks.mlp.gate": (L, D, F), "blocks.mlp.up": (L, D, F),
            "blocks.mlp.down": (L, F, D)}
  if cfg.qkv_bias:
    shapes.update({"blocks.attn.q_bias": (L, H, Dh), "blocks.attn.k_bias": (L, K, Dh),
                   "blocks.attn.v_bias": (L, K, Dh)})
  if cfg.qk_norm:
    shapes.update({"blocks.attn.q_norm.scale": (L, Dh), "blocks.attn.k_norm.scale": (L, Dh)})
  if cfg.sandwich_norm:
    shapes.update({"blocks.post_attn_norm.scale": (L, D), "blocks.post_mlp_norm.scale": (L, D)})
  if not cfg.tie_embeddings:
    shapes["lm_head"] = (D, V)
  return shapes


def mesh_shape(data: int, model: int):
  """A stand-in for a `jax.sharding.Mesh` with only its axis sizes (no devices)."""
  return types.SimpleNamespace(shape={"data": data, "model": model})


@functools.cache
def local_shape(path: str, shape: tuple[int, ...], data: int, model: int,
                fsdp: bool = False) -> tuple[int, ...]:
  """The per-device shape of a parameter under `sharding.spec_for` (whose log line
  for each replicated dimension is silenced here: a plan asks thousands of times)."""
  mesh = mesh_shape(data, model)
  previous = logging.root.manager.disable
  logging.disable(logging.INFO)
  try:
    spec = sharding.spec_for(path, shape, mesh, fsdp)
  finally:
    logging.disable(previous)
  return tuple(d // mesh.shape[a] if a else d for d, a in zip(shape, tuple(spec) + (None,) * 8))


def weight_elements(cfg: ModelConfig, data: int, model: int, fsdp: bool = False,
                    matmul_only: bool = False) -> int:
  """Parameters one device holds (`matmul_only`: those multiplied per token)."""
  total = 0
  for path, shape in param_shapes(cfg).items():
    if matmul_only and (path.endswith(("scale", "_bias"))
                        or (path == "embed" and not cfg.tie_embeddings)):
      continue
    total += math.prod(local_shape(path, shape, data, model, fsdp))
  return total


def fsdp_gather_bytes(cfg: ModelConfig, data: int, model: int, dtype_bytes: int) -> int:
  """Bytes per device of the largest parameter group gathered over 'data' at once under
  FSDP: one layer's block parameters (the layers run in a scan) or the embedding / LM
  head; 0 when there is no 'data' axis to gather over."""
  if data == 1:
    return 0
  layer = head = 0
  for path, shape in param_shapes(cfg).items():
    whole = math.prod(local_shape(path, shape, data, model))  # 'model'-sharded only
    if path.startswith("blocks."):
      layer += whole // cfg.num_layers
    else:
      head = max(head, whole)
  return max(layer, head) * dtype_bytes


def _split(n: int, axis: int) -> int:
  """Per-device size of a dimension of n on an axis of `axis` devices (replicated if
  the axis does not divide it, as `sharding.spec_for` does)."""
  return n // axis if n % axis == 0 else n


@dataclasses.dataclass(frozen=True)
class SamplingMemory:
  """Bytes per chip of one compiled sampling batch, and its shape."""
  weights: int
  kv_cache: int  # the larger of the prefill and decode phases' caches
  activations: int  # of the same phase
  prompts: int  # P, per batch (whole mesh)
  rows: int  # R = P * M
  prompt_bucket: int  # T
  max_new_tokens: int  # N
  kv_heads_per_chip: int
  prefill_kv: int = 0  # cache bytes of the prefill phase
  decode_kv: int = 0  # and of the decode phase (compaction included)

  @property
  def total(self) -> int:
    return self.weights + self.kv_cache + self.activations


def batch_shape(max_rows: int, num_samples: int, data: int, n_questions: int = 0):
  """`(P, R)`: prompts and rows of a compiled batch, as `sampling.sample` makes them."""
  prompts = planning.prompts_per_batch(max_rows, num_samples, data, n_questions)
  return prompts, prompts * num_samples


def sampling_memory(cfg: ModelConfig, *, dtype: str, data: int, model: int, num_samples: int,
                    max_rows: int, max_new_tokens: int, prompt_bucket: int, row_chunk: int = 64,
                    n_questions: int = 0, fsdp: bool = False) -> SamplingMemory:
  """Per-chip bytes of sampling (module docstring) on a `data x model` mesh (`fsdp`:
  weights sharded over 'data' too, plus the gathered copies)."""
  b = DTYPE_BYTES[dtype]
  P, R = batch_shape(max_rows, num_samples, data, n_questions)
  T, N = prompt_bucket, max_new_tokens
  kv = local_shape("blocks.attn.k", param_shapes(cfg)["blocks.attn.k"], data, model)[2]
  heads = _split(cfg.num_heads, model)
  width = _split(cfg.intermediate_size, model)
  slot = cfg.num_layers * 2 * kv * cfg.head_dim * b + 4  # k and v of every layer + position
  p, r = P // data, R // data
  rows_state = r * N * 8  # generated ids (int32) and log-probs (float32)
  # Prefill: the empty prompt cache and the one the layer scan returns, the rows' cache.
  prefill_cache = 2 * p * T * slot + r * N * slot + rows_state
  d = cfg.hidden_size
  prefill_act = (4 * p * T * d * b + p * T * (heads + 2 * kv) * cfg.head_dim * b
                 + p * heads * T * T * (4 + b) + 3 * p * T * width * b + p * cfg.vocab_size * 4)
  # Decode: prompt cache + rows cache, and during a compaction their copies for <= R/2 rows.
  min_rows = planning.min_rows(row_chunk, data)
  half = 1 << ((R // 2).bit_length() - 1) if R >= 2 else 0
  decode_cache = p * T * slot + r * N * slot + rows_state
  if half >= min_rows:
    decode_cache += (half // data) * ((T + N) * slot + N * 8)
  chunk = min(row_chunk or r, r)
  decode_act = (r * cfg.vocab_size * (4 + b) + 3 * chunk * cfg.vocab_size * 4
                + 2 * r * heads * (T + N) * 4)
  gathered = 2 * fsdp_gather_bytes(cfg, data, model, b) if fsdp else 0
  prefill_act, decode_act = prefill_act + gathered, decode_act + gathered
  prefill_total, decode_total = prefill_cache + prefill_act, decode_cache + decode_act
  cache, act = ((prefill_cache, prefill_act) if prefill_total >= decode_total
                else (decode_cache, decode_act))
  return SamplingMemory(weights=weight_elements(cfg, data, model, fsdp) * b, kv_cache=cache,
                        activations=act, prompts=P, rows=R, prompt_bucket=T,
                        max_new_tokens=N, kv_heads_per_chip=kv, prefill_kv=prefill_cache,
                        decode_kv=decode_cache)


@dataclasses.dataclass(frozen=True)
class Roofline:
  """Estimated decode step of one batch (all rows running): a roofline, not a measurement."""
  bytes_per_step: float  # per chip
  flops_per_step: float  # per chip
  step_seconds: float
  tokens_per_second: float  # rows of the mesh / step time
  hbm_limit_tokens_per_second: float  # each byte read once, at full bandwidth, no FLOP bound

  @property
  def hbm_fraction(self) -> float:
    """Estimated tokens/s as a fraction of the HBM-bandwidth limit."""
    return self.tokens_per_second / self.hbm_limit_tokens_per_second


def decode_roofline(cfg: ModelConfig, mem: SamplingMemory, *, dtype: str, data: int,
                    model: int, hbm_bytes_per_s: float, peak_flops: float,
                    row_chunk: int | None = None) -> Roofline:
  """`max(bytes read / bandwidth, flops / peak)` of one decode step on one chip.

  The weights read are the 'model'-sharded ones whether or not FSDP stores them
  sharded over 'data' too (its gathered copies are what the matmuls read; the
  gathers' own traffic between chips is not counted). Batch-invariant matmuls
  (`row_chunk`) multiply the chip's rows in blocks of `row_chunk`, each block
  one GEMM that reads the matmul weights again: `ceil(rows / row_chunk)` reads
  instead of one. The HBM limit is the step that reads every byte once."""
  b = DTYPE_BYTES[dtype]
  rows = mem.rows // data
  slots = mem.prompts // data * mem.prompt_bucket + rows * mem.max_new_tokens
  kv_bytes = slots * cfg.num_layers * 2 * mem.kv_heads_per_chip * cfg.head_dim * b
  once = weight_elements(cfg, data, model) * b + kv_bytes + rows * cfg.vocab_size * 4
  blocks = -(-rows // row_chunk) if row_chunk else 1
  read = once + (blocks - 1) * weight_elements(cfg, data, model, matmul_only=True) * b
  heads = _split(cfg.num_heads, model)
  attn = 4 * rows * cfg.num_layers * heads * cfg.head_dim * (
      mem.prompt_bucket + mem.max_new_tokens)
  flops = 2 * rows * weight_elements(cfg, data, model, matmul_only=True) + attn
  step = max(read / hbm_bytes_per_s, flops / peak_flops)
  return Roofline(read, flops, step, mem.rows / step, mem.rows / (once / hbm_bytes_per_s))


@dataclasses.dataclass(frozen=True)
class TrainingMemory:
  """Bytes per chip of fine-tuning state and one micro-step's activations."""
  weights: int  # master (or frozen base) parameters, + the bf16 compute copy
  optimizer: int  # AdamW's two moments (float32)
  gradients: int  # float32
  reference: int  # a second copy for RL / DPO under full fine-tuning
  activations: int

  @property
  def total(self) -> int:
    return self.weights + self.optimizer + self.gradients + self.reference + self.activations


def training_memory(cfg: ModelConfig, *, dtype: str, compute_dtype: str, data: int, model: int,
                    fsdp: bool, lora_rank: int, lora_targets, needs_reference: bool,
                    sequences: int, seq_len: int, logit_chunk: int) -> TrainingMemory:
  """Per-chip bytes of `training.trainer.Trainer` (AdamW, float32 moments and gradients).

  Full fine-tuning trains every parameter (sharded like the weights, FSDP
  included); LoRA trains rank-r adapters on `lora_targets` (float32, not
  sharded) over the frozen base. `sequences` of `seq_len` tokens are one
  micro-batch of the whole mesh; the layers' saved activations and attention
  probabilities are kept for the backward pass, the logits in `logit_chunk`
  token chunks."""
  b, bc = DTYPE_BYTES[dtype], DTYPE_BYTES[compute_dtype]
  params = weight_elements(cfg, data, model, fsdp)
  weights = params * b + (params * bc if bc != b else 0)
  if lora_rank:
    d, f = cfg.hidden_size, cfg.intermediate_size
    q, kv = cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim
    dims = {"q": (d, q), "k": (d, kv), "v": (d, kv), "o": (q, d), "gate": (d, f), "up": (d, f),
            "down": (f, d)}  # (in, out) of each adapted projection
    trainable = sum(cfg.num_layers * lora_rank * sum(dims[t]) for t in lora_targets if t in dims)
    weights += trainable * 4
    reference = 0
  else:
    trainable = params
    reference = params * b if needs_reference else 0
  per_chip = -(-sequences // data)
  tokens = per_chip * seq_len
  heads = _split(cfg.num_heads, model)
  width = _split(cfg.intermediate_size, model)
  act = cfg.num_layers * (tokens * (10 * cfg.hidden_size + 3 * width) * bc
                          + per_chip * heads * seq_len * seq_len * (4 + bc))
  act += min(logit_chunk or tokens, tokens) * cfg.vocab_size * 4 * 2
  return TrainingMemory(weights=weights, optimizer=trainable * 8, gradients=trainable * 4,
                        reference=reference, activations=act)
