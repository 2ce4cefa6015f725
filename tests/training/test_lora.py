"""LoRA: the functional delta, merge / unmerge, and training that leaves the base bit-identical."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from semcal_jax.training import batches, lora, objectives, optim
from semcal_jax.training.trainer import Trainer, split_params

from tests.training import toy


def _params():
  return split_params(toy.model())[1]


def test_zero_b_reproduces_base_and_delta_matches_explicit_product():
  params = _params()
  cfg = lora.LoraConfig(rank=3, alpha=6.0, targets=lora.ALL)
  ad = lora.init(params, cfg, jax.random.key(0))
  assert ad["q"]["a"].shape == (2, 32, 3) and ad["q"]["b"].shape == (2, 3, 4 * 8)
  assert ad["o"]["a"].shape == (2, 4 * 8, 3) and ad["o"]["b"].shape == (2, 3, 32)
  merged = lora.merge(params, ad, cfg)
  for a, b in zip(jax.tree.leaves(merged), jax.tree.leaves(params)):
    np.testing.assert_array_equal(a, b)
  rng = np.random.default_rng(0)
  ad = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape), jnp.float32), ad)
  merged = lora.merge(params, ad, cfg)
  for target in ("q", "o", "down"):
    path = lora.TARGETS[target][0]
    w = params[path[0]][path[1]][path[2]]
    got = merged[path[0]][path[1]][path[2]]
    for layer in range(2):
      want = np.asarray(w[layer]).reshape(ad[target]["a"].shape[1], -1) + 2.0 * (
          np.asarray(ad[target]["a"][layer]) @ np.asarray(ad[target]["b"][layer]))
      np.testing.assert_allclose(np.asarray(got[layer]).reshape(want.shape), want, rtol=1e-5,
                                 atol=1e-5)
  # Untargeted leaves are the very same arrays (shared, not copied); the base is untouched.
  assert merged["embed"] is params["embed"]
  back = lora.unmerge(merged, ad, cfg)
  for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params)):
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_config_errors():
  with pytest.raises(ValueError, match="lora.rank"):
    lora.LoraConfig(rank=0)
  with pytest.raises(ValueError, match="unknown"):
    lora.LoraConfig(targets=("q", "qkv"))
  with pytest.raises(ValueError, match="alpha"):
    lora.LoraConfig(alpha=0)
  assert lora.from_config({"rank": 0}) is None
  assert lora.from_config({"rank": 4, "targets": ["q"]}).scale == 2.0
  bad = {"q": {"a": jnp.zeros((2, 5, 1)), "b": jnp.zeros((2, 1, 32))}}
  with pytest.raises(ValueError, match="do not fit"):
    lora.merge(_params(), bad, lora.LoraConfig(rank=1, targets=("q",)))


def test_lora_training_changes_only_adapters():
  m = toy.model()
  base_before = jax.tree.map(lambda x: np.array(x, copy=True), split_params(m)[1])
  cfg = lora.LoraConfig(rank=4, alpha=8.0, targets=("q", "v", "up", "down"))
  tr = Trainer(m, objectives.PolicyGradient(beta=0.1), optim.make(
      optim.OptimConfig(learning_rate=1e-2)), lora=cfg)
  prompts = [[toy.BOS, a] for a in range(2, 10)]
  b = batches.pack(prompts, [[[(a + 1) % 16, 3], [(a + 5) % 16, 4]] for _, a in prompts])
  b["advantages"] = np.tile(np.array([[1.0, -1.0]], np.float32), (8, 1))
  adapters_before = jax.tree.map(np.asarray, tr.state.params)
  ref_before = tr.logprobs(b, "reference")
  for _ in range(4):
    out = tr.train_step(b)
  assert out["kl_k3"] > 0  # the policy moved away from the reference
  # Base parameters: the trainer's frozen tree and the model's own are bit-identical.
  for got, want in zip(jax.tree.leaves(tr.frozen), jax.tree.leaves(base_before)):
    np.testing.assert_array_equal(np.asarray(got), want)
  for got, want in zip(jax.tree.leaves(split_params(m)[1]), jax.tree.leaves(base_before)):
    np.testing.assert_array_equal(np.asarray(got), want)
  # The reference is the base itself (no second copy) and scores as before.
  assert tr.reference is tr.frozen
  np.testing.assert_array_equal(tr.logprobs(b, "reference"), ref_before)
  # Every adapter changed; the merged policy differs from the base only where targeted.
  for k, v in tr.state.params.items():
    assert not np.array_equal(np.asarray(v["b"]), adapters_before[k]["b"]), k
  merged = tr.params()
  assert not np.array_equal(np.asarray(merged["blocks"]["attn"]["q"]),
                            base_before["blocks"]["attn"]["q"])
  np.testing.assert_array_equal(np.asarray(merged["blocks"]["attn"]["k"]),
                                base_before["blocks"]["attn"]["k"])
  assert tr.num_trainable() == lora.num_params(tr.state.params)
