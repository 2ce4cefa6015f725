"""Truncation rules equal transformers' warpers; inverse-CDF draws are exact."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from scipy import stats
from transformers.generation import logits_process as lp

from semcal_jax.sampling import distributions as dist


def _logits(seed, rows=4, vocab=1500):
  rng = np.random.default_rng(seed)
  x = rng.normal(0, 2.5, size=(rows, vocab)).astype(np.float32)
  x[:, :3] += 4  # a few dominant tokens
  return x


@pytest.mark.parametrize("params,warper", [
    (dist.SamplingParams(temperature=0.7, top_k=20),
     [lp.TemperatureLogitsWarper(0.7), lp.TopKLogitsWarper(20)]),
    (dist.SamplingParams(temperature=1.0, top_p=0.8),
     [lp.TopPLogitsWarper(0.8)]),
    (dist.SamplingParams(temperature=1.3, top_p=0.5, top_k=50),
     [lp.TemperatureLogitsWarper(1.3), lp.TopKLogitsWarper(50), lp.TopPLogitsWarper(0.5)]),
    (dist.SamplingParams(temperature=1.0, min_p=0.05),
     [lp.MinPLogitsWarper(0.05)]),
])
def test_truncation_keeps_the_same_tokens_as_transformers(params, warper):
  x = _logits(0)
  ours = np.asarray(dist.truncate(jnp.asarray(x), params))
  ref = torch.tensor(x)
  for w in warper:
    ref = w(None, ref)
  np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(ref.numpy()))
  kept = np.isfinite(ours)
  np.testing.assert_allclose(ours[kept], ref.numpy()[kept], rtol=1e-6)


def test_inverse_cdf_is_exact():
  x = jnp.asarray(_logits(1, rows=1, vocab=3000))  # several blocks of 512
  n = 200_000
  u = jax.random.uniform(jax.random.key(0), (1, n))
  draws = np.asarray(dist.inverse_cdf(x, u))[0]
  p = np.asarray(jax.nn.softmax(x[0])).astype(np.float64)
  expected = p / p.sum() * n
  big = expected >= 5
  observed = np.bincount(draws, minlength=p.size)
  chi = stats.chisquare(np.r_[observed[big], observed[~big].sum()],
                        np.r_[expected[big], expected[~big].sum()])
  assert chi.pvalue > 0.01
  assert observed[p == 0].sum() == 0


def test_zero_probability_tokens_are_never_drawn():
  x = np.full((2, 1100), -np.inf, np.float32)
  x[0, [3, 700]] = 0.0
  x[1, 1099] = 0.0
  u = jnp.asarray(np.linspace(0, 1, 101, endpoint=False)[None].repeat(2, 0), jnp.float32)
  draws = np.asarray(dist.inverse_cdf(jnp.asarray(x), u))
  assert set(draws[0]) == {3, 700} and set(draws[1]) == {1099}


def test_next_tokens_logprob_is_untruncated_and_greedy_is_argmax():
  x = jnp.asarray(_logits(2))
  u = jax.random.uniform(jax.random.key(1), (4, 8))
  params = dist.SamplingParams(temperature=0.5, top_k=5)
  tok, logp = dist.next_tokens(x, u, params)
  full = jax.nn.log_softmax(x / 0.5, axis=-1)
  np.testing.assert_allclose(logp, jnp.take_along_axis(full, tok, axis=-1), rtol=1e-5, atol=1e-6)
  greedy, _ = dist.next_tokens(x, u, dist.SamplingParams(greedy=True))
  assert (np.asarray(greedy) == np.asarray(jnp.argmax(x, -1))[:, None]).all()


@pytest.mark.parametrize("kwargs", [dict(temperature=0.0), dict(top_k=0), dict(top_p=1.5),
                                    dict(min_p=-0.1)])
def test_bad_parameters(kwargs):
  with pytest.raises(ValueError):
    dist.SamplingParams(**kwargs)
