"""Collapsing functions by name: `register`, `get`, `available`.

Built in: `normalized`, `numeric`, `math` (registered by `semcal_jax.semantic`).
A new B (e.g. an LLM judge) is one call:

    semantic.register("judge", JudgeCollapsing)         # a class or factory: get() passes options
    semantic.register("mine", MyRule())                 # or an instance (get() takes no options)
    fn = semantic.get("judge", model="smollm2-135m")

Names are case-sensitive identifiers-with-dashes; registering a taken name is
an error unless `overwrite=True`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from semcal_jax.semantic import base

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
_REGISTRY: dict[str, Any] = {}


def _is_collapsing(obj: Any) -> bool:
  return isinstance(obj, base.CollapsingFunction)


def register(name: str, obj_or_factory: Any, *, overwrite: bool = False) -> None:
  """Registers a collapsing function under `name`.

  Args:
    name: the name `get` will take.
    obj_or_factory: a `CollapsingFunction` instance; or a class / callable
      that returns one when called with `get`'s options.
    overwrite: replace an existing registration of `name`.

  Raises:
    ValueError: bad or taken name. TypeError: neither an instance nor callable.
  """
  if not isinstance(name, str) or not _NAME.match(name):
    raise ValueError(f"register: invalid name {name!r} (letters, digits, '_' and '-', "
                     "starting with a letter)")
  if name in _REGISTRY and not overwrite:
    raise ValueError(f"register: {name!r} is already registered; pass overwrite=True to "
                     "replace it")
  if not (_is_collapsing(obj_or_factory) or callable(obj_or_factory)):
    raise TypeError(f"register({name!r}, ...): expected a CollapsingFunction instance or a "
                    f"factory returning one, got {type(obj_or_factory).__name__}")
  _REGISTRY[name] = obj_or_factory


def unregister(name: str) -> None:
  """Removes a registration (KeyError naming the known names if absent)."""
  if name not in _REGISTRY:
    raise KeyError(f"unregister: {name!r} is not registered; known: {available()}")
  del _REGISTRY[name]


def available() -> list[str]:
  """The registered names, sorted."""
  return sorted(_REGISTRY)


def get(name: str, **options: Any) -> base.CollapsingFunction:
  """The collapsing function registered as `name`, built with `options`.

  Raises:
    KeyError: unknown name (the message lists the known ones).
    TypeError: options given for an instance registration, or the factory
      did not return a CollapsingFunction.
  """
  if name not in _REGISTRY:
    raise KeyError(f"unknown collapsing function {name!r}; known: {available()}")
  entry = _REGISTRY[name]
  if _is_collapsing(entry):
    if options:
      raise TypeError(f"get({name!r}): registered as an instance, it takes no options "
                      f"(got {sorted(options)})")
    return entry
  factory: Callable[..., Any] = entry
  obj = factory(**options)
  if not _is_collapsing(obj):
    raise TypeError(f"get({name!r}): the registered factory returned {type(obj).__name__}, "
                    "not a CollapsingFunction")
  return obj
