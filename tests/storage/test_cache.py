"""The identity-keyed cache of remote files and folders (on a fake gs:// bucket)."""

import os

import pytest

from semcal_jax import storage
from semcal_jax.storage import cache

from tests.storage.fake_gcs import local_of


def _put(fake, rel, data: bytes):
  path = local_of(f"{fake[0]}/{rel}", fake)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(data)
  return f"{fake[0]}/{rel}"


def test_same_file_names_in_two_folders_get_their_own_entries(fake_gcs):
  base = _put(fake_gcs, "base/model-00001-of-00002.safetensors", b"base weights")
  tuned = _put(fake_gcs, "instruct/model-00001-of-00002.safetensors", b"instruct weights!")
  a, b = storage.local_file(base), storage.local_file(tuned)
  assert a != b and a.name == b.name == "model-00001-of-00002.safetensors"
  assert a.read_bytes() == b"base weights" and b.read_bytes() == b"instruct weights!"
  assert storage.local_file(base) == a  # a second call reuses the entry
  assert str(a).startswith(str(storage.cache_root()))


def test_rewritten_source_gets_a_new_entry(fake_gcs):
  url = _put(fake_gcs, "data/q.jsonl", b"v1")
  first = storage.local_file(url)
  src = local_of(url, fake_gcs)
  src.write_bytes(b"version 2")
  os.utime(src, ns=(1, 2_000_000_000_000_000_000))  # a new generation for sure
  second = storage.local_file(url)
  assert second != first and second.read_bytes() == b"version 2"


def test_truncated_entry_is_detected_and_replaced(fake_gcs):
  url = _put(fake_gcs, "m/model.safetensors", bytes(range(256)) * 64)
  entry = storage.local_file(url)
  with open(entry, "r+b") as fh:
    fh.truncate(100)  # a copy cut short
  again = storage.local_file(url)
  assert again == entry and again.read_bytes() == bytes(range(256)) * 64


def test_short_download_leaves_no_entry(fake_gcs, monkeypatch):
  url = _put(fake_gcs, "m/x.bin", b"12345")
  monkeypatch.setattr(cache, "identity", lambda u: (10, "g1"))  # the source "has" 10 bytes
  with pytest.raises(storage.StorageError, match=r"m/x.bin: copied 5 bytes, the source has 10"):
    storage.local_file(url)
  assert not [p for p in storage.cache_root().rglob("*") if p.is_file()]


def test_source_without_version_is_keyed_by_content(fake_gcs, monkeypatch):
  url = _put(fake_gcs, "m/y.bin", b"abc")
  monkeypatch.setattr(cache, "VERSION_FIELDS", ())
  size, version = cache.identity(url)
  assert size == 3 and version == (
      "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_local_tree_copies_a_folder_and_follows_changes(fake_gcs):
  _put(fake_gcs, "data/trivia/a.jsonl", b"a")
  _put(fake_gcs, "data/trivia/sub/b.jsonl", b"bb")
  tree = storage.local_tree(f"{fake_gcs[0]}/data/trivia/")
  assert tree.name == "trivia"
  assert (tree / "a.jsonl").read_bytes() == b"a" and (tree / "sub/b.jsonl").read_bytes() == b"bb"
  _put(fake_gcs, "data/trivia/sub/b.jsonl", b"changed")
  newer = storage.local_tree(f"{fake_gcs[0]}/data/trivia")
  assert newer != tree and (newer / "sub/b.jsonl").read_bytes() == b"changed"
  assert storage.local_tree(f"{fake_gcs[0]}/data/trivia/a.jsonl").read_bytes() == b"a"


def test_local_paths_are_returned_as_they_are_and_missing_urls_named(tmp_path, fake_gcs):
  assert storage.local_file(tmp_path / "x") == tmp_path / "x"
  assert storage.local_tree(str(tmp_path)) == tmp_path
  with pytest.raises(storage.StorageError, match=r"gs://bucket/nope.bin: no such file"):
    storage.local_file(f"{fake_gcs[0]}/nope.bin")
