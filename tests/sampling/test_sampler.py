"""The sampler on a tiny random model with a real tokenizer: stops, reproducibility,
batch- and device-invariance, one compilation per bucket."""

import jax.numpy as jnp
import numpy as np
import pytest

from semcal_jax import sampling
from semcal_jax.models import ModelConfig, init_model, make_mesh, registry
from semcal_jax.models.loading import LoadedModel

from tests.conftest import require

PROMPTS = ["Question: What is the capital of France?\nAnswer:", "The sea is", "1, 2, 3,",
           "Once upon a time", "Q: Who wrote Hamlet?\nA:", "Translate: chat ->"] * 3


@pytest.fixture(scope="module")
def tiny():
  try:
    registry.resolve("smollm2-135m-instruct")
  except registry.ModelNotFoundError as e:
    require(False, str(e))
  from semcal_jax.models.tokenizer import Tokenizer
  tok = Tokenizer.from_spec("smollm2-135m-instruct")
  cfg = ModelConfig(family="llama", vocab_size=tok.vocab_size, hidden_size=64, num_layers=2,
                    num_heads=4, num_kv_heads=2, head_dim=16, intermediate_size=128)
  model = init_model(cfg, seed=0)
  # Sharpen the random model so that samples are neither uniform nor constant.
  model.embed.set_value(model.embed.get_value() * 10.0)
  return LoadedModel(model=model, tokenizer=tok, config=cfg, mesh=None, dtype=jnp.float32,
                     name="tiny", source="test")


def _run(tiny, **kw):
  args = dict(num_samples=8, max_new_tokens=12, seed=3, progress=False)
  args.update(kw)
  return sampling.sample(tiny, PROMPTS, **args)


def test_same_seed_same_samples_different_seed_different(tiny):
  a, b, c = _run(tiny), _run(tiny), _run(tiny, seed=4)
  np.testing.assert_array_equal(a.tokens, b.tokens)
  assert not np.array_equal(a.tokens, c.tokens)
  assert a.tokens.shape == (len(PROMPTS), 8, 12)
  # Identical prompts with different question ids draw different samples.
  assert not np.array_equal(a.tokens[0], a.tokens[6])


def test_batch_size_does_not_change_samples(tiny):
  one = _run(tiny, max_rows=8)  # one prompt per batch
  sixteen = _run(tiny, max_rows=16 * 8)
  np.testing.assert_array_equal(one.tokens, sixteen.tokens)
  np.testing.assert_allclose(one.logprobs, sixteen.logprobs, atol=1e-5)
  assert one.texts == sixteen.texts


def test_device_count_does_not_change_samples(tiny):
  single = _run(tiny)
  mesh = make_mesh(data=8, model=1)
  sharded = _run(tiny, mesh=mesh)
  np.testing.assert_array_equal(single.tokens, sharded.tokens)
  np.testing.assert_allclose(single.logprobs, sharded.logprobs, atol=1e-5)


def test_question_ids_fix_samples_independent_of_order(tiny):
  fwd = sampling.sample(tiny, PROMPTS[:4], num_samples=4, max_new_tokens=6, seed=1,
                        question_ids=["a", "b", "c", "d"], progress=False)
  rev = sampling.sample(tiny, PROMPTS[:4][::-1], num_samples=4, max_new_tokens=6, seed=1,
                        question_ids=["d", "c", "b", "a"], progress=False)
  np.testing.assert_array_equal(fwd.tokens, rev.tokens[::-1])


def test_stop_strings_and_tokens_end_rows(tiny):
  tok = tiny.tokenizer
  stop = ("e", " t")
  free = _run(tiny, max_new_tokens=16)
  # The stop token: the commonest first token free of the stop strings (so that some
  # rows end on it before any stop string can end them).
  firsts = [int(row[0]) for q_rows in free.token_ids for row in q_rows
            if not any(s in tok.decode([int(row[0])]) for s in stop)]
  stop_ids = [max(set(firsts), key=firsts.count)]
  res = _run(tiny, stop=stop, stop_token_ids=stop_ids, max_new_tokens=16)
  reasons = {r for row in res.finish_reasons for r in row}
  assert reasons == {"stop_string", "stop_token", "length"}, reasons
  for q in range(len(PROMPTS)):
    for m in range(8):
      ids = res.token_ids[q][m].tolist()
      reason, text = res.finish_reasons[q][m], res.texts[q][m]
      full = tok.decode(ids)
      if reason == "stop_string":
        assert any(s in full for s in stop)
        assert not any(s in tok.decode(ids[:-1]) for s in stop)  # the last token completed it
        assert not any(s in text for s in stop) and full.startswith(text)
        assert ids[-1] not in stop_ids
      elif reason == "stop_token":
        assert ids[-1] in stop_ids and not any(t in stop_ids for t in ids[:-1])
        assert text == tok.decode(ids[:-1])
      else:
        assert reason == "length" and len(ids) == 16
        assert not any(s in full for s in stop) and not set(ids) & set(stop_ids)
      assert np.all(res.tokens[q, m, len(ids):] == 0)  # nothing after the end
      assert np.all(res.logprobs[q, m, len(ids):] == 0)
      assert np.all(res.logprobs[q, m, :len(ids)] <= 0)


def test_one_compilation_per_bucket(tiny):
  kw = dict(num_samples=2, max_new_tokens=3, seed=9, progress=False, max_rows=4)
  sampling.sample(tiny, ["a b c", "a b c d e f g h"], **kw)
  same = sampling.sample(tiny, ["x y", "one two three four five six seven"], **kw)  # bucket 16
  assert same.stats["compilations"] == 0 and same.stats["compile_seconds"] == 0
  longer = sampling.sample(tiny, ["word " * 20, "more words " * 9], **kw)  # a new bucket
  assert longer.stats["compilations"] > 0 and longer.stats["compile_seconds"] > 0


def test_one_sampler_for_many_calls(tiny):
  config = sampling.SamplerConfig.create(num_samples=3, max_new_tokens=4, stop=("\n",))
  sampler = sampling.Sampler(tiny, config)
  first = sampler.sample(PROMPTS[:2], seed=4, progress=False)
  again = sampler.sample(PROMPTS[:2], seed=4, progress=False)
  assert again.stats["compilations"] == 0
  np.testing.assert_array_equal(first.tokens, again.tokens)
  direct = sampling.sample(tiny, PROMPTS[:2], num_samples=3, max_new_tokens=4, stop=("\n",),
                           seed=4, progress=False)
  np.testing.assert_array_equal(first.tokens, direct.tokens)
  assert direct.stats["compilations"] == 0  # same config: the same compiled programs


def test_buckets_and_ids():
  assert [sampling.bucket_length(n) for n in (1, 16, 17, 24, 25, 140, 193)] == [
      16, 16, 24, 24, 32, 192, 256]
  assert sampling.bucket_length(100, buckets=[64, 128, 512]) == 128
  with pytest.raises(ValueError, match="largest bucket"):
    sampling.bucket_length(600, buckets=[64, 512])
  assert sampling.stable_id("q1") == sampling.stable_id("q1") != sampling.stable_id("q2")


def test_bad_arguments(tiny):
  with pytest.raises(ValueError, match="num_samples"):
    sampling.sample(tiny, PROMPTS, num_samples=0, max_new_tokens=4)
  with pytest.raises(ValueError, match="question_ids"):
    sampling.sample(tiny, PROMPTS, num_samples=1, max_new_tokens=4, question_ids=[1])
  with pytest.raises(ValueError, match="temperature"):
    sampling.sample(tiny, PROMPTS, num_samples=1, max_new_tokens=4, temperature=0.0)
