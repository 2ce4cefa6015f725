"""What a sweep's tables say about each model: family, size, kind and lineage.

    describe("gemma-3-270m")  # {"family": "gemma3", "parameters": 268098176,
                              #  "kind": "base", "lineage": "gemma-3-270m"}

Family and parameter count come from the model's configuration, read without
loading weights (`tpu_plan.model_config`: a paper checkpoint by name, a GGUF
file's metadata, an HF folder's config.json). `kind` is one of `KINDS`: the
run's `model.kind` when set (a fine-tuned checkpoint says what made it), else
"instruct" when the name says so (instruct, -it, chat, zephyr) and "base"
otherwise. `lineage` is `model.lineage` when set (e.g. "gemma-3-270m > dpo"),
else the model's own name. A model whose configuration cannot be read gets an
empty family and no parameter count, never an error: a table is still written.
"""

from __future__ import annotations

import functools
import math
import os
import re

from semcal_jax.config_utils import ConfigError
from semcal_jax.errors import InputError
from semcal_jax.pipeline import run_config

KINDS = run_config.MODEL_KINDS
_INSTRUCT = re.compile(r"instruct|(^|[-_])it($|[-_])|chat|zephyr", re.IGNORECASE)


def default_kind(spec: str) -> str:
  """"instruct" for a name that says so, else "base"."""
  name = os.path.basename(os.fspath(spec).rstrip("/"))
  return "instruct" if _INSTRUCT.search(name) else "base"


@functools.lru_cache(maxsize=None)
def _architecture(spec: str) -> tuple[str, int | None]:
  from semcal_jax.pipeline import tpu_memory, tpu_plan  # pylint: disable=g-import-not-at-top
  try:
    _, cfg = tpu_plan.model_config(spec)
  except (ConfigError, InputError, OSError, ValueError, KeyError):
    return "", None
  return cfg.family, sum(math.prod(s) for s in tpu_memory.param_shapes(cfg).values())


def describe(spec: str, kind: str = "", lineage: str = "") -> dict:
  """`{"family", "parameters", "kind", "lineage"}` of a model (module docstring)."""
  if kind and kind not in KINDS:
    raise ConfigError(f"config key 'model.kind': expected one of {KINDS}, got {kind!r}")
  family, parameters = _architecture(os.fspath(spec))
  return {"family": family, "parameters": parameters, "kind": kind or default_kind(spec),
          "lineage": lineage or os.path.basename(os.fspath(spec).rstrip("/"))}
