"""Every family, tiny random weights, fp32: our logits equal transformers' (|Δ| <= 1e-4)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from semcal_jax.models import KVCache, ModelConfig, weights

from tests.models import hf_reference

# Longer than the sliding window (16) of mistral / gemma3.
PROMPT_LEN = 80

_forward = nnx.jit(lambda model, tokens, positions=None: model(tokens, positions))
_step = nnx.jit(lambda model, tokens, positions, cache, slot: model.step(tokens, positions, cache,
                                                                        slot))


@pytest.fixture(scope="module", params=sorted(hf_reference.FAMILIES))
def family(request):
  hf_model, config, state = hf_reference.build(request.param)
  cfg = ModelConfig.from_hf(config)
  ours = weights.fill_model(cfg, state.__getitem__, state.keys())
  return request.param, hf_model, cfg, ours


def test_full_sequence_logits_match(family):
  name, hf_model, cfg, ours = family
  tokens = np.random.default_rng(0).integers(0, cfg.vocab_size, size=(2, PROMPT_LEN))
  ref = hf_reference.reference_logits(hf_model, tokens)
  got = np.asarray(_forward(ours, jnp.asarray(tokens)))
  assert got.shape == ref.shape
  assert np.abs(got - ref).max() <= 1e-4, name


def test_cached_decode_equals_full_forward(family):
  """Prefill + one-token steps through the KV cache give the full-sequence logits."""
  _, hf_model, cfg, ours = family
  tokens = np.random.default_rng(1).integers(0, cfg.vocab_size, size=(2, 40))
  ref = hf_reference.reference_logits(hf_model, tokens)
  cache = KVCache.empty(cfg, 2, 48, jnp.float32)
  pos = jnp.broadcast_to(jnp.arange(24), (2, 24))
  logits, cache = _step(ours, jnp.asarray(tokens[:, :24]), pos, cache, 0)
  steps = [np.asarray(logits)]
  for t in range(24, 40):
    logits, cache = _step(ours, jnp.asarray(tokens[:, t:t + 1]), jnp.full((2, 1), t), cache, t)
    steps.append(np.asarray(logits))
  assert np.abs(np.concatenate(steps, axis=1) - ref).max() <= 1e-4


def test_left_padding_is_invisible(family):
  """A left-padded row (positions -1 on the pads) gives the unpadded logits."""
  _, _, cfg, ours = family
  tokens = np.random.default_rng(2).integers(0, cfg.vocab_size, size=(1, 30))
  plain = np.asarray(_forward(ours, jnp.asarray(tokens)))
  padded = np.concatenate([np.zeros((1, 7), np.int64), tokens], axis=1)
  positions = np.concatenate([np.full((1, 7), -1), np.arange(30)[None]], axis=1)
  got = np.asarray(_forward(ours, jnp.asarray(padded), jnp.asarray(positions)))[:, 7:]
  assert np.abs(got - plain).max() <= 1e-5


def test_bfloat16_runs_close_to_float32(family):
  _, _, cfg, ours = family
  _, _, state = hf_reference.build(family[0])
  bf16 = weights.fill_model(cfg, state.__getitem__, state.keys(), dtype=jnp.bfloat16)
  tokens = jnp.asarray(np.random.default_rng(3).integers(0, cfg.vocab_size, size=(1, 32)))
  a, b = np.asarray(_forward(ours, tokens)), np.asarray(_forward(bf16, tokens))
  assert jax.tree.leaves(jax.tree.map(lambda x: x.dtype, bf16.embed))[0] == jnp.bfloat16
  assert np.isfinite(b).all()
  assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99


def test_shared_prefix_equals_repeated_cache(family):
  """Decoding M rows against one shared prompt cache equals repeating it M times."""
  _, _, cfg, ours = family
  rng = np.random.default_rng(4)
  prompt = jnp.asarray(rng.integers(0, cfg.vocab_size, size=(2, 20)))
  pos = jnp.broadcast_to(jnp.arange(20), (2, 20))
  prefix = KVCache.empty(cfg, 2, 20, jnp.float32)
  _, prefix = _step(ours, prompt, pos, prefix, 0)
  m = 3
  nxt = jnp.asarray(rng.integers(0, cfg.vocab_size, size=(2 * m, 1)))
  npos = jnp.full((2 * m, 1), 20)
  shared = _step_prefix(ours, nxt, npos, KVCache.empty(cfg, 2 * m, 4, jnp.float32), 0, prefix)[0]
  full = KVCache.empty(cfg, 2, 24, jnp.float32)
  _, full = _step(ours, prompt, pos, full, 0)
  repeated = _step(ours, nxt, npos, full.repeat(m), 20)[0]
  assert np.abs(np.asarray(shared) - np.asarray(repeated)).max() <= 1e-5


_step_prefix = nnx.jit(lambda model, tokens, positions, cache, slot, prefix: model.step(
    tokens, positions, cache, slot, prefix))
