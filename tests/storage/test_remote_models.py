"""Models read from a (fake) gs:// bucket: HF folders, GGUF files, tokenizers included,
and checkpoints whose shard files have the same names."""

import shutil

import gguf
import numpy as np
import pytest
from gguf import GGUFValueType as T

import semcal_jax.models as models
from semcal_jax.models.tokenizer import Tokenizer

from tests.models import hf_reference
from tests.models.test_gguf_tokenizer import sentencepiece_kv
from tests.storage.fake_gcs import local_of

TOKENS = np.random.default_rng(0).integers(0, 300, size=(2, 12))


def _upload(folder, url, fake):
  shutil.copytree(folder, local_of(url, fake))
  return url


def test_remote_hf_folder_with_tokenizer(tiny_model, fake_gcs):
  url = _upload(tiny_model, f"{fake_gcs[0]}/models/tiny", fake_gcs)
  remote = models.load(url, progress=False)
  local = models.load(tiny_model, progress=False)
  assert remote.source == "hf" and remote.name == url
  np.testing.assert_array_equal(np.asarray(remote.logits(TOKENS)), np.asarray(local.logits(TOKENS)))
  text = "Question: What is the capital of France?\nAnswer:"
  assert remote.tokenizer.encode(text) == local.tokenizer.encode(text)
  messages = [{"role": "user", "content": "Hi"}]
  assert remote.tokenizer.apply_chat_template(messages) == local.tokenizer.apply_chat_template(
      messages)
  assert Tokenizer.from_spec(url).encode(text) == local.tokenizer.encode(text)


def test_same_shard_names_load_their_own_weights(tmp_path, fake_gcs):
  """A base / tuned pair: both folders have model-00001-of-0000N.safetensors."""
  refs = {}
  for name, seed in (("base", 0), ("instruct", 1)):
    hf_model, _, _ = hf_reference.build("qwen3", seed=seed)
    hf_model.save_pretrained(tmp_path / name, safe_serialization=True, max_shard_size="20KB")
    _upload(tmp_path / name, f"{fake_gcs[0]}/models/{name}", fake_gcs)
    refs[name] = hf_reference.reference_logits(hf_model, TOKENS)
  shards = sorted(p.name for p in (tmp_path / "base").glob("*.safetensors"))
  assert len(shards) > 1 and shards == sorted(
      p.name for p in (tmp_path / "instruct").glob("*.safetensors"))
  for name in ("base", "instruct", "base"):
    loaded = models.load(f"{fake_gcs[0]}/models/{name}", with_tokenizer=False, progress=False)
    assert np.abs(np.asarray(loaded.logits(TOKENS)) - refs[name]).max() <= 1e-4, name
  # A cached shard cut short (a killed copy) is noticed and fetched again.
  entry = max(models.registry.cache_dir().rglob("*.safetensors"), key=lambda p: p.stat().st_size)
  with open(entry, "r+b") as fh:
    fh.truncate(64)
  loaded = models.load(f"{fake_gcs[0]}/models/base", with_tokenizer=False, progress=False)
  assert np.abs(np.asarray(loaded.logits(TOKENS)) - refs["base"]).max() <= 1e-4


def _tiny_gguf(path):
  """A 2-layer llama-architecture GGUF (random float32 weights, a SentencePiece vocab)."""
  kv = sentencepiece_kv()
  vocab, d, heads, kv_heads, ff, layers = len(kv["tokenizer.ggml.tokens"][0]), 32, 4, 2, 48, 2
  hd = d // heads
  writer = gguf.GGUFWriter(str(path), "llama")
  for key, (value, vtype, sub) in kv.items():
    writer.add_key_value(key, value, vtype, sub_type=sub)
  for key, value in (("embedding_length", d), ("block_count", layers), ("feed_forward_length", ff),
                     ("attention.head_count", heads), ("attention.head_count_kv", kv_heads),
                     ("context_length", 256)):
    writer.add_key_value(f"llama.{key}", value, T.UINT32)
  writer.add_key_value("llama.attention.layer_norm_rms_epsilon", 1e-5, T.FLOAT32)
  rng = np.random.default_rng(0)
  w = lambda *shape: (rng.standard_normal(shape) * 0.2).astype(np.float32)
  writer.add_tensor("token_embd.weight", w(vocab, d))
  writer.add_tensor("output_norm.weight", 1 + w(d))
  for i in range(layers):
    for name, shape in (("attn_norm", (d,)), ("ffn_norm", (d,)), ("attn_q", (heads * hd, d)),
                        ("attn_k", (kv_heads * hd, d)), ("attn_v", (kv_heads * hd, d)),
                        ("attn_output", (d, heads * hd)), ("ffn_gate", (ff, d)),
                        ("ffn_up", (ff, d)), ("ffn_down", (d, ff))):
      writer.add_tensor(f"blk.{i}.{name}.weight", w(*shape))
  writer.write_header_to_file()
  writer.write_kv_data_to_file()
  writer.write_tensors_to_file()
  writer.close()
  return path


def test_remote_gguf_file_with_tokenizer(tmp_path, fake_gcs):
  local_file = _tiny_gguf(tmp_path / "tiny.gguf")
  url = f"{fake_gcs[0]}/models/tiny.gguf"
  target = local_of(url, fake_gcs)
  target.parent.mkdir(parents=True)
  shutil.copy(local_file, target)
  remote = models.load(url, progress=False)
  local = models.load(local_file, progress=False)
  assert remote.source == "gguf" and remote.config.num_layers == 2
  np.testing.assert_array_equal(np.asarray(remote.logits(TOKENS)), np.asarray(local.logits(TOKENS)))
  assert remote.tokenizer.encode("the quick brown fox") == local.tokenizer.encode(
      "the quick brown fox")
  assert Tokenizer.from_spec(url).vocab_size == local.tokenizer.vocab_size


def test_missing_remote_spec_is_named(fake_gcs):
  with pytest.raises(models.ModelNotFoundError, match=r"gs://bucket/models/nope.*no such file"):
    models.load(f"{fake_gcs[0]}/models/nope", progress=False)
