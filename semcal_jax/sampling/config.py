"""`SamplerConfig`: everything that fixes the sampler's compiled programs.

One frozen value holds the next-token rule, the stop rules, the batching
limits (rows per batch, prompts per batch, prompt-length buckets), the
batch-invariant row blocks and how often the host checks for finished rows.
Two samplers with equal configs on the same model run the same compiled
programs (`decode.prefill`, `decode.decode` are cached by JAX on the
`DecodeSpec` this config derives), so the pipeline, the judge, RL rollouts and
calibration tracking built from one config share one set of compilations.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from semcal_jax.sampling import planning
from semcal_jax.sampling.decode import DecodeSpec
from semcal_jax.sampling.distributions import SamplingParams


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
  """How samples are drawn and batched (hashable; static for compilation).

  Attributes:
    num_samples: M samples per prompt.
    max_new_tokens: N, the most tokens a sample may have.
    params: the next-token rule (temperature, top-k/p, min-p, greedy).
    stop: stop strings; a sample ends at the first one (matched across tokens).
    stop_token_ids: ids that end a sample (None: the tokenizer's `stop_ids`).
    max_rows: rows (prompts x samples) per compiled batch.
    batch_size: prompts per compiled batch (None: as many as `max_rows` allows,
      at most all prompts). Fix it to reuse one compilation across calls with
      different numbers of prompts (short batches are padded).
    buckets: prompt-length buckets (None: powers of two and their midpoints,
      16, 24, 32, 48, 64, 96, ...).
    row_chunk: matmuls and row reductions run on row blocks of exactly this
      size, so that samples are bit-identical whatever the batch size or device
      count (None: plain matmuls, reproducible only for the same batching).
    segment: decode steps between the host's checks for finished rows.
  """
  num_samples: int
  max_new_tokens: int
  params: SamplingParams = SamplingParams()
  stop: tuple[str, ...] = ()
  stop_token_ids: tuple[int, ...] | None = None
  max_rows: int = 256
  batch_size: int | None = None
  buckets: tuple[int, ...] | None = None
  row_chunk: int | None = 64
  segment: int = 4

  def __post_init__(self):
    for name in ("num_samples", "max_new_tokens", "max_rows", "segment"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
    for name in ("batch_size", "row_chunk"):
      value = getattr(self, name)
      if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                or value < 1):
        raise ValueError(f"{name}: must be an integer >= 1 or None, got {value!r}")
    if self.buckets is not None and (not self.buckets or min(self.buckets) < 1):
      raise ValueError(f"buckets: must be positive lengths, got {self.buckets!r}")
    if isinstance(self.stop, str):
      raise ValueError(f"stop: a sequence of strings, got the string {self.stop!r}")

  @classmethod
  def create(cls, *, num_samples: int, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, min_p: float | None = None,
             greedy: bool = False, stop: Sequence[str] = (),
             stop_token_ids: Sequence[int] | None = None, max_rows: int = 256,
             batch_size: int | None = None, buckets: Sequence[int] | None = None,
             row_chunk: int | None = 64, segment: int = 4) -> "SamplerConfig":
    """A config from flat keyword arguments (sequences become tuples)."""
    params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                            greedy=greedy)
    return cls(num_samples=num_samples, max_new_tokens=max_new_tokens, params=params,
               stop=tuple(stop),
               stop_token_ids=None if stop_token_ids is None else tuple(map(int, stop_token_ids)),
               max_rows=max_rows, batch_size=batch_size,
               buckets=None if buckets is None else tuple(sorted(map(int, buckets))),
               row_chunk=row_chunk, segment=segment)

  def replace(self, **changes) -> "SamplerConfig":
    return dataclasses.replace(self, **changes)

  @property
  def decode_spec(self) -> DecodeSpec:
    return DecodeSpec(self.num_samples, self.max_new_tokens, self.params, bool(self.stop),
                      self.row_chunk)

  def min_rows(self, data_size: int) -> int:
    """The smallest row batch compaction goes down to (`planning.min_rows`)."""
    return planning.min_rows(self.row_chunk, data_size)
