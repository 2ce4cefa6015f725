"""Building a `tokenizers.Tokenizer` from a GGUF file's metadata.

A GGUF carries no `tokenizer.json`, only llama.cpp's description of the
vocabulary (`tokenizer.ggml.*`). We rebuild the tokenizer that Hugging Face
`transformers` builds from the same file (`AutoTokenizer.from_pretrained(dir,
gguf_file=name)`), token for token:

* `tokenizer.ggml.model == "gpt2"`: byte-level BPE with the file's merges;
  tokens outside the byte alphabet are respelled in it. Text is split with the
  regex for `tokenizer.ggml.pre` (Llama-3, Qwen2, ... see `PRE_TOKENIZER_SPLITS`)
  or, for other values (e.g. `smollm`, `default`), with GPT-2's regex.
* `tokenizer.ggml.model == "llama"`: SentencePiece BPE with byte fallback. The
  files list no merges, so they are recovered from the vocabulary: every split
  of a token into two tokens is a merge, ranked by the token's score. Gemma
  files (`general.architecture` gemma*) store multi-space tokens as real
  spaces and rank merges by vocabulary position instead of score; they
  normalize spaces to "▁" and add no prefix space. Phi-3 prepends "▁" in the
  normalizer.
* Tokens typed CONTROL (3) become special added tokens, USER_DEFINED (4) plain
  added tokens, so they are matched whole.
* BOS/EOS: `tokenizer.ggml.add_bos_token` / `add_eos_token`; when the file does
  not say, SentencePiece vocabularies add BOS (llama.cpp and transformers
  agree), byte-level ones do not.

Recovering Gemma-3's 515k merges from its 262k tokens takes seconds, so built
tokenizers are cached as `tokenizer.json` files under
`registry.cache_dir() / "tokenizers"`, keyed by the GGUF's path, size and mtime.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import tokenizers
from tokenizers import decoders, models, normalizers, pre_tokenizers, processors

from semcal_jax import errors
from semcal_jax.models import gguf_metadata
from semcal_jax.models import registry

log = logging.getLogger(__name__)

# Bump when the built tokenizer changes, so old cache entries are not reused.
CACHE_FORMAT = 1
TOKEN_TYPE_CONTROL = 3
TOKEN_TYPE_USER_DEFINED = 4
SUPPORTED_MODELS = ("gpt2", "llama")
GEMMA_ARCHITECTURES = ("gemma", "gemma2", "gemma3")

_LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
           r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN35 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}"
           r"| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_UPPER = r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"
_LOWER = r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"
_CONTRACTION = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
_TEKKEN = (rf"[^\r\n\p{{L}}\p{{N}}]?{_UPPER}*{_LOWER}+|[^\r\n\p{{L}}\p{{N}}]?{_UPPER}+{_LOWER}*"
           r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_GPT4O = (rf"[^\r\n\p{{L}}\p{{N}}]?{_UPPER}*{_LOWER}+{_CONTRACTION}"
          rf"|[^\r\n\p{{L}}\p{{N}}]?{_UPPER}+{_LOWER}*{_CONTRACTION}"
          r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# `tokenizer.ggml.pre` -> the split regex of that vocabulary (the values
# transformers knows; any other value gets GPT-2's byte-level regex, as there).
PRE_TOKENIZER_SPLITS: dict[str, str] = {
    **dict.fromkeys(("llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                     "midm-2.0", "lfm2", "jina-v5-nano", "dbrx", "smaug-bpe"), _LLAMA3),
    **dict.fromkeys(("qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez"), _QWEN2),
    "qwen35": _QWEN35,
    "tekken": _TEKKEN,
    **dict.fromkeys(("gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"), _GPT4O),
}


def byte_alphabet() -> dict[int, str]:
  """GPT-2's byte -> printable character map used by byte-level BPE vocabularies."""
  printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
               *range(ord("®"), ord("ÿ") + 1)]
  table = {b: chr(b) for b in printable}
  shifted = (b for b in range(256) if b not in table)
  table.update({b: chr(256 + k) for k, b in enumerate(shifted)})
  return dict(sorted(table.items()))


def merges_from_vocab(tokens: Sequence[str],
                      ranks: Mapping[str, float] | None = None) -> list[tuple[str, str]]:
  """BPE merges implied by a vocabulary: each split of a token into two tokens.

  With `ranks`, merges are ordered by the rank of the token they build (higher
  first), then longer left part, then longer right part; without, by the id of
  the token they build, then shorter left and right parts. Ties keep token
  order, then the ids of the parts. This is the order
  `transformers` uses to turn SentencePiece vocabularies into BPE.

  Args:
    tokens: the vocabulary, by id.
    ranks: `{token: score}`; None ranks by id.
  """
  ids = {token: i for i, token in enumerate(tokens)}
  # Sort keys: with ranks, best rank and longest parts first; by id, the reverse.
  sign = 1 if ranks is None else -1
  order = ids.items() if ranks is None else ranks.items()
  keyed = []
  for position, (token, rank) in enumerate(order):
    n = len(token)
    for cut in range(1, n):
      left, right = token[:cut], token[cut:]
      left_id, right_id = ids.get(left), ids.get(right)
      if left_id is not None and right_id is not None:
        keyed.append((sign * rank, sign * cut, sign * (n - cut), position, left_id, right_id,
                      left, right))
  keyed.sort()
  return [(k[6], k[7]) for k in keyed]


def _fail(path: str, message: str) -> gguf_metadata.GGUFError:
  return gguf_metadata.GGUFError(f"{path}: {message}")


def _key(metadata: Mapping[str, Any], key: str, path: str) -> Any:
  if key not in metadata:
    raise _fail(path, f"GGUF metadata has no {key!r}, which the tokenizer needs")
  return metadata[key]


def tokenizer_model(metadata: Mapping[str, Any], path: str) -> str:
  """`tokenizer.ggml.model`, checked to be one we can build."""
  kind = _key(metadata, "tokenizer.ggml.model", path)
  if kind not in SUPPORTED_MODELS:
    raise _fail(path, f"unknown tokenizer type tokenizer.ggml.model={kind!r}; supported: "
                      f"{', '.join(SUPPORTED_MODELS)}")
  return kind


def add_special_rule(metadata: Mapping[str, Any]) -> tuple[bool, bool]:
  """(add BOS, add EOS) by default, as transformers reads them from the file."""
  kind = metadata.get("tokenizer.ggml.model")
  add_bos = metadata.get("tokenizer.ggml.add_bos_token")
  if add_bos is None:
    add_bos = kind == "llama"
  add_eos = metadata.get("tokenizer.ggml.add_eos_token", False)
  add_bos = bool(add_bos) and metadata.get("tokenizer.ggml.bos_token_id") is not None
  add_eos = bool(add_eos) and metadata.get("tokenizer.ggml.eos_token_id") is not None
  return add_bos, add_eos


def special_token(metadata: Mapping[str, Any], name: str, path: str) -> str | None:
  """Text of the token `tokenizer.ggml.<name>_token_id` (None when the key is absent)."""
  token_id = metadata.get(f"tokenizer.ggml.{name}_token_id")
  if token_id is None:
    return None
  tokens = _key(metadata, "tokenizer.ggml.tokens", path)
  if not 0 <= token_id < len(tokens):
    raise _fail(path, f"tokenizer.ggml.{name}_token_id={token_id} is outside the vocabulary "
                      f"of {len(tokens)} tokens")
  return tokens[token_id]


def _file_merges(metadata: Mapping[str, Any], path: str) -> list[tuple[str, str]]:
  merges = []
  for i, merge in enumerate(_key(metadata, "tokenizer.ggml.merges", path)):
    parts = merge.split(" ")
    if len(parts) != 2:
      raise _fail(path, f"tokenizer.ggml.merges[{i}]={merge!r} is not two tokens separated by "
                        "one space")
    merges.append((parts[0], parts[1]))
  return merges


def _byte_level_model(metadata: Mapping[str, Any], path: str) -> tokenizers.Tokenizer:
  alphabet = byte_alphabet()
  letters = set(alphabet.values())
  vocab = {}
  for i, token in enumerate(metadata["tokenizer.ggml.tokens"]):
    spelled = token if set(token) <= letters else "".join(
        alphabet[b] for b in token.encode("utf-8"))
    vocab[spelled] = i
  tok = tokenizers.Tokenizer(models.BPE(
      vocab=vocab, merges=_file_merges(metadata, path), dropout=None, continuing_subword_prefix="",
      end_of_word_suffix="", fuse_unk=False))
  split = PRE_TOKENIZER_SPLITS.get(metadata.get("tokenizer.ggml.pre"))
  if split is None:
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  else:
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex(split), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
  tok.decoder = decoders.ByteLevel()
  return tok


def _sentencepiece_model(metadata: Mapping[str, Any], path: str) -> tokenizers.Tokenizer:
  tokens = list(metadata["tokenizer.ggml.tokens"])
  gemma = metadata.get("general.architecture") in GEMMA_ARCHITECTURES
  if gemma:
    # Gemma stores "  " (spaces) where the model's pieces are "▁▁".
    tokens = [t.replace(" ", "▁") if " " in t and not t.strip() else t for t in tokens]
  if "tokenizer.ggml.merges" in metadata:
    merges = _file_merges(metadata, path)
  elif gemma:  # Gemma's scores do not follow its merge order; positions do.
    merges = merges_from_vocab(tokens, {t: -i for i, t in enumerate(tokens)})
  else:
    scores = _key(metadata, "tokenizer.ggml.scores", path)
    if len(scores) != len(tokens):
      raise _fail(path, f"tokenizer.ggml.scores has {len(scores)} entries for {len(tokens)} "
                        "tokens")
    merges = merges_from_vocab(tokens, dict(zip(tokens, scores)))
  vocab = {t: i for i, t in enumerate(tokens)}
  strip = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
  if gemma:
    unk = special_token(metadata, "unknown", path) or "<unk>"
    tok = tokenizers.Tokenizer(models.BPE(vocab=vocab, merges=merges, dropout=None,
                                          unk_token=unk, fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split(" ", behavior="merged_with_previous")
    tok.decoder = decoders.Sequence(strip)
    return tok
  tok = tokenizers.Tokenizer(models.BPE(vocab=vocab, merges=merges, dropout=None, fuse_unk=True,
                                        byte_fallback=True))
  if metadata.get("general.architecture") == "phi3":
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                           normalizers.Replace(" ", "▁")])
  else:
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first",
                                                 split=False)
  tok.decoder = decoders.Sequence([*strip, decoders.Strip(content=" ", left=1, right=0)])
  return tok


def build(metadata: Mapping[str, Any], path: str = "<metadata>") -> tokenizers.Tokenizer:
  """The tokenizer described by GGUF `metadata` (no caching); `path` is for messages.

  Raises:
    GGUFError: missing, inconsistent or mistyped tokenizer metadata (naming `path`).
  """
  try:
    return _build(metadata, path)
  except gguf_metadata.GGUFError:
    raise
  except Exception as e:  # pylint: disable=broad-except  # mistyped values; tokenizers' errors
    raise _fail(path, f"unusable tokenizer metadata ({errors.one_line(e)})") from e


def _build(metadata: Mapping[str, Any], path: str) -> tokenizers.Tokenizer:
  kind = tokenizer_model(metadata, path)
  tokens = _key(metadata, "tokenizer.ggml.tokens", path)
  types = metadata.get("tokenizer.ggml.token_type") or ()
  if types and len(types) != len(tokens):
    raise _fail(path, f"tokenizer.ggml.token_type has {len(types)} entries for {len(tokens)} "
                      "tokens")
  tok = _byte_level_model(metadata, path) if kind == "gpt2" else _sentencepiece_model(
      metadata, path)
  vocab = tok.get_vocab(with_added_tokens=False)
  letters = set(byte_alphabet().values()) if kind == "gpt2" else None
  control = [tokenizers.AddedToken(t, normalized=False, special=True)
             for t, ty in zip(tokens, types)
             if ty == TOKEN_TYPE_CONTROL and (letters is None or set(t) <= letters)]
  user = [tokenizers.AddedToken(t, normalized=False, special=False)
          for t, ty in zip(tokens, types) if ty == TOKEN_TYPE_USER_DEFINED and t in vocab]
  tok.add_special_tokens(control)
  tok.add_tokens(user)
  added = {t.content for t in tok.get_added_tokens_decoder().values()}
  named = [special_token(metadata, name, path) for name in ("bos", "eos", "unknown", "padding")]
  tok.add_special_tokens([tokenizers.AddedToken(t, normalized=False, special=True)
                          for t in dict.fromkeys(named) if t is not None and t not in added])
  add_bos, add_eos = add_special_rule(metadata)
  bos, eos = special_token(metadata, "bos", path), special_token(metadata, "eos", path)
  single = (["$A:0"] if not add_bos else [f"{bos}:0", "$A:0"]) + ([f"{eos}:0"] if add_eos else [])
  pair = single + ([f"{bos}:1"] if add_bos else []) + ["$B:1"] + ([f"{eos}:1"] if add_eos else [])
  specials = ([(bos, metadata["tokenizer.ggml.bos_token_id"])] if add_bos else []) + (
      [(eos, metadata["tokenizer.ggml.eos_token_id"])] if add_eos else [])
  tok.post_processor = processors.TemplateProcessing(single=" ".join(single), pair=" ".join(pair),
                                                     special_tokens=specials)
  return tok


def cache_path(path: str | os.PathLike) -> pathlib.Path:
  """Where the tokenizer built from GGUF `path` is cached (by path, size, mtime)."""
  real = os.path.realpath(path)
  stat = os.stat(real)
  key = f"{real}\n{stat.st_size}\n{stat.st_mtime_ns}\n{CACHE_FORMAT}\n{tokenizers.__version__}"
  digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
  return registry.cache_dir() / "tokenizers" / f"{pathlib.Path(real).stem}.{digest}.json"


def load(path: str | os.PathLike, metadata: Mapping[str, Any], *,
         use_cache: bool = True) -> tokenizers.Tokenizer:
  """The tokenizer of GGUF `path`, from the cache when built before.

  A cache entry that cannot be read is rebuilt; a cache folder that cannot be
  written only costs the rebuild next time (logged as a warning).
  """
  path = os.fspath(path)
  tokenizer_model(metadata, path)  # fail early on unknown types, cached or not
  if not use_cache:
    return build(metadata, path)
  target = cache_path(path)
  if target.is_file():
    try:
      return tokenizers.Tokenizer.from_file(str(target))
    except Exception as e:  # pylint: disable=broad-except
      log.warning("ignoring unreadable tokenizer cache %s (%s); rebuilding", target, e)
  tok = build(metadata, path)
  try:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
      tok.save(tmp)
      os.replace(tmp, target)
    finally:
      if os.path.exists(tmp):
        os.unlink(tmp)
  except OSError as e:
    log.warning("could not cache the tokenizer of %s at %s: %s", path, target, e)
  return tok
