"""Row readers for local data files that name the file and line of a bad row.

Every reader yields `(line, row)`: `line` is the 1-based line where the row
starts (JSON Lines, CSV, JSON arrays) or the 1-based row number (Parquet), and
every error is a `DataFormatError` whose message starts with "path:line:".

Text files must be UTF-8; a byte-order mark at the start is accepted and
dropped. Any other bytes (e.g. Latin-1 or Windows-1252 text) are reported with
the line and column of the first bad byte; an empty file is an error too.
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import tqdm

from semcal_jax.errors import InputError

_BIG_FILE = 64 << 20  # progress bars for files above 64 MiB


# Lone surrogates U+DC80..U+DCFF: what "surrogateescape" decoding makes of bytes that
# are not UTF-8 (valid UTF-8 never decodes to them).
_BAD_BYTE = re.compile("[\udc80-\udcff]")


class DataFormatError(InputError):
  """A malformed data file; the message names the file and line.

  `path` None: the message is `what` alone (no file to name).
  """

  def __init__(self, path: os.PathLike | str | None, line: int | None, what: str):
    if path is None:
      message = what
    else:
      message = f"{path}:{line}: {what}" if line is not None else f"{path}: {what}"
    super().__init__(message)
    self.message, self.what = message, what
    self.path, self.line = (None if path is None else str(path)), line

  def __str__(self) -> str:  # also for subclasses of KeyError, whose str() quotes
    return self.message

  def __reduce__(self):
    return type(self), (self.path, self.line, self.what)


class DataNotFoundError(DataFormatError, FileNotFoundError):
  """A path with no data files (also a FileNotFoundError)."""


def _check_utf8(path: pathlib.Path, text: str, line: int = 1) -> None:
  """Raises DataFormatError at the first byte `text` (decoded with "surrogateescape",
  starting at `line`) holds that is not UTF-8."""
  m = _BAD_BYTE.search(text)
  if m is None:
    return
  start = text.rfind("\n", 0, m.start()) + 1
  line += text.count("\n", 0, start)
  raise DataFormatError(path, line, f"not valid UTF-8 (byte 0x{ord(m.group()) - 0xDC00:02x} "
                        f"at column {m.start() - start + 1}); re-save the file as UTF-8")


def _open_text(path: pathlib.Path, newline: str | None = None):
  """`path` opened as UTF-8 text (a leading byte-order mark dropped; bytes that are not
  UTF-8 kept as lone surrogates for `_check_utf8`)."""
  try:
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline=newline)
  except FileNotFoundError:
    raise DataNotFoundError(path, None, "no such file") from None
  except OSError as e:
    raise DataFormatError(path, None, f"cannot be read ({e.strerror or e})") from None


def read_text(path: os.PathLike | str) -> str:
  """The whole of a UTF-8 text file (a leading byte-order mark dropped).

  Raises:
    DataFormatError: bytes that are not UTF-8 (naming line and column).
  """
  path = pathlib.Path(path)
  with _open_text(path) as fh:
    text = fh.read()
  _check_utf8(path, text)
  return text


def _checked_lines(path: pathlib.Path, lines) -> Iterator[str]:
  for line, text in enumerate(lines, 1):
    _check_utf8(path, text, line)
    yield text


def _progress(iterable, path: pathlib.Path, total=None, unit="rows"):
  size = path.stat().st_size
  return tqdm.tqdm(iterable, desc=f"reading {path.name}", total=total, unit=unit, leave=False,
                   disable=size < _BIG_FILE, mininterval=1.0)


def iter_jsonl(path: os.PathLike | str) -> Iterator[tuple[int, dict[str, Any]]]:
  """Objects of a JSON Lines file, skipping blank lines."""
  path = pathlib.Path(path)
  empty = True
  with _open_text(path) as fh:
    for line, text in enumerate(_checked_lines(path, _progress(fh, path, unit="lines")), 1):
      if not text.strip():
        continue
      empty = False
      try:
        row = json.loads(text)
      except json.JSONDecodeError as e:
        raise DataFormatError(path, line, f"invalid JSON: {e.msg} (column {e.colno})") from None
      if not isinstance(row, dict):
        raise DataFormatError(path, line, f"expected a JSON object, got {type(row).__name__}")
      yield line, row
  if empty:
    raise DataFormatError(path, 1, "empty file (expected one JSON object per line)")


def iter_csv(path: os.PathLike | str,
             required: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
  """Rows of a CSV file with a header line; `required` columns must be in the header."""
  path = pathlib.Path(path)
  with _open_text(path, newline="") as fh:
    reader = csv.DictReader(_checked_lines(path, fh))
    try:
      header = reader.fieldnames
    except csv.Error as e:
      raise DataFormatError(path, 1, f"unreadable CSV header ({e})") from None
    if not header:
      raise DataFormatError(path, 1, "empty file (expected a CSV header line)")
    missing = [c for c in required if c not in header]
    if missing:
      raise DataFormatError(path, 1, f"CSV header {header} lacks column(s) {missing}")
    start = reader.line_num + 1
    while True:
      try:
        row = next(reader)
      except StopIteration:
        return
      except csv.Error as e:
        raise DataFormatError(path, start, f"malformed CSV row ({e})") from None
      if None in row or any(v is None for v in row.values()):
        raise DataFormatError(path, start, f"expected {len(header)} columns {header}, got a row "
                              "with a different number of fields")
      yield start, row
      start = reader.line_num + 1


def _skip_ws(text: str, pos: int) -> int:
  while pos < len(text) and text[pos] in " \t\r\n":
    pos += 1
  return pos


def _line_of(text: str, pos: int, cache: list[int]) -> int:
  """1-based line of `pos`; `cache` = [last pos, its line] makes forward scans linear."""
  last, line = cache
  line += text.count("\n", last, pos)
  cache[0], cache[1] = pos, line
  return line


def iter_json_array(path: os.PathLike | str,
                    key: str | None = None) -> Iterator[tuple[int, Any]]:
  """Elements of a JSON array: the whole document, or the top-level object's `key`.

  TriviaQA's files are `{"Data": [...], ...}` (key="Data"); SVAMP's are `[...]`.
  Each element is decoded on its own, so a syntax error or a bad element is
  reported with its line.
  """
  path = pathlib.Path(path)
  text = read_text(path)
  decoder = json.JSONDecoder()
  cache = [0, 1]

  def fail(pos, what):
    raise DataFormatError(path, text.count("\n", 0, pos) + 1, what)

  def decode(pos):
    try:
      return decoder.raw_decode(text, pos)
    except json.JSONDecodeError as e:
      fail(e.pos, f"invalid JSON ({e.msg})")

  pos = _skip_ws(text, 0)
  if pos == len(text):
    fail(0, "empty file (expected a JSON array" + (f" under {key!r})" if key else ")"))
  if key is not None:
    if text[pos:pos + 1] != "{":
      fail(pos, f"expected a JSON object with key {key!r}")
    pos = _skip_ws(text, pos + 1)
    while True:
      if text[pos:pos + 1] != '"':
        fail(pos, f"expected key {key!r} in the top-level object")
      name, pos = decode(pos)
      pos = _skip_ws(text, pos)
      if text[pos:pos + 1] != ":":
        fail(pos, "expected ':' after an object key")
      pos = _skip_ws(text, pos + 1)
      if name == key:
        break
      _, pos = decode(pos)
      pos = _skip_ws(text, pos)
      if text[pos:pos + 1] != ",":
        fail(pos, f"top-level object has no key {key!r}")
      pos = _skip_ws(text, pos + 1)
  if text[pos:pos + 1] != "[":
    fail(pos, "expected a JSON array" + (f" under {key!r}" if key else ""))
  pos = _skip_ws(text, pos + 1)
  if text[pos:pos + 1] == "]":
    return
  bar = _progress(None, path, unit="rows")
  while True:
    line = _line_of(text, pos, cache)
    value, pos = decode(pos)
    yield line, value
    bar.update()
    pos = _skip_ws(text, pos)
    if text[pos:pos + 1] == "]":
      bar.close()
      return
    if text[pos:pos + 1] != ",":
      fail(pos, "expected ',' or ']' between array elements")
    pos = _skip_ws(text, pos + 1)


def read_json(path: os.PathLike | str) -> Any:
  """One JSON document (e.g. a MATH problem file)."""
  path = pathlib.Path(path)
  text = read_text(path)
  if not text.strip():
    raise DataFormatError(path, 1, "empty file (expected a JSON document)")
  try:
    return json.loads(text)
  except json.JSONDecodeError as e:
    raise DataFormatError(path, e.lineno, f"invalid JSON ({e.msg})") from None


def iter_parquet(path: os.PathLike | str,
                 columns: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
  """Rows of a Parquet file (only `columns`, which must exist); `line` is the row number."""
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top  # tfds's dependency

  path = pathlib.Path(path)
  try:
    pf = pq.ParquetFile(path)
  except Exception as e:  # pylint: disable=broad-except  # pyarrow raises several kinds
    raise DataFormatError(path, None, f"not a readable Parquet file ({e})") from None
  names = pf.schema_arrow.names
  missing = [c for c in columns if c not in names]
  if missing:
    raise DataFormatError(path, None, f"Parquet columns {names} lack {missing}")
  row = 0
  bar = _progress(None, path, total=pf.metadata.num_rows)
  for batch in pf.iter_batches(columns=list(columns), batch_size=8192):
    for rec in batch.to_pylist():
      row += 1
      yield row, rec
    bar.update(batch.num_rows)
  bar.close()


def field(row: dict[str, Any], name: str, path, line: int, *, kind: type = str,
          optional: bool = False) -> Any:
  """`row[name]` checked to be a `kind` (non-empty when a str); errors name file and line."""
  if name not in row or row[name] is None:
    if optional:
      return None
    raise DataFormatError(path, line, f"missing field {name!r} (fields: {sorted(row)})")
  value = row[name]
  if kind is float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
  else:
    ok = isinstance(value, kind)
  if not ok:
    raise DataFormatError(path, line, f"field {name!r}: expected {kind.__name__}, got "
                          f"{type(value).__name__} {str(value)[:60]!r}")
  if kind is str and not value.strip() and not optional:
    raise DataFormatError(path, line, f"field {name!r} is empty")
  if kind is list and not all(isinstance(v, str) for v in value):
    raise DataFormatError(path, line, f"field {name!r}: expected a list of strings")
  return value
