"""Row readers: rows with their line numbers, and errors that name the file and line."""

from __future__ import annotations

import json
import pickle
import re

import pytest

from semcal_jax.data import readers
from semcal_jax.errors import InputError


def test_jsonl_rows_with_lines_skip_blank_lines(tmp_path):
  p = tmp_path / "a.jsonl"
  p.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
  assert list(readers.iter_jsonl(p)) == [(1, {"a": 1}), (3, {"a": 2})]


@pytest.mark.parametrize("line, why", [('{"a": 1', "invalid JSON"), ("[1, 2]", "JSON object")])
def test_jsonl_bad_line_names_file_and_line(tmp_path, line, why):
  p = tmp_path / "bad.jsonl"
  p.write_text('{"a": 1}\n' + line + "\n", encoding="utf-8")
  with pytest.raises(readers.DataFormatError, match=rf"bad\.jsonl:2: .*{why}") as e:
    list(readers.iter_jsonl(p))
  assert e.value.line == 2 and e.value.path == str(p)


def test_csv_multiline_fields_report_the_starting_line(tmp_path):
  p = tmp_path / "t.csv"
  p.write_text('metadata,problem,answer\n"{}","two\nlines",x\n"{}",ok,y\n"{}",short\n',
               encoding="utf-8")
  rows = readers.iter_csv(p, required=("problem", "answer"))
  assert next(rows) == (2, {"metadata": "{}", "problem": "two\nlines", "answer": "x"})
  assert next(rows)[0] == 4
  with pytest.raises(readers.DataFormatError, match=r"t\.csv:5: expected 3 columns"):
    next(rows)


def test_csv_missing_column_is_reported(tmp_path):
  p = tmp_path / "t.csv"
  p.write_text("problem,answer\nq,a\n", encoding="utf-8")
  with pytest.raises(readers.DataFormatError,
                     match=r"t\.csv:1: .*lacks column\(s\) \['metadata'\]"):
    list(readers.iter_csv(p, required=("metadata", "problem")))


def test_json_array_under_a_key_gives_element_lines(tmp_path):
  p = tmp_path / "tqa.json"
  doc = {"Version": 1.0, "Meta": {"x": [1, 2]}, "Data": [{"q": 1}, {"q": 2}], "Tail": 1}
  p.write_text(json.dumps(doc, indent=1), encoding="utf-8")
  got = list(readers.iter_json_array(p, key="Data"))
  assert [r for _, r in got] == [{"q": 1}, {"q": 2}]
  lines = p.read_text().splitlines()
  for line, row in got:
    assert lines[line - 1].strip() == "{", (line, row)


def test_json_array_syntax_error_names_the_line(tmp_path):
  p = tmp_path / "s.json"
  p.write_text('[\n {"a": 1},\n {"a": 2,}\n]\n', encoding="utf-8")
  with pytest.raises(readers.DataFormatError, match=r"s\.json:3: invalid JSON"):
    list(readers.iter_json_array(p))


def test_json_array_missing_key(tmp_path):
  p = tmp_path / "s.json"
  p.write_text('{"Other": []}', encoding="utf-8")
  with pytest.raises(readers.DataFormatError, match="no key 'Data'"):
    list(readers.iter_json_array(p, key="Data"))


def test_parquet_rows_and_missing_columns(tmp_path):
  pa = pytest.importorskip("pyarrow")
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  p = tmp_path / "t.parquet"
  pq.write_table(pa.table({"problem": ["a", "b"], "x": [1, 2]}), p)
  assert list(readers.iter_parquet(p, ["problem"])) == [(1, {"problem": "a"}),
                                                        (2, {"problem": "b"})]
  with pytest.raises(readers.DataFormatError, match=r"t\.parquet: .*lack \['answer'\]"):
    list(readers.iter_parquet(p, ["problem", "answer"]))


def test_field_checks_presence_type_and_emptiness():
  row = {"q": "x", "n": 3, "e": " ", "l": ["a", 1]}
  assert readers.field(row, "q", "f.jsonl", 7) == "x"
  with pytest.raises(readers.DataFormatError, match=r"f\.jsonl:7: missing field 'z'"):
    readers.field(row, "z", "f.jsonl", 7)
  with pytest.raises(readers.DataFormatError,
                     match=r"f\.jsonl:7: field 'n': expected str, got int"):
    readers.field(row, "n", "f.jsonl", 7)
  with pytest.raises(readers.DataFormatError, match="field 'e' is empty"):
    readers.field(row, "e", "f.jsonl", 7)
  with pytest.raises(readers.DataFormatError, match="list of strings"):
    readers.field(row, "l", "f.jsonl", 7, kind=list)
  assert readers.field(row, "z", "f.jsonl", 7, optional=True) is None
  assert readers.field(row, "n", "f.jsonl", 7, kind=float) == 3


_BOM = b"\xef\xbb\xbf"


def test_a_byte_order_mark_is_dropped_by_every_text_reader(tmp_path):
  jsonl, csv_file, array, doc = (tmp_path / n for n in ("a.jsonl", "a.csv", "a.json", "d.json"))
  jsonl.write_bytes(_BOM + b'{"a": 1}\n{"a": 2}\n')
  csv_file.write_bytes(_BOM + b"problem,answer\r\nq,x\r\n")
  array.write_bytes(_BOM + b'{"Data": [{"q": 1}]}')
  doc.write_bytes(_BOM + b'{"q": 1}')
  assert list(readers.iter_jsonl(jsonl)) == [(1, {"a": 1}), (2, {"a": 2})]
  assert list(readers.iter_csv(csv_file, required=("problem",))) == [
      (2, {"problem": "q", "answer": "x"})]
  assert list(readers.iter_json_array(array, key="Data")) == [(1, {"q": 1})]
  assert readers.read_json(doc) == {"q": 1}


@pytest.mark.parametrize("name, body, read, line, column", [
    ("a.jsonl", b'{"a": 1}\n{"b": "caf\xe9"}\n', readers.iter_jsonl, 2, 11),
    ("a.csv", b'problem,answer\n"two\nl\xe9ines",x\n', readers.iter_csv, 3, 2),
    ("a.json", b'[\n {"a": 1},\n {"a": "\xe9"}]', readers.iter_json_array, 3, 9),
    ("d.json", _BOM + b'{"a":\n\n "\x92"}', readers.read_json, 3, 3),
])
def test_bytes_that_are_not_utf8_name_file_line_and_column(tmp_path, name, body, read, line,
                                                           column):
  p = tmp_path / name
  p.write_bytes(body)
  with pytest.raises(readers.DataFormatError) as e:
    got = read(p)
    list(got) if not isinstance(got, dict) else got
  byte = body.replace(_BOM, b"").split(b"\n")[line - 1][column - 1]
  assert str(e.value) == (f"{p}:{line}: not valid UTF-8 (byte 0x{byte:02x} at column {column}); "
                          "re-save the file as UTF-8")
  assert isinstance(e.value, InputError) and e.value.line == line


@pytest.mark.parametrize("name, read", [("e.jsonl", readers.iter_jsonl),
                                        ("e.csv", readers.iter_csv),
                                        ("e.json", readers.iter_json_array),
                                        ("d.json", readers.read_json)])
@pytest.mark.parametrize("body", [b"", b"\n  \n", _BOM])
def test_an_empty_file_is_an_error_naming_it(tmp_path, name, read, body):
  p = tmp_path / name
  p.write_bytes(body)
  with pytest.raises(readers.DataFormatError, match=rf"^{re.escape(str(p))}:1: empty file"):
    got = read(p)
    list(got) if not isinstance(got, dict) else got


def test_data_errors_are_one_line_input_errors_that_pickle():
  e = readers.DataNotFoundError("/x/y", None, "no files")
  assert isinstance(e, InputError) and isinstance(e, FileNotFoundError)
  assert str(e) == "/x/y: no files" and str(pickle.loads(pickle.dumps(e))) == str(e)
  assert str(readers.DataFormatError(None, None, "what")) == "what"
