"""Row readers for local data files that name the file and line of a bad row.

Every reader yields `(line, row)`: `line` is the 1-based line where the row
starts (JSON Lines, CSV, JSON arrays) or the 1-based row number (Parquet), and
every error is a `DataFormatError` whose message starts with "path:line:".
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

import tqdm

_BIG_FILE = 64 << 20  # progress bars for files above 64 MiB


class DataFormatError(ValueError):
  """A malformed data file; the message names the file and line."""

  def __init__(self, path: os.PathLike | str, line: int | None, what: str):
    where = f"{path}:{line}" if line is not None else str(path)
    super().__init__(f"{where}: {what}")
    self.path, self.line = str(path), line


def _progress(iterable, path: pathlib.Path, total=None, unit="rows"):
  size = path.stat().st_size
  return tqdm.tqdm(iterable, desc=f"reading {path.name}", total=total, unit=unit, leave=False,
                   disable=size < _BIG_FILE, mininterval=1.0)


def iter_jsonl(path: os.PathLike | str) -> Iterator[tuple[int, dict[str, Any]]]:
  """Objects of a JSON Lines file, skipping blank lines."""
  path = pathlib.Path(path)
  with open(path, encoding="utf-8") as fh:
    for line, text in enumerate(_progress(fh, path, unit="lines"), 1):
      if not text.strip():
        continue
      try:
        row = json.loads(text)
      except json.JSONDecodeError as e:
        raise DataFormatError(path, line, f"invalid JSON ({e.msg} at column {e.colno})") from None
      if not isinstance(row, dict):
        raise DataFormatError(path, line, f"expected a JSON object, got {type(row).__name__}")
      yield line, row


def iter_csv(path: os.PathLike | str,
             required: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
  """Rows of a CSV file with a header line; `required` columns must be in the header."""
  path = pathlib.Path(path)
  with open(path, encoding="utf-8", newline="") as fh:
    reader = csv.DictReader(fh)
    try:
      header = reader.fieldnames or []
    except csv.Error as e:
      raise DataFormatError(path, 1, f"unreadable CSV header ({e})") from None
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
  text = path.read_text(encoding="utf-8")
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
  try:
    return json.loads(path.read_text(encoding="utf-8"))
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
