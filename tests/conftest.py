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
