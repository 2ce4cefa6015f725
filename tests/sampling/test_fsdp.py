"""The sampler on weights loaded with FSDP (the hidden dimension sharded over 'data' as
well as heads, MLP and vocabulary over 'model') on a 2 x 4 mesh of the 8 fake CPU
devices: GSPMD gathers the weights, and the samples are those of one device."""

import numpy as np
import pytest
from flax import nnx
from jax.sharding import PartitionSpec as P

from semcal_jax import models, sampling

from tests.pipeline.fixtures import tiny_model_folder

PROMPTS = ["Question: What is the capital of France?\nAnswer:", "The sea is", "1, 2, 3,",
           "Once upon a time"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  # 4 KV heads split over the 4-way 'model' axis (as a 70B's 8 over 8 chips); an untied,
  # sharpened LM head for varied samples.
  return tiny_model_folder(tmp_path_factory.mktemp("fsdp_model"), num_key_value_heads=4,
                           tie_word_embeddings=False, head_scale=60.0)


def test_fsdp_weights_on_a_2x4_mesh_sample_as_one_device(folder):
  sharded = models.load(folder, mesh=models.make_mesh(data=2, model=4), fsdp=True,
                        progress=False)
  params = nnx.state(sharded.model)
  assert params["blocks"]["attn"]["k"].get_value().sharding.spec == P(None, "data", "model",
                                                                      None)
  assert params["lm_head"].get_value().sharding.spec == P("data", "model")
  kw = dict(num_samples=4, max_new_tokens=8, seed=3, max_rows=16, stop=("\n",),
            progress=False)
  want = sampling.sample(models.load(folder, progress=False), PROMPTS, **kw)
  got = sampling.sample(sharded, PROMPTS, **kw)
  assert len(np.unique(want.tokens)) > 50  # varied samples, not one repeated token
  np.testing.assert_array_equal(got.tokens, want.tokens)
  assert got.texts == want.texts and got.finish_reasons == want.finish_reasons
  # The hidden-dimension contractions are split over 'data': log-probs agree to rounding.
  np.testing.assert_allclose(got.logprobs, want.logprobs, rtol=0, atol=1e-5)
