"""Pure-JAX sampler: M answers per question, prompt prefilled once, sharded, reproducible.

Pipeline position: models -> **sampling** -> semantic (B) -> calibration.

    config = semcal_jax.sampling.SamplerConfig.create(num_samples=20, max_new_tokens=24,
                                                      stop=("\\n",))
    sampler = semcal_jax.sampling.Sampler(loaded, config)  # reuse: one set of compilations
    result = sampler.sample(prompts, seed=0)  # or sampling.sample(loaded, prompts, ...)
    result.texts[q][m], result.token_ids[q][m], result.token_logprobs[q][m], result.finish_reasons
"""

from semcal_jax.sampling.api import SampleResult, Sampler, host_share, sample, stable_id
from semcal_jax.sampling.config import SamplerConfig
from semcal_jax.sampling.distributions import SamplingParams
from semcal_jax.sampling.planning import bucket_length

__all__ = ["SampleResult", "Sampler", "SamplerConfig", "SamplingParams", "bucket_length",
           "host_share", "sample", "stable_id"]
