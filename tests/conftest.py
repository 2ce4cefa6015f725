"""Shared test setup.

Eight fake CPU devices for the sharding tests: the flag must be set before JAX
initialises its backend, so it is set here, at collection time.
"""

import os

os.environ.setdefault("XLA_FLAGS", "")
if "xla_force_host_platform_device_count" not in os.environ["XLA_FLAGS"]:
  os.environ["XLA_FLAGS"] += " --xla_force_host_platform_device_count=8"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pathlib  # noqa: E402

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(os.environ.get("SEMCAL_SHARED_DATA", REPO.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
  """Skips locally, but fails in CI (CI=true), when a test's inputs are missing."""
  if condition:
    return
  if IN_CI:
    pytest.fail(f"required in CI: {reason}")
  pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
  require(SHARED_DATA.is_dir(), f"real data folder {SHARED_DATA} is missing")
  return SHARED_DATA


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
  """After each test module, drop JAX's compiled programs and collect garbage, so
  one long pytest process does not accumulate every module's executables."""
  yield
  import gc  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  jax.clear_caches()
  gc.collect()


def hf_reference_model(name: str):
  """`transformers` loading the GGUF file of a named model (fp32, eval mode): the
  numerical reference of the parity tests. Dequantising a GGUF file in
  transformers takes a minute or more, so the first call saves the result as
  safetensors under a cache folder ($SEMCAL_TEST_CACHE, default the system temp
  dir; keyed by the file's name, size and mtime) and later calls, in any test
  process, load that."""
  import tempfile  # pylint: disable=g-import-not-at-top
  import filelock  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top
  import safetensors.torch  # pylint: disable=g-import-not-at-top
  from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig  # pylint: disable=g-import-not-at-top
  from semcal_jax.models import registry  # pylint: disable=g-import-not-at-top
  try:
    path = registry.resolve(name)
  except registry.ModelNotFoundError as e:
    require(False, str(e))
  st = path.stat()
  root = pathlib.Path(os.environ.get("SEMCAL_TEST_CACHE",
                                     pathlib.Path(tempfile.gettempdir()) / "semcal_test_cache"))
  folder = root / f"{name}-{st.st_size}-{int(st.st_mtime)}"
  root.mkdir(parents=True, exist_ok=True)
  with filelock.FileLock(str(folder) + ".lock"):
    if not (folder / "model.safetensors").exists():
      model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                                   dtype=torch.float32)
      tmp = folder.with_name(folder.name + ".partial")
      tmp.mkdir(parents=True, exist_ok=True)
      # transformers refuses save_pretrained on a GGUF-loaded model: save the parts.
      model.config.save_pretrained(tmp)
      model.generation_config.save_pretrained(tmp)
      safetensors.torch.save_model(model, str(tmp / "model.safetensors"))
      if folder.exists():
        shutil.rmtree(folder)
      tmp.rename(folder)  # whole or absent
      return model.eval()
  config = AutoConfig.from_pretrained(folder)
  model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
  safetensors.torch.load_model(model, str(folder / "model.safetensors"))
  model.generation_config = GenerationConfig.from_pretrained(folder)
  return model.eval()
