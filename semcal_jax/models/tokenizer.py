"""Tokenizers of the model zoo: from a GGUF file or a Hugging Face folder.

`Tokenizer` wraps a `tokenizers.Tokenizer` (the Rust library `transformers`
uses) and adds what sampling needs: the model's default BOS rule, the ids that
end generation, and its chat template. Token ids equal those of
`transformers.AutoTokenizer` for the same files (the tests check every question
of the evaluation data), without depending on `transformers`.

    tok = Tokenizer.from_spec("gemma-3-270m")       # or from_gguf(path) / from_hf_folder(dir)
    ids = tok.encode("Question: ...")              # [2, ...]: Gemma adds <bos>
    tok.decode(ids, skip_special_tokens=True)
    prompt = tok.apply_chat_template([{"role": "user", "content": "Hi"}])
    ids = tok.encode(prompt, add_bos=False)         # templates write their own BOS

BOS by default (`add_bos=None`) follows the files as transformers does: a GGUF's
`tokenizer.ggml.add_bos_token` (SentencePiece vocabularies add BOS when the key
is absent), an HF folder's `tokenizer.json` post-processor (Llama-3, Gemma and
Mistral add BOS, Qwen does not).

`stop_ids` are the EOS id, the ids the files list as ending generation
(`generation_config.json` `eos_token_id`, GGUF `eot`/`eom` token ids) and the
special tokens llama.cpp treats as end of generation (`<end_of_turn>`,
`<|im_end|>`, `<|eot_id|>`, ...; see `END_OF_GENERATION_TOKENS`).
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import tokenizers

from semcal_jax import errors, storage
from semcal_jax.models import chat_template as chat_template_lib
from semcal_jax.models import gguf_metadata
from semcal_jax.models import gguf_tokenizer
from semcal_jax.models import registry

# Special tokens that end a turn or a document, as llama.cpp lists them.
END_OF_GENERATION_TOKENS = frozenset({
    "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
    "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
    "<end_of_utterance>",
})
# Named special tokens passed to chat templates, as in transformers.
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                       "cls_token", "mask_token")


class TokenizerError(errors.InputError):
  """A tokenizer file (tokenizer.json, its configs, a GGUF's tokenizer) that cannot be
  used; the message names the file."""


class TokenizerNotFoundError(TokenizerError, FileNotFoundError):
  """No tokenizer folder or no tokenizer.json in it (also a FileNotFoundError)."""


class Tokenizer:
  """Text <-> token ids for one model, with its BOS rule, stop ids and chat template."""

  def __init__(self, backend: tokenizers.Tokenizer, *,
               special_tokens: Mapping[str, str | None], stop_ids: Iterable[int] = (),
               chat_template: str | None = None, source: str = "<tokenizer>"):
    """Wraps `backend`.

    Args:
      backend: the tokenizer; its post-processor is the default BOS/EOS rule.
      special_tokens: `{"bos_token": "<bos>", "eos_token": ..., ...}` (names in
        `SPECIAL_TOKEN_NAMES`; None = the model has none).
      stop_ids: ids that end generation besides EOS.
      chat_template: jinja2 chat template, or None.
      source: the file or folder it came from, for error messages.
    """
    unknown = sorted(set(special_tokens) - set(SPECIAL_TOKEN_NAMES))
    if unknown:
      raise TokenizerError(f"{source}: unknown special token names {unknown}; known: "
                       f"{', '.join(SPECIAL_TOKEN_NAMES)}")
    self._backend = backend
    self._source = source
    self._special = {k: v for k, v in special_tokens.items() if v is not None}
    for name in ("bos_token", "eos_token"):
      if name in self._special and backend.token_to_id(self._special[name]) is None:
        raise TokenizerError(f"{source}: {name}={self._special[name]!r} is not in the "
                             "vocabulary")
    self._chat_template = chat_template
    self._vocab_size = backend.get_vocab_size(with_added_tokens=True)
    stops = [] if self.eos_id is None else [self.eos_id]
    for i in sorted(set(stop_ids)):
      if not 0 <= i < self._vocab_size:
        raise TokenizerError(f"{source}: stop id {i} is outside the vocabulary of "
                             f"{self._vocab_size} tokens")
      if i not in stops:
        stops.append(i)
    self._stop_ids = tuple(stops)
    probe = backend.encode("", add_special_tokens=True).ids
    self._adds_bos = self.bos_id is not None and probe[:1] == [self.bos_id]

  # ---------------------------------------------------------------- constructors

  @classmethod
  def from_gguf(cls, path: str | os.PathLike, *, use_cache: bool = True) -> Tokenizer:
    """The tokenizer described by a GGUF file's metadata (cached after the first build).

    Raises:
      GGUFNotFoundError (a FileNotFoundError): `path` does not exist.
      GGUFError (an InputError): not a GGUF file, no tokenizer in it, or an unknown
        `tokenizer.ggml.model` (the message names the file and value).
    """
    path = os.fspath(storage.local_file(path))  # remote files: a cached local copy
    metadata = gguf_metadata.read_metadata(path)
    backend = gguf_tokenizer.load(path, metadata, use_cache=use_cache)
    special = {
        "bos_token": gguf_tokenizer.special_token(metadata, "bos", path),
        "eos_token": gguf_tokenizer.special_token(metadata, "eos", path),
        "unk_token": gguf_tokenizer.special_token(metadata, "unknown", path),
        "pad_token": gguf_tokenizer.special_token(metadata, "padding", path),
    }
    stops = [metadata[k] for k in ("tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id")
             if metadata.get(k) is not None]
    types = metadata.get("tokenizer.ggml.token_type") or ()
    stops += [i for i, (token, kind) in enumerate(zip(metadata["tokenizer.ggml.tokens"], types))
              if token in END_OF_GENERATION_TOKENS
              and kind in (gguf_tokenizer.TOKEN_TYPE_CONTROL,
                           gguf_tokenizer.TOKEN_TYPE_USER_DEFINED)]
    return cls(backend, special_tokens=special, stop_ids=stops,
               chat_template=metadata.get("tokenizer.chat_template"), source=path)

  @classmethod
  def from_hf_folder(cls, folder: str | os.PathLike) -> Tokenizer:
    """The tokenizer of a Hugging Face model folder.

    Reads `tokenizer.json` (required) and, when present, `tokenizer_config.json`
    (special tokens, chat template), `special_tokens_map.json` (special tokens
    when the config lists no `added_tokens_decoder`, as transformers reads it),
    `chat_template.jinja` (preferred over the config's template) and
    `generation_config.json` (`eos_token_id`: stop ids).

    Raises:
      TokenizerNotFoundError (a FileNotFoundError): no such folder, or no
        `tokenizer.json` in it.
      TokenizerError (an InputError): a file does not parse or holds a value of the
        wrong type (the message names it).
    """
    root = storage.as_path(folder)  # local or remote
    if not root.is_dir():
      raise TokenizerNotFoundError(f"tokenizer folder {root} does not exist or is not a folder")
    tokenizer_file = root / "tokenizer.json"
    if not tokenizer_file.is_file():
      raise TokenizerNotFoundError(
          f"{tokenizer_file} not found: only folders with a tokenizer.json are supported "
          "(a SentencePiece tokenizer.model alone is not)")
    try:
      backend = tokenizers.Tokenizer.from_str(_read_text(tokenizer_file))
    except TokenizerError:
      raise
    except Exception as e:  # tokenizers raises plain Exception
      raise TokenizerError(f"{tokenizer_file} is not a valid tokenizer.json: "
                           f"{errors.one_line(e)}") from None
    config = _read_json(root / "tokenizer_config.json")
    special: dict[str, str | None] = {}
    for name in SPECIAL_TOKEN_NAMES:
      special[name] = _token_text(config.get(name), root / "tokenizer_config.json", name)
    token_map = _read_json(root / "special_tokens_map.json")
    if "added_tokens_decoder" not in config:
      for name in SPECIAL_TOKEN_NAMES:
        if name in token_map:
          special[name] = _token_text(token_map[name], root / "special_tokens_map.json", name)
    special = {k: v for k, v in special.items() if v is not None}
    template = _hf_chat_template(root, config)
    stops = _ids(_read_json(root / "generation_config.json").get("eos_token_id"),
                 root / "generation_config.json")
    for token_id, added in backend.get_added_tokens_decoder().items():
      if added.special and added.content in END_OF_GENERATION_TOKENS:
        stops.append(token_id)
    return cls(backend, special_tokens=special, stop_ids=stops, chat_template=template,
               source=str(root))

  @classmethod
  def from_spec(cls, spec: str | os.PathLike) -> Tokenizer:
    """From any model spec of `registry.resolve`: a named model (e.g. "gemma-3-270m"), a
    .gguf file or an HF folder (local or remote), a Hugging Face Hub id."""
    path = registry.resolve(spec)
    return cls.from_hf_folder(path) if path.is_dir() else cls.from_gguf(path)

  # ---------------------------------------------------------------- properties

  @property
  def backend(self) -> tokenizers.Tokenizer:
    """The wrapped `tokenizers.Tokenizer` (do not modify it)."""
    return self._backend

  @property
  def source(self) -> str:
    return self._source

  @property
  def special_tokens(self) -> dict[str, str]:
    """Named special tokens, e.g. `{"bos_token": "<bos>", "eos_token": "<eos>", ...}`."""
    return dict(self._special)

  @property
  def bos_token(self) -> str | None:
    return self._special.get("bos_token")

  @property
  def eos_token(self) -> str | None:
    return self._special.get("eos_token")

  @property
  def bos_id(self) -> int | None:
    return self._id_of("bos_token")

  @property
  def eos_id(self) -> int | None:
    return self._id_of("eos_token")

  @property
  def pad_id(self) -> int | None:
    """The padding id the files name (None when they name none)."""
    return self._id_of("pad_token")

  @property
  def stop_ids(self) -> tuple[int, ...]:
    """Ids that end generation: EOS first, then the others in id order."""
    return self._stop_ids

  @property
  def add_bos_by_default(self) -> bool:
    """Whether `encode(text)` puts BOS first."""
    return self._adds_bos

  @property
  def vocab_size(self) -> int:
    """Number of token ids, added tokens included (may be below the model's embedding rows)."""
    return self._vocab_size

  @property
  def chat_template(self) -> str | None:
    return self._chat_template

  def _id_of(self, name: str) -> int | None:
    token = self._special.get(name)
    return None if token is None else self._backend.token_to_id(token)

  def id_to_token(self, token_id: int) -> str | None:
    """The token's text as stored in the vocabulary ("Ġthe", "▁the"); None if out of range."""
    return self._backend.id_to_token(int(token_id))

  def token_to_id(self, token: str) -> int | None:
    return self._backend.token_to_id(token)

  # ---------------------------------------------------------------- encode / decode

  def _with_bos(self, ids: list[int], add_bos: bool | None) -> list[int]:
    if add_bos is None or bool(add_bos) == self._adds_bos:
      return ids
    if add_bos:
      if self.bos_id is None:
        raise ValueError(f"{self._source}: add_bos=True, but this tokenizer has no BOS token")
      return [self.bos_id, *ids]
    return ids[1:] if ids[:1] == [self.bos_id] else ids

  def encode(self, text: str, add_bos: bool | None = None) -> list[int]:
    """Token ids of `text`; `add_bos` None = the model's default, True/False forces it."""
    if not isinstance(text, str):
      raise TypeError(f"encode expects a str, got {type(text).__name__}")
    return self._with_bos(self._backend.encode(text).ids, add_bos)

  def encode_batch(self, texts: Sequence[str], add_bos: bool | None = None) -> list[list[int]]:
    """`encode` of each text (in parallel in the Rust library)."""
    if isinstance(texts, str):
      raise TypeError("encode_batch expects a list of str, got one str (use encode)")
    for i, text in enumerate(texts):
      if not isinstance(text, str):
        raise TypeError(f"encode_batch: texts[{i}] is a {type(text).__name__}, not a str")
    return [self._with_bos(e.ids, add_bos) for e in self._backend.encode_batch(list(texts))]

  def _check_ids(self, ids: Any) -> list[int]:
    if hasattr(ids, "tolist"):  # numpy / jax arrays
      ids = ids.tolist()
    ids = [int(i) for i in ids]
    bad = [i for i in ids if not 0 <= i < self._vocab_size]
    if bad:
      raise ValueError(f"token ids {bad[:5]} are outside the vocabulary of {self._vocab_size} "
                       f"tokens ({self._source})")
    return ids

  def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
    """Text of `ids` (a list or 1-D array)."""
    return self._backend.decode(self._check_ids(ids), skip_special_tokens=skip_special_tokens)

  def decode_batch(self, batch: Sequence[Sequence[int]],
                   skip_special_tokens: bool = False) -> list[str]:
    """`decode` of each row (a list of lists or a 2-D array)."""
    if hasattr(batch, "tolist"):
      batch = batch.tolist()
    rows = [self._check_ids(row) for row in batch]
    return self._backend.decode_batch(rows, skip_special_tokens=skip_special_tokens)

  # ---------------------------------------------------------------- chat

  def apply_chat_template(self, messages: Sequence[Mapping[str, Any]],
                          add_generation_prompt: bool = True, **kwargs: Any) -> str:
    """The conversation rendered with the model's chat template, as transformers renders it.

    The text usually starts with the template's own BOS: encode it with
    `add_bos=False`. `kwargs` become template variables (e.g. `tools`).

    Raises:
      TokenizerError: the model has no chat template; ChatTemplateError: the
        template fails (both InputErrors).
    """
    if self._chat_template is None:
      raise TokenizerError(f"{self._source} has no chat template")
    return chat_template_lib.render(self._chat_template, messages,
                                    add_generation_prompt=add_generation_prompt,
                                    special_tokens=self._special, **kwargs)

  def __repr__(self) -> str:
    return (f"Tokenizer({self._source!r}, vocab_size={self._vocab_size}, bos_id={self.bos_id}, "
            f"eos_id={self.eos_id}, stop_ids={self._stop_ids}, add_bos={self._adds_bos})")


# -------------------------------------------------------------------- HF folder helpers


def _read_text(path: pathlib.Path) -> str:
  """A UTF-8 text file (a leading byte-order mark dropped)."""
  try:
    return path.read_bytes().decode("utf-8-sig")
  except UnicodeDecodeError as e:
    raise TokenizerError(f"{path} is not valid UTF-8 (byte 0x{e.object[e.start]:02x} at "
                         f"offset {e.start}); re-save it as UTF-8") from None


def _read_json(path: pathlib.Path) -> dict[str, Any]:
  """The JSON object in `path`, or {} when the file does not exist."""
  if not path.is_file():
    return {}
  try:
    value = json.loads(_read_text(path))
  except json.JSONDecodeError as e:
    raise TokenizerError(f"{path} is not valid JSON: {e}") from None
  if not isinstance(value, dict):
    raise TokenizerError(f"{path} must hold a JSON object, not {type(value).__name__}")
  return value


def _token_text(value: Any, path: pathlib.Path, key: str) -> str | None:
  """A special token as configs write it: a string or `{"content": ...}`."""
  if value is None or isinstance(value, str):
    return value
  if isinstance(value, dict) and isinstance(value.get("content"), str):
    return value["content"]
  raise TokenizerError(f"{path}: {key}={value!r} is neither a string nor {{'content': str}}")


def _ids(value: Any, path: pathlib.Path) -> list[int]:
  if value is None:
    return []
  values = value if isinstance(value, list) else [value]
  if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
    raise TokenizerError(f"{path}: eos_token_id={value!r} must be an int or a list of ints")
  return list(values)


def _hf_chat_template(root: pathlib.Path, config: Mapping[str, Any]) -> str | None:
  jinja_file = root / "chat_template.jinja"
  if jinja_file.is_file():
    return _read_text(jinja_file)
  template = config.get("chat_template")
  if template is None or isinstance(template, str):
    return template
  where = root / "tokenizer_config.json"
  if isinstance(template, list):  # [{"name": "default", "template": "..."}, ...]
    named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
    if "default" in named and isinstance(named["default"], str):
      return named["default"]
    raise TokenizerError(f"{where}: chat_template lists templates {sorted(map(str, named))} "
                         "but none named 'default'")
  raise TokenizerError(f"{where}: chat_template must be a string or a list of "
                       f"{{name, template}}, not {type(template).__name__}")
