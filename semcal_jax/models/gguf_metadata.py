"""Reading the key/value metadata of a GGUF file as plain Python values.

`read_metadata(path)` returns every metadata key of a GGUF file (config,
tokenizer, chat template, ...) with strings as `str`, numbers as `int` /
`float`, booleans as `bool` and arrays (including the 262k-entry vocabularies,
merges, scores and token types) as Python lists, in file order. Tensor data is
never read.

The value-type codes, the magic number and the file layout are the ones of the
`gguf` package (`gguf.GGUFValueType`, `gguf.GGUF_MAGIC`), and the result equals
what `gguf.GGUFReader(path).fields[key].contents()` gives for every key (the
tests check this), except that arrays of arrays stay nested (the reader
flattens them). We walk the header ourselves instead of calling
`GGUFReader` because the reader builds one numpy view per string part and
takes 2.5 s (SmolLM2-135M) to 12 s (Gemma-3-270m, 262k tokens) per file, where
this walk takes about 0.1 s; the model loader and the tokenizer both read the
metadata on every load.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from typing import Any, NamedTuple

import gguf
import numpy as np

from semcal_jax.errors import InputError

_VT = gguf.GGUFValueType
# struct codes of the fixed-width value types.
_SCALAR_CODES = {
    _VT.UINT8: "B", _VT.INT8: "b", _VT.UINT16: "H", _VT.INT16: "h",
    _VT.UINT32: "I", _VT.INT32: "i", _VT.FLOAT32: "f", _VT.BOOL: "?",
    _VT.UINT64: "Q", _VT.INT64: "q", _VT.FLOAT64: "d",
}
_SUPPORTED_VERSIONS = (2, 3)
_MAX_DIMS = 8  # GGML_MAX_DIMS is 4; more is a corrupt tensor header


class GGUFError(InputError):
  """A file that is not a usable GGUF model (header, metadata, tensors or tokenizer);
  the message names the file."""


class GGUFNotFoundError(GGUFError, FileNotFoundError):
  """A GGUF path that does not exist (also a FileNotFoundError)."""


class _Cursor:
  """Reads values from a GGUF buffer in one byte order, tracking the offset."""

  def __init__(self, buf: mmap.mmap, endian: str, path: str):
    self.buf = buf
    self.endian = endian
    self.path = path
    self.pos = 0
    self.key = "<header>"  # the key being read, for error messages

  def fail(self, what: str) -> GGUFError:
    return GGUFError(f"{self.path}: malformed GGUF metadata at key {self.key!r} "
                      f"(offset {self.pos}): {what}")

  def scalar(self, code: str) -> Any:
    fmt = self.endian + code
    try:
      (value,) = struct.unpack_from(fmt, self.buf, self.pos)
    except struct.error as e:
      raise self.fail("file ends inside a value") from e
    self.pos += struct.calcsize(fmt)
    return value

  def string(self) -> str:
    length = self.scalar("Q")
    end = self.pos + length
    if end > len(self.buf):
      raise self.fail(f"string of {length} bytes runs past the end of the file")
    raw = self.buf[self.pos:end]
    self.pos = end
    try:
      return raw.decode("utf-8")
    except UnicodeDecodeError as e:
      raise self.fail(f"string is not valid UTF-8 ({e})") from e

  def value(self, value_type: int) -> Any:
    if value_type in _SCALAR_CODES:
      return self.scalar(_SCALAR_CODES[value_type])
    if value_type == _VT.STRING:
      return self.string()
    if value_type == _VT.ARRAY:
      return self.array()
    raise self.fail(f"unknown value type {value_type}")

  def array(self) -> list[Any]:
    item_type = self.scalar("I")
    count = self.scalar("Q")
    if item_type in _SCALAR_CODES:
      dtype = np.dtype(self.endian + _SCALAR_CODES[item_type])
      if self.pos + count * dtype.itemsize > len(self.buf):
        raise self.fail(f"array of {count} values runs past the end of the file")
      values = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
      self.pos += count * dtype.itemsize
      return values.tolist()
    if item_type == _VT.STRING:
      return self._string_array(count)
    return [self.value(item_type) for _ in range(count)]

  def _string_array(self, count: int) -> list[str]:
    # The hot loop (262k vocabulary entries): locals only, one unpack per string.
    buf, pos, size = self.buf, self.pos, len(self.buf)
    length_fmt = struct.Struct(self.endian + "Q")
    unpack = length_fmt.unpack_from
    out: list[str] = []
    append = out.append
    try:
      for _ in range(count):
        (length,) = unpack(buf, pos)
        pos += 8
        if pos + length > size:
          raise struct.error("string past end")
        append(buf[pos:pos + length].decode("utf-8"))
        pos += length
    except struct.error as e:
      self.pos = pos
      raise self.fail(f"string array entry {len(out)} of {count} runs past the end of the "
                       "file") from e
    except UnicodeDecodeError as e:
      self.pos = pos
      raise self.fail(f"string array entry {len(out)} is not valid UTF-8 ({e})") from e
    self.pos = pos
    return out


def _open(path: str) -> mmap.mmap:
  if not os.path.exists(path):
    raise GGUFNotFoundError(f"GGUF file {path} does not exist")
  if not os.path.isfile(path):
    raise GGUFError(f"{path} is not a file, so it is not a GGUF file")
  with open(path, "rb") as fh:
    if os.fstat(fh.fileno()).st_size < 24:
      raise GGUFError(f"{path} is not a GGUF file (only {os.fstat(fh.fileno()).st_size} "
                       "bytes, shorter than a GGUF header)")
    return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


class TensorInfo(NamedTuple):
  """Where a tensor lies in a GGUF file. `shape` is numpy order (slowest dim first);
  `offset` is the absolute byte offset of its data; `qtype` a `gguf.GGMLQuantizationType`."""
  name: str
  shape: tuple[int, ...]
  qtype: Any
  offset: int
  nbytes: int


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
  """All key/value metadata of a GGUF file, decoded into plain Python values.

  Args:
    path: a `.gguf` file (version 2 or 3, little- or big-endian).

  Returns:
    `{key: value}` in file order: `str`, `int`, `float`, `bool`, or a (nested)
    `list` of those for array values, e.g. `"tokenizer.ggml.tokens"` -> list of
    str, `"tokenizer.ggml.scores"` -> list of float.

  Raises:
    GGUFNotFoundError (a FileNotFoundError): `path` does not exist.
    GGUFError (a ValueError): `path` is not a GGUF file, has an unsupported version,
      or its metadata is truncated or malformed (the message names the path and key).
  """
  return read_header(path)[0]


def read_header(path: str | os.PathLike) -> tuple[dict[str, Any], list[TensorInfo]]:
  """`(metadata, tensor infos)` of a GGUF file; tensor data is not read."""
  path = os.fspath(path)
  buf = _open(path)
  try:
    magic = struct.unpack_from("<I", buf, 0)[0]
    if magic != gguf.GGUF_MAGIC:
      raise GGUFError(f"{path} is not a GGUF file (starts with {bytes(buf[:4])!r}, "
                       "expected b'GGUF')")
    # The version is written in the file's byte order; a big-endian file reads
    # as a huge number in little-endian.
    endian = "<"
    version = struct.unpack_from("<I", buf, 4)[0]
    if version & 0xFFFF == 0 and version != 0:
      endian, version = ">", struct.unpack_from(">I", buf, 4)[0]
    if version not in _SUPPORTED_VERSIONS:
      raise GGUFError(f"{path}: GGUF version {version} is not supported "
                       f"(supported: {', '.join(map(str, _SUPPORTED_VERSIONS))})")
    cursor = _Cursor(buf, endian, path)
    cursor.pos = 8
    tensor_count = cursor.scalar("Q")
    kv_count = cursor.scalar("Q")
    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
      cursor.key = "<key name>"
      key = cursor.string()
      cursor.key = key
      metadata[key] = cursor.value(cursor.scalar("I"))
    raw = []
    for _ in range(tensor_count):
      cursor.key = "<tensor info>"
      name = cursor.string()
      cursor.key = f"<tensor info of {name}>"
      n_dims = cursor.scalar("I")
      if n_dims > _MAX_DIMS:
        raise cursor.fail(f"tensor {name!r} has {n_dims} dimensions")
      dims = [cursor.scalar("Q") for _ in range(n_dims)]
      code = cursor.scalar("I")
      try:
        qtype = gguf.GGMLQuantizationType(code)
        block, type_size = gguf.GGML_QUANT_SIZES[qtype]
      except (ValueError, KeyError):
        raise cursor.fail(f"tensor {name!r} has unknown type {code}") from None
      raw.append((name, tuple(reversed(dims)), qtype, block, type_size, cursor.scalar("Q")))
    alignment = metadata.get("general.alignment", gguf.GGUF_DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment < 1:
      raise GGUFError(f"{path}: general.alignment={alignment!r} is not a positive int")
    start = (cursor.pos + alignment - 1) // alignment * alignment
    tensors = []
    for name, shape, qtype, block, type_size, offset in raw:
      nbytes = math.prod(shape) // block * type_size
      if start + offset + nbytes > len(buf):
        raise GGUFError(f"{path}: tensor {name} runs past the end of the file (truncated?)")
      tensors.append(TensorInfo(name, shape, qtype, start + offset, nbytes))
    return metadata, tensors
  finally:
    buf.close()
