"""The optional CUDA extra pins the same JAX as requirements.txt."""

import re
import tomllib

from tests.conftest import REPO


def test_cuda_extra_pins_the_jax_of_requirements_txt():
  jax_pin = re.search(r"^jax==(\S+)$", (REPO / "requirements.txt").read_text(), re.MULTILINE)
  extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
  assert extras["cuda"] == [f"jax[cuda12]=={jax_pin.group(1)}"]
