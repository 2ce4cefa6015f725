import numpy as np
import pytest

from semcal_jax import sampling
from semcal_jax.sampling import planning


def test_batches_sorted_by_length_and_padded():
  lengths = [30, 5, 17, 5, 40]
  batches = planning.plan_batches(lengths, per_batch=2)
  assert [b.members for b in batches] == [(1, 3), (2, 0), (4,)]
  assert [b.width for b in batches] == [16, 32, 48]
  assert batches[-1].rows == [4, 4]  # the short last batch repeats its first prompt
  ids = [[7] * n for n in lengths]
  tokens, positions = planning.left_padded(ids, batches[1])
  assert tokens.shape == (2, 32)
  assert np.all(tokens[0, -17:] == 7) and np.all(tokens[0, :-17] == 0)
  np.testing.assert_array_equal(positions[1], np.concatenate([[-1, -1], np.arange(30)]))


def test_prompts_per_batch():
  assert planning.prompts_per_batch(256, 32, 1) == 8
  assert planning.prompts_per_batch(256, 32, 1, n_prompts=3) == 3
  assert planning.prompts_per_batch(256, 32, 4, n_prompts=3) == 4  # whole prompts per device
  assert planning.prompts_per_batch(256, 32, 1, n_prompts=3, batch_size=6) == 6
  assert planning.prompts_per_batch(8, 32, 1) == 1


def test_config_checks_and_spec():
  cfg = sampling.SamplerConfig.create(num_samples=4, max_new_tokens=8, stop=["\n"], top_k=5,
                                      buckets=[128, 64])
  assert cfg.stop == ("\n",) and cfg.buckets == (64, 128) and hash(cfg) == hash(cfg.replace())
  assert cfg.decode_spec.has_stop_strings and cfg.decode_spec.params.top_k == 5
  assert cfg.min_rows(2) == 128 and cfg.replace(row_chunk=None).min_rows(2) == 16
  for bad, name in [(dict(num_samples=0), "num_samples"), (dict(max_rows=True), "max_rows"),
                    (dict(row_chunk=0), "row_chunk"), (dict(buckets=()), "buckets")]:
    with pytest.raises(ValueError, match=name):
      sampling.SamplerConfig(**{"num_samples": 1, "max_new_tokens": 1, **bad})
