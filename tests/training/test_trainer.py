"""The trainer on tiny models: SFT learns, log-probs are right (and agree with the
sampler's), accumulation / bf16 / sharding behave."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding

from semcal_jax.models import make_mesh
from semcal_jax.training import batches, lora, objectives, optim, rl
from semcal_jax.training.logprobs import continuation_logprobs
from semcal_jax.training.trainer import Trainer, shard_model, split_params

from tests.training import toy


def _sft_batch(n=16, seed=0):
  rng = np.random.default_rng(seed)
  prompts = [[toy.BOS] + rng.integers(0, 10, size=rng.integers(1, 4)).tolist() for _ in range(n)]
  conts = [[[(p[-1] + 1) % 10, (p[-1] + 2) % 10, toy.EOS]] for p in prompts]
  return batches.pack(prompts, conts)


def test_sft_loss_falls():
  tr = Trainer(toy.model(), objectives.NextToken(), optim.make(optim.OptimConfig(
      learning_rate=1e-2)))
  b = _sft_batch()
  losses = [tr.train_step(b)["loss"] for _ in range(25)]
  assert losses[-1] < 0.3 * losses[0], losses
  assert tr.step == 25


def test_logprobs_equal_full_sequence_forward():
  m = toy.model()
  prompts = [[toy.BOS, 3, 4, 5], [toy.BOS, 7]]
  conts = [[[1, 2, 3], [4]], [[5, 6], [7, 8, 9]]]
  b = batches.pack(prompts, conts)
  got = np.asarray(continuation_logprobs(m, {k: jnp.asarray(v) for k, v in b.items()}))
  chunked = np.asarray(continuation_logprobs(m, {k: jnp.asarray(v) for k, v in b.items()},
                                             logit_chunk=4))
  np.testing.assert_allclose(chunked, got, atol=1e-6)
  for e, p in enumerate(prompts):
    for s, c in enumerate(conts[e]):
      seq = jnp.asarray([p + c])
      lsm = np.asarray(jax.nn.log_softmax(m(seq), axis=-1))[0]
      want = [lsm[len(p) - 1 + t, tok] for t, tok in enumerate(c)]
      np.testing.assert_allclose(got[e, s, :len(c)], want, atol=2e-5)
  # Temperature: the tempered distribution.
  hot = np.asarray(continuation_logprobs(m, {k: jnp.asarray(v) for k, v in b.items()},
                                         temperature=2.0))
  lsm = np.asarray(jax.nn.log_softmax(m(jnp.asarray([prompts[0] + conts[0][0]])) / 2.0, -1))[0]
  np.testing.assert_allclose(hot[0, 0, 0], lsm[3, 1], atol=2e-5)


def test_gradient_accumulation_equals_one_batch():
  """4 microbatches, and 3 (8 examples padded to 9 with a masked-out copy): one update."""
  b = _sft_batch(8)
  out = []
  for accum in (1, 4, 3):
    tr = Trainer(toy.model(), objectives.NextToken(), optim.make(optim.OptimConfig(
        optimizer="sgd", b1=0.0, learning_rate=0.5, grad_clip=0.0)), grad_accum=accum)
    metrics = tr.train_step(b)
    out.append((metrics, tr.state.params))
  for metrics, params in out[1:]:
    assert abs(out[0][0]["loss"] - metrics["loss"]) < 1e-6
    assert metrics["units"] == out[0][0]["units"]  # the padding example counts for nothing
    for a, c in zip(jax.tree.leaves(out[0][1]), jax.tree.leaves(params)):
      np.testing.assert_allclose(a, c, atol=2e-6)


def test_bf16_compute_keeps_float32_masters():
  tr = Trainer(toy.model(), objectives.NextToken(), optim.make(optim.OptimConfig(
      learning_rate=1e-2)), compute_dtype="bfloat16")
  b = _sft_batch()
  losses = [tr.train_step(b)["loss"] for _ in range(10)]
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(tr.state.params))
  assert np.isfinite(losses).all() and losses[-1] < 0.7 * losses[0]
  with pytest.raises(ValueError, match="compute_dtype"):
    Trainer(toy.model(), objectives.NextToken(), optim.make(optim.OptimConfig()),
            compute_dtype="float16")


@pytest.mark.slow
def test_data_parallel_and_fsdp_on_eight_devices_match_one_device():
  b = _sft_batch(16)
  mk = lambda: optim.make(optim.OptimConfig(learning_rate=1e-2))
  single = Trainer(toy.model(), objectives.NextToken(), mk(), grad_accum=2)
  mesh = make_mesh(data=4, model=2)
  sharded = Trainer(shard_model(toy.model(), mesh, fsdp=True), objectives.NextToken(), mk(),
                    mesh=mesh, grad_accum=2)
  for _ in range(3):
    a, c = single.train_step(b), sharded.train_step(b)
    assert abs(a["loss"] - c["loss"]) < 1e-5
    # One compilation each: the state's shardings do not change between steps.
    assert single._step._cache_size() == sharded._step._cache_size() == 1  # pylint: disable=protected-access
  up = sharded.state.params["blocks"]["mlp"]["up"]
  assert isinstance(up.sharding, NamedSharding)
  assert tuple(up.sharding.spec)[1:] == ("data", "model")  # FSDP on D, tensor parallel on F
  for x, y in zip(jax.tree.leaves(single.state.params), jax.tree.leaves(sharded.state.params)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-5)


def _gap(tr, ro):
  batch = rl.policy_gradient_batch(ro, np.zeros((len(ro.prompts), ro.group_size)))
  lp = tr.logprobs(batch)
  return float(np.max(np.abs(lp - batch["sampler_logprobs"]) * batch["loss_mask"]))


@pytest.mark.parametrize("use_lora", [False, True])
def test_sampler_and_trainer_logprobs_agree(use_lora):
  """The sampler's log-probs of its own tokens equal the trainer's (fp32)."""
  m = toy.model(vocab=64, embed_scale=3.0)
  cfg = lora.LoraConfig(rank=4, alpha=8.0, targets=lora.ALL) if use_lora else None
  tr = Trainer(m, objectives.PolicyGradient(beta=0.0), optim.make(optim.OptimConfig(
      learning_rate=5e-2)), lora=cfg)
  prompts = [[toy.BOS] + list(range(2, 2 + n)) for n in (1, 5, 17, 3)]  # several lengths
  if use_lora:  # move the adapters off zero so that the merged path matters
    ro = rl.rollout(tr.policy_loaded(toy.loaded(m)), prompts, group_size=4, max_new_tokens=6,
                    stop_token_ids=(), seed=1)
    tr.train_step(rl.policy_gradient_batch(ro, np.random.default_rng(0).random((4, 4))))
  ro = rl.rollout(tr.policy_loaded(toy.loaded(m)), prompts, group_size=6, max_new_tokens=20,
                  stop_token_ids=(toy.EOS,), seed=7)
  lengths = [len(c) for row in ro.completions for c in row]
  assert min(lengths) < 20 and max(lengths) == 20, lengths  # stopped and full-length rows
  assert _gap(tr, ro) <= 1e-4


@pytest.mark.slow
def test_sampler_and_trainer_logprobs_agree_on_smollm2(smollm2, shared_data):
  """On a real model: SmolLM2-135M, GSM8K prompts, fp32 (the model shared by the test
  process: the LoRA trainer reads its parameters and never writes them)."""
  from semcal_jax.data import load_questions, prompts
  from semcal_jax.training import qa
  loaded = smollm2
  qs = load_questions("gsm8k", path=shared_data / "gsm8k", split="test", n_questions=3, seed=0)
  cfg = prompts.default_config()
  cfg.k_shot = 1
  ids = qa.prompt_ids(loaded.tokenizer, prompts.Prompter(cfg, dataset="gsm8k"), qs)
  tr = Trainer(loaded.model, objectives.NextToken(), optim.make(optim.OptimConfig()),
               lora=lora.LoraConfig(rank=2))
  ro = rl.rollout(tr.policy_loaded(loaded), ids, group_size=3, max_new_tokens=12, stop=("\n",),
                  seed=0)
  assert _gap(tr, ro) <= 1e-4


def test_split_params_and_state_checks():
  m = toy.model()
  graphdef, params = split_params(m)
  assert set(params) == {"blocks", "embed", "final_norm"}
  tr = Trainer(m, objectives.NextToken(), optim.make(optim.OptimConfig()))
  with pytest.raises(ValueError, match="does not match"):
    tr.set_state(Trainer(m, objectives.NextToken(), optim.make(optim.OptimConfig()),
                         lora=lora.LoraConfig(rank=2)).state)
  with pytest.raises(KeyError, match="advantages"):
    Trainer(m, objectives.PolicyGradient(beta=0.0), optim.make(optim.OptimConfig())).train_step(
        _sft_batch(4))
  del graphdef
