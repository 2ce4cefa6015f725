"""Hugging Face Hub ids resolved from a pre-filled local cache, offline."""

import shutil

import numpy as np
import pytest

import semcal_jax.models as models
from semcal_jax import storage
from semcal_jax.models import registry

from tests.models import hf_reference

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
  """`HF_HUB_CACHE` holding "org/tiny" (a tiny qwen2, main = COMMIT), offline."""
  hf_model, _, _ = hf_reference.build("qwen2")
  hf_model.save_pretrained(tmp_path / "saved", safe_serialization=True)
  root = tmp_path / "hub"
  for repo in ("models--org--tiny", "models--Qwen--Qwen2.5-0.5B"):
    snap = root / repo / "snapshots" / COMMIT
    shutil.copytree(tmp_path / "saved", snap)
    (root / repo / "refs").mkdir()
    (root / repo / "refs" / "main").write_text(COMMIT)
  monkeypatch.setenv("HF_HUB_CACHE", str(root))
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")
  return hf_model, root


def test_hub_id_loads_from_the_cache(hub_cache):
  hf_model, root = hub_cache
  folder = storage.hub.snapshot("org/tiny")
  assert folder == root / "models--org--tiny" / "snapshots" / COMMIT
  assert storage.hub.snapshot(f"org/tiny@{COMMIT}") == folder
  loaded = models.load("org/tiny", with_tokenizer=False, progress=False)
  tokens = np.random.default_rng(0).integers(0, 320, size=(1, 9))
  ref = hf_reference.reference_logits(hf_model, tokens)
  assert np.abs(np.asarray(loaded.logits(tokens)) - ref).max() <= 1e-4


def test_paper_name_resolves_through_the_cache(hub_cache):
  assert registry.resolve("qwen2.5-0.5b") == (
      hub_cache[1] / "models--Qwen--Qwen2.5-0.5B" / "snapshots" / COMMIT)
  with pytest.raises(registry.ModelNotFoundError, match=r"Qwen/Qwen2.5-7B .*not in the local"):
    registry.resolve("qwen2.5-7b")


def test_uncached_id_offline_is_one_line_naming_it(hub_cache):
  with pytest.raises(registry.ModelNotFoundError) as e:
    registry.resolve("org/absent")
  message = str(e.value)
  assert "org/absent" in message and "\n" not in message
  with pytest.raises(storage.StorageError, match=r"'org/absent' is not in .*hub"):
    storage.hub.snapshot("org/absent")
  assert storage.hub.is_hub_id("org/name@v1") and not storage.hub.is_hub_id("/abs/path")
  assert not storage.hub.is_hub_id("gs://b/x") and not storage.hub.is_hub_id("a/b/c")
