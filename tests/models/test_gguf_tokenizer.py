"""`gguf_tokenizer` on small GGUF files written here: builders, cache, errors.

The builders are compared with transformers' own GGUF tokenizer conversion
(`transformers.integrations.gguf`) on vocabularies we write: SentencePiece
(llama, Gemma, Phi-3 flavours) and byte-level BPE with several `tokenizer.ggml.pre`.
"""

import os

import gguf
import pytest
from gguf import GGUFValueType as T

from semcal_jax.models import gguf_tokenizer
from semcal_jax.models.tokenizer import Tokenizer

WORDS = ("the quick brown fox jumps over the lazy dog then they thought through three "
         "theories 2024 can't").split()
SP_TEXTS = ["the quick brown fox", " the  lazy dog", "théory 😀 x", "<think>they</think> 2024",
            "a\nb\tc", "  ", "<|eot_id|>the end"]
BPE_TEXTS = ["the quick 123 12345", "  the\n\nthe's can't", "北京 <|im_end|> x",
             "Ünïcödé  42\t\t7", "<|endoftext|><|im_start|>the", "    ", "a  1 22  333"]


def write_gguf(path, kv, arch="llama"):
  writer = gguf.GGUFWriter(str(path), arch)
  for key, (value, vtype, sub) in kv.items():
    writer.add_key_value(key, value, vtype, sub_type=sub)
  writer.write_header_to_file()
  writer.write_kv_data_to_file()
  writer.write_tensors_to_file()
  writer.close()
  return path


def sentencepiece_kv(gemma=False):
  pieces = set("abcdefghijklmnopqrstuvwxyz'0123456789") | {"▁"}
  for word in WORDS:
    spelled = "▁" + word
    for i in range(len(spelled)):
      for j in range(i + 2, min(len(spelled), i + 5) + 1):
        pieces.add(spelled[i:j])
  pieces = sorted(pieces, key=lambda p: (len(p), p))
  spaces = ["  ", "   "] if gemma else []
  tokens = (["<pad>", "<eos>", "<bos>", "<unk>", "<|eot_id|>", "<think>", "</think>", *spaces]
            + [f"<0x{b:02X}>" for b in range(256)] + pieces)
  types = [3, 3, 3, 2, 3, 4, 4] + [4] * len(spaces) + [6] * 256 + [1] * len(pieces)
  # Many equal scores: ties are where merge orders differ.
  scores = [0.0] * (7 + len(spaces) + 256) + [-float(len(p) // 2) for p in pieces]
  return {
      "tokenizer.ggml.model": ("llama", T.STRING, None),
      "tokenizer.ggml.tokens": (tokens, T.ARRAY, T.STRING),
      "tokenizer.ggml.scores": (scores, T.ARRAY, T.FLOAT32),
      "tokenizer.ggml.token_type": (types, T.ARRAY, T.INT32),
      "tokenizer.ggml.bos_token_id": (2, T.UINT32, None),
      "tokenizer.ggml.eos_token_id": (1, T.UINT32, None),
      "tokenizer.ggml.unknown_token_id": (3, T.UINT32, None),
      "tokenizer.ggml.padding_token_id": (0, T.UINT32, None),
  }


def byte_level_kv(pre):
  letters = list(gguf_tokenizer.byte_alphabet().values())
  vocab, merges = list(letters), []
  for word in ["Ġthe", "the", "Ġquick", "12", "123", "ĠĠ", "ĠĠĠ", "ĊĊ", "'s", "Ġ1", "can", "'t"]:
    parts = list(word)
    while len(parts) > 1:
      if f"{parts[0]} {parts[1]}" not in merges:
        merges.append(f"{parts[0]} {parts[1]}")
        vocab.append(parts[0] + parts[1])
      parts[:2] = [parts[0] + parts[1]]
  control = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|控制|>"]
  tokens = control + vocab + ["北京"]
  types = [3] * len(control) + [1] * (len(vocab) + 1)
  return {
      "tokenizer.ggml.model": ("gpt2", T.STRING, None),
      "tokenizer.ggml.pre": (pre, T.STRING, None),
      "tokenizer.ggml.tokens": (tokens, T.ARRAY, T.STRING),
      "tokenizer.ggml.token_type": (types, T.ARRAY, T.INT32),
      "tokenizer.ggml.merges": (merges, T.ARRAY, T.STRING),
      "tokenizer.ggml.eos_token_id": (2, T.UINT32, None),
  }


def transformers_backend(path):
  conversion = pytest.importorskip("transformers.integrations.gguf")
  architecture, tokenizer_dict, _ = conversion.get_gguf_tokenizer(str(path))
  backend, _ = conversion.convert_gguf_tokenizer(architecture, tokenizer_dict)
  return backend


def assert_same_as_transformers(path, texts):
  ours = Tokenizer.from_gguf(path, use_cache=False).backend
  theirs = transformers_backend(path)
  for text in texts:
    want = theirs.encode(text, add_special_tokens=False).ids
    assert ours.encode(text, add_special_tokens=False).ids == want, text
    kept = dict(skip_special_tokens=False)  # the Rust library skips them by default
    assert ours.decode(want, **kept) == theirs.decode(want, **kept)
  for part in ("normalizer", "pre_tokenizer", "decoder", "model"):
    assert getattr(ours, part).__getstate__() == getattr(theirs, part).__getstate__(), part


@pytest.mark.parametrize("arch", ["llama", "gemma3", "phi3"])
def test_sentencepiece_matches_transformers(tmp_path, arch):
  path = write_gguf(tmp_path / f"{arch}.gguf", sentencepiece_kv(gemma=arch == "gemma3"), arch)
  assert_same_as_transformers(path, SP_TEXTS)
  tok = Tokenizer.from_gguf(path, use_cache=False)
  assert tok.add_bos_by_default and tok.encode("the")[0] == 2  # no add_bos_token key: BOS
  assert tok.stop_ids == (1, 4)  # <eos>, then <|eot_id|>
  assert tok.token_to_id("<think>") == 5 and tok.encode("<think>", add_bos=False) == [5]


@pytest.mark.parametrize("pre", ["smollm", "default", "llama-bpe", "qwen2", "qwen35", "tekken",
                                 "gpt-4o"])
def test_byte_level_matches_transformers(tmp_path, pre):
  path = write_gguf(tmp_path / f"{pre}.gguf", byte_level_kv(pre))
  assert_same_as_transformers(path, BPE_TEXTS)
  tok = Tokenizer.from_gguf(path, use_cache=False)
  assert not tok.add_bos_by_default and tok.bos_id is None and tok.eos_id == 2
  assert tok.stop_ids == (2, 0)  # <|im_end|> (EOS), <|endoftext|>
  assert tok.token_to_id("<|控制|>") is None  # not byte-level spelled: not a token
  with pytest.raises(ValueError, match="add_bos=True, but this tokenizer has no BOS"):
    tok.encode("the", add_bos=True)


def test_add_bos_token_key_is_followed(tmp_path):
  kv = sentencepiece_kv()
  kv["tokenizer.ggml.add_bos_token"] = (False, T.BOOL, None)
  kv["tokenizer.ggml.add_eos_token"] = (True, T.BOOL, None)
  tok = Tokenizer.from_gguf(write_gguf(tmp_path / "no_bos.gguf", kv), use_cache=False)
  assert not tok.add_bos_by_default and tok.encode("the")[-1] == 1
  assert tok.encode("the", add_bos=True)[:1] == [2]


def test_tables_match_transformers():
  conversion = pytest.importorskip("transformers.integrations.gguf.gguf_tokenizer_mapping")
  assert gguf_tokenizer.PRE_TOKENIZER_SPLITS == conversion.GGUF_PRE_TOKENIZER_SPLITS
  assert gguf_tokenizer.byte_alphabet() == conversion.bytes_to_unicode()


@pytest.mark.parametrize("with_ranks", [True, False])
def test_merges_from_vocab_matches_generate_merges(with_ranks):
  base = pytest.importorskip("transformers.tokenization_utils_base")
  kv = sentencepiece_kv()
  tokens, scores = kv["tokenizer.ggml.tokens"][0], kv["tokenizer.ggml.scores"][0]
  ranks = dict(zip(tokens, scores)) if with_ranks else None
  vocab = {t: i for i, t in enumerate(tokens)}
  assert gguf_tokenizer.merges_from_vocab(tokens, ranks) == base.generate_merges(vocab, ranks)


def test_cache_is_written_reused_and_keyed_by_mtime(tmp_path, monkeypatch, caplog):
  monkeypatch.setenv("SEMCAL_CACHE", str(tmp_path / "cache"))
  path = write_gguf(tmp_path / "m.gguf", byte_level_kv("llama-bpe"))
  first = Tokenizer.from_gguf(path)
  cached = gguf_tokenizer.cache_path(path)
  assert cached.is_file() and cached.parent == tmp_path / "cache" / "tokenizers"
  assert not [p for p in cached.parent.iterdir() if p.name.endswith(".tmp")]
  real_build = gguf_tokenizer.build
  monkeypatch.setattr(gguf_tokenizer, "build", lambda *a, **k: pytest.fail("cache not used"))
  assert Tokenizer.from_gguf(path).encode_batch(BPE_TEXTS) == first.encode_batch(BPE_TEXTS)
  stat = os.stat(path)
  os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
  assert gguf_tokenizer.cache_path(path) != cached
  monkeypatch.setattr(gguf_tokenizer, "build", real_build)
  Tokenizer.from_gguf(path)
  assert len(list(cached.parent.glob("*.json"))) == 2
  gguf_tokenizer.cache_path(path).write_text("{broken")
  assert Tokenizer.from_gguf(path).encode("the") == first.encode("the")
  assert "unreadable tokenizer cache" in caplog.text
  Tokenizer.from_gguf(write_gguf(tmp_path / "n.gguf", byte_level_kv("qwen2")), use_cache=False)
  assert len(list(cached.parent.glob("*.json"))) == 2


def test_errors_name_the_file_and_value(tmp_path):
  no_tokenizer = write_gguf(tmp_path / "weights_only.gguf", {"x.y": (1, T.UINT32, None)})
  with pytest.raises(ValueError, match=r"weights_only\.gguf: GGUF metadata has no "
                                       r"'tokenizer\.ggml\.model'"):
    Tokenizer.from_gguf(no_tokenizer)
  kv = sentencepiece_kv()
  kv["tokenizer.ggml.model"] = ("bert", T.STRING, None)
  with pytest.raises(ValueError, match=r"bert\.gguf: unknown tokenizer type "
                                       r"tokenizer\.ggml\.model='bert'; supported: gpt2, llama"):
    Tokenizer.from_gguf(write_gguf(tmp_path / "bert.gguf", kv))
  kv = sentencepiece_kv()
  kv["tokenizer.ggml.bos_token_id"] = (10**6, T.UINT32, None)
  with pytest.raises(ValueError, match=r"bos_token_id=1000000 is outside the vocabulary"):
    Tokenizer.from_gguf(write_gguf(tmp_path / "bad_bos.gguf", kv), use_cache=False)
  kv = byte_level_kv("qwen2")
  kv["tokenizer.ggml.merges"] = (["a b c"], T.ARRAY, T.STRING)
  with pytest.raises(ValueError, match=r"tokenizer\.ggml\.merges\[0\]='a b c'"):
    Tokenizer.from_gguf(write_gguf(tmp_path / "bad_merge.gguf", kv), use_cache=False)
