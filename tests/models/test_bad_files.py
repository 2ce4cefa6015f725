"""Bad model files (garbage, truncated, not JSON, missing) raise one-line InputErrors
that name the file."""

import json
import pathlib

import gguf
import numpy as np
import pytest
from safetensors.numpy import save_file

import semcal_jax.models as models
from semcal_jax.errors import InputError
from semcal_jax.models import config as config_lib
from semcal_jax.models import gguf_loader, gguf_metadata, hf_loader, loading, weights
from semcal_jax.models.tokenizer import Tokenizer, TokenizerError, TokenizerNotFoundError

_LLAMA = {"model_type": "llama", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 16,
          "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
          "tie_word_embeddings": True}
_GARBAGE = np.random.default_rng(0).bytes(4096)


def _one_line_naming(error: BaseException, path: pathlib.Path) -> None:
  message = str(error)
  assert isinstance(error, InputError), type(error)
  assert "\n" not in message and str(path) in message, message


def _hf_folder(folder: pathlib.Path) -> pathlib.Path:
  """config.json and a small (not model-sized) model.safetensors."""
  folder.mkdir()
  (folder / "config.json").write_text(json.dumps(_LLAMA))
  save_file({"model.embed_tokens.weight": np.zeros((16, 8), np.float32),
             "model.norm.weight": np.ones((8,), np.float32)}, str(folder / "model.safetensors"))
  return folder


def _gguf_file(path: pathlib.Path) -> pathlib.Path:
  """A GGUF file with a little metadata and one 16x8 float32 tensor."""
  writer = gguf.GGUFWriter(str(path), "llama")
  writer.add_block_count(1)
  writer.add_tensor("token_embd.weight", np.zeros((16, 8), np.float32))
  writer.write_header_to_file()
  writer.write_kv_data_to_file()
  writer.write_tensors_to_file()
  writer.close()
  return path


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_bad_safetensors_file_is_named(tmp_path, damage):
  folder = _hf_folder(tmp_path / "m")
  weights_file = folder / "model.safetensors"
  body = weights_file.read_bytes()
  weights_file.write_bytes({"garbage": _GARBAGE, "truncated": body[:len(body) // 2],
                            "empty": b""}[damage])
  with pytest.raises(hf_loader.CheckpointError) as e:
    models.load(folder, with_tokenizer=False, progress=False)
  _one_line_naming(e.value, weights_file)
  assert "not a readable safetensors file" in str(e.value)


@pytest.mark.parametrize("body, why", [(b"{not json", "not valid JSON"),
                                       (b'{"model_type": "caf\xe9"}', "not valid UTF-8"),
                                       (b"[1, 2]", "expected a JSON object"),
                                       (_GARBAGE, "not valid")])
def test_a_config_json_that_is_not_a_json_object_is_named(tmp_path, body, why):
  folder = _hf_folder(tmp_path / "m")
  (folder / "config.json").write_bytes(body)
  with pytest.raises(hf_loader.CheckpointError, match=why) as e:
    models.load(folder, with_tokenizer=False, progress=False)
  _one_line_naming(e.value, folder / "config.json")


def test_config_json_with_a_byte_order_mark_loads(tmp_path):
  folder = _hf_folder(tmp_path / "m")
  (folder / "config.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(_LLAMA).encode())
  cfg, tensors, _ = hf_loader.read(folder)
  assert cfg.family == "llama" and "model.norm.weight" in tensors.names()


@pytest.mark.parametrize("change, error, why", [
    ({"model_type": "gpt_neox"}, config_lib.ConfigError, "config.json: unknown model_type"),
    ({"hidden_size": "eight"}, config_lib.ConfigError, "config.json: unusable value"),
])
def test_a_config_json_with_bad_values_names_the_folder_and_file(tmp_path, change, error, why):
  folder = _hf_folder(tmp_path / "m")
  (folder / "config.json").write_text(json.dumps({**_LLAMA, **change}))
  with pytest.raises(error, match=why) as e:
    hf_loader.read(folder)
  _one_line_naming(e.value, folder)


def test_missing_hf_files_are_file_not_found_input_errors(tmp_path):
  folder = _hf_folder(tmp_path / "m")
  (folder / "model.safetensors").unlink()
  with pytest.raises(FileNotFoundError) as e:
    hf_loader.read(folder)
  _one_line_naming(e.value, folder)
  cfg = config_lib.ModelConfig.from_hf(_LLAMA)
  index = {"weight_map": {n: "model-00001-of-00001.safetensors"
                          for n in weights.expected_names(cfg)}}
  (folder / "model.safetensors.index.json").write_text(json.dumps(index))
  with pytest.raises(hf_loader.CheckpointNotFoundError, match="shard listed in the index") as e:
    models.load(folder, with_tokenizer=False, progress=False)
  _one_line_naming(e.value, folder / "model-00001-of-00001.safetensors")
  (folder / "config.json").unlink()
  with pytest.raises(hf_loader.CheckpointNotFoundError) as e:
    models.load(folder, with_tokenizer=False, progress=False)
  _one_line_naming(e.value, folder / "config.json")


@pytest.mark.parametrize("damage, why", [
    ("garbage", "is not a GGUF file"),
    ("header", "malformed GGUF metadata"),
    ("data", "tensor token_embd.weight runs past the end of the file"),
    ("empty", "is not a GGUF file"),
])
def test_a_garbage_or_truncated_gguf_is_named(tmp_path, damage, why):
  path = _gguf_file(tmp_path / "m.gguf")
  body = path.read_bytes()
  path.write_bytes({"garbage": _GARBAGE, "header": body[:40], "data": body[:-64],
                    "empty": b""}[damage])
  for load in (lambda: models.load(path, progress=False), lambda: Tokenizer.from_gguf(path)):
    with pytest.raises(gguf_loader.GGUFError, match=why) as e:
      load()
    _one_line_naming(e.value, path)


def test_gguf_errors_are_one_input_error_class(tmp_path):
  assert gguf_loader.GGUFError is gguf_metadata.GGUFError
  assert issubclass(gguf_loader.GGUFError, InputError)
  with pytest.raises(gguf_metadata.GGUFNotFoundError) as e:
    gguf_loader.read(tmp_path / "none.gguf")
  assert isinstance(e.value, FileNotFoundError)
  _one_line_naming(e.value, tmp_path / "none.gguf")
  path = _gguf_file(tmp_path / "weights_only.gguf")
  with pytest.raises(gguf_loader.GGUFError, match="GGUF metadata has no 'tokenizer.ggml.model'"):
    Tokenizer.from_gguf(path, use_cache=False)
  with pytest.raises(config_lib.ConfigError, match="missing metadata key") as e:
    gguf_loader.read(path)
  _one_line_naming(e.value, path)


def test_a_file_that_is_not_gguf_is_an_input_error(tmp_path):
  path = tmp_path / "weights.bin"
  path.write_bytes(_GARBAGE)
  with pytest.raises(loading.ModelFileError, match="not a .gguf file") as e:
    models.load(path, progress=False)
  _one_line_naming(e.value, path)
  with pytest.raises(config_lib.ConfigError, match="dtype"):
    models.load(path, dtype="float8", progress=False)


@pytest.mark.parametrize("body, why", [(None, r"tokenizer\.json not found"),
                                       (_GARBAGE, "not valid UTF-8"),
                                       (b"{oops", "not a valid tokenizer.json"),
                                       (b'{"version": "1.0"}', "not a valid tokenizer.json")])
def test_a_missing_or_garbage_tokenizer_json_is_named(tmp_path, body, why):
  folder = _hf_folder(tmp_path / "m")
  if body is not None:
    (folder / "tokenizer.json").write_bytes(body)
  with pytest.raises(TokenizerError, match=why) as e:
    Tokenizer.from_hf_folder(folder)
  _one_line_naming(e.value, folder / "tokenizer.json")
  assert isinstance(e.value, FileNotFoundError) == (body is None)
  assert isinstance(e.value, TokenizerNotFoundError) == (body is None)
