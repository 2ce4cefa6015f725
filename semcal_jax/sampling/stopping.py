"""Stop strings matched on device, across token boundaries.

A stop string (e.g. `"\\n\\nQuestion:"`) can span several tokens and can sit
inside one (`".\\n"` contains `"\\n"`). We build an Aho-Corasick automaton over
the bytes of all stop strings and precompute, for every token and automaton
state, the state after reading the token's bytes and whether a stop string was
completed inside it: `next_state [V, S]`, `hit [V, S]`. Inside the decode loop
each row then carries one int (its automaton state) and a step is two gathers.

Token bytes are what the token contributes to the decoded text (byte-level BPE:
its bytes; SentencePiece: "▁" -> " ", `<0xNN>` -> that byte). Tables are cached
per (tokenizer, stop strings).
"""

from __future__ import annotations

import collections
import functools
import json
import re
from typing import Sequence

import numpy as np

_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def build_automaton(patterns: Sequence[bytes]):
  """Aho-Corasick over bytes: `(delta [S, 256] int32, accept [S] bool)`."""
  goto = [{}]
  accept = [False]
  for pat in patterns:
    if not pat:
      raise ValueError("stop strings must not be empty")
    state = 0
    for byte in pat:
      if byte not in goto[state]:
        goto.append({})
        accept.append(False)
        goto[state][byte] = len(goto) - 1
      state = goto[state][byte]
    accept[state] = True
  n = len(goto)
  delta = np.zeros((n, 256), np.int32)
  fail = [0] * n
  queue = collections.deque()
  for byte in range(256):
    nxt = goto[0].get(byte, 0)
    delta[0, byte] = nxt
    if nxt:
      queue.append(nxt)
  while queue:  # breadth first, so fail[] of shallower states is final
    state = queue.popleft()
    accept[state] = accept[state] or accept[fail[state]]
    for byte in range(256):
      nxt = goto[state].get(byte)
      if nxt is None:
        delta[state, byte] = delta[fail[state], byte]
      else:
        fail[nxt] = delta[fail[state], byte]
        delta[state, byte] = nxt
        queue.append(nxt)
  return delta, np.asarray(accept)


def is_byte_level(backend) -> bool:
  """Whether a `tokenizers.Tokenizer` decodes with GPT-2's byte-level decoder."""
  decoder = json.loads(backend.to_str()).get("decoder") or {}
  kinds = [decoder.get("type")] + [d.get("type") for d in decoder.get("decoders") or ()]
  return "ByteLevel" in kinds


def token_bytes(tokenizer, vocab_size: int | None = None) -> list[bytes]:
  """What each token id adds to the decoded text, as bytes (`vocab_size` entries;
  ids the tokenizer does not know, e.g. padding rows of an embedding, add nothing)."""
  backend = tokenizer.backend
  n = vocab_size or backend.get_vocab_size(with_added_tokens=True)
  byte_level = is_byte_level(backend)
  special = {t.content for t in backend.get_added_tokens_decoder().values()}
  unicode_to_byte = _unicode_to_byte()
  out = []
  for i in range(n):
    piece = backend.id_to_token(i)
    if piece is None:
      out.append(b"")
    elif (m := _BYTE_TOKEN.match(piece)) and not byte_level:
      out.append(bytes([int(m.group(1), 16)]))
    elif byte_level and piece not in special and all(c in unicode_to_byte for c in piece):
      out.append(bytes(unicode_to_byte[c] for c in piece))
    elif byte_level:
      out.append(piece.encode("utf-8"))  # added/special tokens are stored as plain text
    else:
      out.append(piece.replace("▁", " ").encode("utf-8"))
  return out


@functools.lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
  """Inverse of GPT-2's byte -> printable-unicode map."""
  bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
      range(ord("®"), ord("ÿ") + 1))
  cs = bs[:]
  n = 0
  for b in range(256):
    if b not in bs:
      bs.append(b)
      cs.append(256 + n)
      n += 1
  return {chr(c): b for b, c in zip(bs, cs)}


def transition_tables(pieces: Sequence[bytes], patterns: Sequence[bytes]):
  """`(next_state [V, S] int32, hit [V, S] bool)` for token byte strings `pieces`."""
  delta, accept = build_automaton(patterns)
  n_states = delta.shape[0]
  v = len(pieces)
  longest = max((len(p) for p in pieces), default=0)
  mat = np.zeros((v, max(longest, 1)), np.int32)
  lengths = np.zeros(v, np.int32)
  for i, piece in enumerate(pieces):
    mat[i, :len(piece)] = np.frombuffer(piece, np.uint8)
    lengths[i] = len(piece)
  next_state = np.zeros((v, n_states), np.int32)
  hit = np.zeros((v, n_states), bool)
  for s in range(n_states):
    state = np.full(v, s, np.int32)
    matched = np.zeros(v, bool)
    for pos in range(longest):
      live = lengths > pos
      state = np.where(live, delta[state, mat[:, pos]], state)
      matched |= live & accept[state]
    next_state[:, s] = state
    hit[:, s] = matched
  return next_state, hit


_TABLE_CACHE: dict = {}


def tables_for(tokenizer, stop: Sequence[str], vocab_size: int):
  """Cached `transition_tables` for a tokenizer and stop strings (None if no stops)."""
  if not stop:
    return None
  key = (id(tokenizer), tuple(stop), vocab_size)
  if key not in _TABLE_CACHE:
    patterns = [s.encode("utf-8") for s in stop]
    _TABLE_CACHE[key] = transition_tables(token_bytes(tokenizer, vocab_size), patterns)
  return _TABLE_CACHE[key]


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
  """Text before the earliest stop string, and whether one was found."""
  cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
  return (text[:cut], True) if cut >= 0 else (text, False)
