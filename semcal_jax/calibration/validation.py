"""Input checks for the calibration module.

Every public metric validates its inputs before it computes anything and raises
`ValueError` naming the argument and what is wrong with it. Nothing is coerced:
a confidence of 1.2 is an error, not a 1.0.

Shape checks always run. Value checks (NaN, range, 0/1 labels) need concrete
values, so they run whenever the input is a concrete array and are skipped for
tracers, i.e. when a metric is called inside a user's own `jax.jit`. Call the
metric (or :func:`check_confidences` / :func:`check_labels`) once outside jit
if you need the checks there too.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def is_concrete(x: Any) -> bool:
  """True when `x` holds values we can inspect (not a tracer under jit/vmap)."""
  return not isinstance(x, jax.core.Tracer)


def as_array(name: str, x: Any) -> Any:
  """Returns `x` as an array, rejecting None, strings and ragged input."""
  if x is None:
    raise ValueError(f"{name}: expected an array, got None")
  if isinstance(x, (str, bytes)):
    raise ValueError(f"{name}: expected an array, got a string {x!r}")
  if isinstance(x, (jax.Array, np.ndarray)) or not is_concrete(x):
    return x
  try:
    return np.asarray(x)
  except ValueError as e:  # ragged lists
    raise ValueError(f"{name}: cannot be read as an array ({e})") from None


def check_nonempty(name: str, x: Any) -> None:
  if x.size == 0:
    raise ValueError(f"{name}: is empty (shape {tuple(x.shape)}); need at least one element")


def check_ndim(name: str, x: Any, ndim: int, what: str) -> None:
  if x.ndim != ndim:
    raise ValueError(f"{name}: expected {what} ({ndim}-d), got shape {tuple(x.shape)}")


def check_same_shape(name_a: str, a: Any, name_b: str, b: Any) -> None:
  if tuple(a.shape) != tuple(b.shape):
    raise ValueError(
        f"{name_a} and {name_b}: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")


def check_float(name: str, x: Any) -> None:
  if not np.issubdtype(x.dtype, np.floating):
    raise ValueError(f"{name}: expected floating-point confidences, got dtype {x.dtype}")


def check_confidences(name: str, f: Any) -> None:
  """`f` must be finite floats in [0, 1]."""
  check_float(name, f)
  if not is_concrete(f):
    return
  v = np.asarray(f)
  bad = ~np.isfinite(v)
  if bad.any():
    i = int(np.flatnonzero(bad.reshape(-1))[0])
    raise ValueError(f"{name}: contains NaN or inf ({int(bad.sum())} values, first at flat index {i})")
  out = (v < 0) | (v > 1)
  if out.any():
    i = int(np.flatnonzero(out.reshape(-1))[0])
    raise ValueError(
        f"{name}: values must lie in [0, 1]; {int(out.sum())} do not "
        f"(first at flat index {i}: {v.reshape(-1)[i]!r})")


def check_labels(name: str, y: Any) -> None:
  """`y` must be bool, or numbers that are exactly 0 or 1."""
  if y.dtype == np.bool_ or not is_concrete(y):
    return
  if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
    raise ValueError(f"{name}: expected 0/1 labels, got dtype {y.dtype}")
  v = np.asarray(y)
  bad = ~((v == 0) | (v == 1))
  if bad.any():
    i = int(np.flatnonzero(bad.reshape(-1))[0])
    raise ValueError(
        f"{name}: labels must be 0 or 1; {int(bad.sum())} are not "
        f"(first at flat index {i}: {v.reshape(-1)[i]!r})")


def check_weights(name: str, w: Any, like_name: str, like: Any) -> None:
  check_same_shape(like_name, like, name, w)
  if not is_concrete(w):
    return
  v = np.asarray(w)
  if not np.all(np.isfinite(v)) or np.any(v < 0):
    raise ValueError(f"{name}: weights must be finite and non-negative")
  if v.sum() <= 0:
    raise ValueError(f"{name}: weights sum to zero")


def check_binary_pair(f: Any, y: Any, *, f_name: str = "f", y_name: str = "y",
                      ndim: int | None = 1) -> tuple[Any, Any]:
  """Validates a (confidence, label) pair and returns them as arrays."""
  f = as_array(f_name, f)
  y = as_array(y_name, y)
  if ndim is not None:
    check_ndim(f_name, f, ndim, "a vector of confidences" if ndim == 1 else "an array")
  check_same_shape(f_name, f, y_name, y)
  check_nonempty(f_name, f)
  check_confidences(f_name, f)
  check_labels(y_name, y)
  return f, y


def check_positive_int(name: str, v: Any) -> int:
  if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
    raise ValueError(f"{name}: expected a positive integer, got {v!r}")
  return int(v)


def check_sigma(name: str, sigma: Any) -> None:
  if is_concrete(sigma):
    s = np.asarray(sigma)
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
      raise ValueError(f"{name}: bandwidth must be finite and > 0, got {sigma!r}")
