"""`gguf_metadata.read_metadata` against `gguf.GGUFReader`, on written and real files."""

import pathlib

import gguf
import pytest
from gguf import GGUFValueType as T

from semcal_jax.models import registry
from semcal_jax.models.gguf_metadata import read_metadata

try:  # the conftest module's name depends on how pytest was started
  from tests.conftest import require
except ImportError:
  from conftest import require

ALL_TYPES = [
    ("t.u8", 200, T.UINT8, None), ("t.i8", -100, T.INT8, None),
    ("t.u16", 60000, T.UINT16, None), ("t.i16", -30000, T.INT16, None),
    ("t.u32", 4_000_000_000, T.UINT32, None), ("t.i32", -2_000_000_000, T.INT32, None),
    ("t.u64", 2**63 + 5, T.UINT64, None), ("t.i64", -(2**62), T.INT64, None),
    ("t.f32", 0.1, T.FLOAT32, None), ("t.f64", 0.1, T.FLOAT64, None),
    ("t.bool", True, T.BOOL, None), ("t.str", "héllo, 世界", T.STRING, None),
    ("t.empty_str", "", T.STRING, None),
    ("t.arr_u8", [0, 255, 7], T.ARRAY, T.UINT8),
    ("t.arr_i32", [-1, 2, -3], T.ARRAY, T.INT32),
    ("t.arr_f32", [0.5, -1.25, 3.0], T.ARRAY, T.FLOAT32),
    ("t.arr_bool", [True, False], T.ARRAY, T.BOOL),
    ("t.arr_str", ["a", "", "ü ▁x", "<0x0A>"], T.ARRAY, T.STRING),
]


def write_gguf(path: pathlib.Path, kv, arch: str = "llama",
               endian: gguf.GGUFEndian = gguf.GGUFEndian.LITTLE) -> pathlib.Path:
  writer = gguf.GGUFWriter(str(path), arch, endianess=endian)
  for key, value, vtype, sub in kv:
    writer.add_key_value(key, value, vtype, sub_type=sub)
  writer.write_header_to_file()
  writer.write_kv_data_to_file()
  writer.write_tensors_to_file()
  writer.close()
  return path


def reader_contents(path) -> dict:
  fields = gguf.GGUFReader(str(path)).fields
  return {k: f.contents() for k, f in fields.items() if not k.startswith("GGUF.")}


@pytest.mark.parametrize("endian", [gguf.GGUFEndian.LITTLE, gguf.GGUFEndian.BIG])
def test_every_value_type_matches_gguf_reader(tmp_path, endian):
  path = write_gguf(tmp_path / "all.gguf", ALL_TYPES, endian=endian)
  got = read_metadata(path)
  assert got == reader_contents(path)
  assert list(got) == ["general.architecture"] + [k for k, *_ in ALL_TYPES]
  assert type(got["t.arr_f32"]) is list and type(got["t.arr_f32"][0]) is float
  assert type(got["t.bool"]) is bool and type(got["t.u64"]) is int
  assert got["t.u64"] == 2**63 + 5 and got["t.str"] == "héllo, 世界"


def test_nested_arrays_stay_nested(tmp_path):
  path = write_gguf(tmp_path / "nested.gguf", [("t.nested", [[1, 2], [3]], T.ARRAY, T.ARRAY)])
  assert read_metadata(path)["t.nested"] == [[1, 2], [3]]  # GGUFReader flattens this


def test_missing_file_names_the_path(tmp_path):
  with pytest.raises(FileNotFoundError, match="nope.gguf"):
    read_metadata(tmp_path / "nope.gguf")


def test_not_a_gguf_file_names_the_path(tmp_path):
  text = tmp_path / "notes.gguf"
  text.write_text("this is not a model, just some text long enough for a header\n")
  with pytest.raises(ValueError, match=r"notes\.gguf is not a GGUF file"):
    read_metadata(text)
  short = tmp_path / "short.gguf"
  short.write_bytes(b"GGUF")
  with pytest.raises(ValueError, match=r"short\.gguf is not a GGUF file"):
    read_metadata(short)
  with pytest.raises(ValueError, match="not a file"):
    read_metadata(tmp_path)


def test_unsupported_version(tmp_path):
  path = write_gguf(tmp_path / "v.gguf", ALL_TYPES[:1])
  data = bytearray(path.read_bytes())
  data[4:8] = (7).to_bytes(4, "little")
  path.write_bytes(bytes(data))
  with pytest.raises(ValueError, match="GGUF version 7 is not supported"):
    read_metadata(path)


def test_truncated_file_names_the_key(tmp_path):
  path = write_gguf(tmp_path / "cut.gguf", [("t.tokens", [f"tok{i}" for i in range(500)],
                                             T.ARRAY, T.STRING)])
  data = path.read_bytes()
  path.write_bytes(data[:len(data) // 2])
  with pytest.raises(ValueError, match=r"cut\.gguf: malformed GGUF metadata at key 't\.tokens'"):
    read_metadata(path)


def test_real_file_is_typed():
  """(Its speed against gguf.GGUFReader: experiments/bench_parsing.py.)"""
  try:
    path = registry.resolve("smollm2-135m-instruct")
  except registry.ModelNotFoundError as e:
    require(False, str(e))
  meta = read_metadata(path)
  assert meta["general.architecture"] == "llama"
  assert meta["tokenizer.ggml.model"] == "gpt2"
  assert len(meta["tokenizer.ggml.tokens"]) == 49152
  assert len(meta["tokenizer.ggml.merges"]) == 48900
  assert meta["llama.block_count"] == 30


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-135m-instruct", "gemma-3-270m"])
def test_real_files_match_gguf_reader(name):
  try:
    path = registry.resolve(name)
  except registry.ModelNotFoundError as e:
    require(False, str(e))
  assert read_metadata(path) == reader_contents(path)
