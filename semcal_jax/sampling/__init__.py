"""Pure-JAX sampler: M answers per question, prompt prefilled once, sharded, reproducible.

Pipeline position: models -> **sampling** -> semantic (B) -> calibration.

    result = semcal_jax.sampling.sample(loaded, prompts, num_samples=20, max_new_tokens=24,
                                        stop=("\\n",), seed=0)
    result.texts[q][m], result.token_ids[q][m], result.token_logprobs[q][m], result.finish_reasons
"""

from semcal_jax.sampling.api import SampleResult, bucket_length, host_share, sample, stable_id
from semcal_jax.sampling.distributions import SamplingParams

__all__ = ["SampleResult", "SamplingParams", "bucket_length", "host_share", "sample", "stable_id"]
