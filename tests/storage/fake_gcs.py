"""A fake gs:// bucket: a local folder served by fsspec under the `gs` / `gcs` protocols.

`etils.epath` (without TensorFlow) opens gs:// URLs through `fsspec.filesystem("gcs")`,
and `storage.cache` through `fsspec.core.url_to_fs`, so registering this class under
both names sends the real gs:// code path to `root` instead of the network.
"""

import importlib
import os
import pathlib

import pytest
from etils.epath import backend as epath_backend
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem


class FakeGCS(DirFileSystem):
  """gs://bucket/x is `root`/bucket/x; `info()` reports a generation like GCS."""

  protocol = ("gs", "gcs")
  cachable = False
  root: str = ""

  def __init__(self, *args, **kwargs):
    del args, kwargs  # gcsfs options (finalize_on_close, ...) mean nothing here
    super().__init__(path=type(self).root, fs=LocalFileSystem(auto_mkdir=True))

  def info(self, path, **kwargs):
    out = super().info(path, **kwargs)
    if out.get("type") == "file":
      st = os.stat(self._join(path))
      out["generation"] = str(st.st_mtime_ns)
    return out


@pytest.fixture
def fake_gcs(tmp_path, monkeypatch):
  """`(url, local)`: "gs://bucket" and the folder that holds its objects; the storage
  cache ($SEMCAL_CACHE) is a fresh temporary folder."""
  root = tmp_path / "gcs"
  (root / "bucket").mkdir(parents=True)
  monkeypatch.setattr(FakeGCS, "root", str(root))
  registry = importlib.import_module("fsspec.registry")._registry  # pylint: disable=protected-access
  for name in FakeGCS.protocol:
    monkeypatch.setitem(registry, name, FakeGCS)
  monkeypatch.setenv("SEMCAL_CACHE", str(tmp_path / "cache"))
  epath_backend.fsspec_backend._get_filesystem.cache_clear()  # pylint: disable=protected-access
  yield "gs://bucket", root / "bucket"
  epath_backend.fsspec_backend._get_filesystem.cache_clear()  # pylint: disable=protected-access


def local_of(url: str, fake) -> pathlib.Path:
  """The local file behind a gs:// URL of the fake bucket."""
  base, local = fake
  return local / url[len(base):].lstrip("/")
