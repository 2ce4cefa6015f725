"""ml_collections configs: big_vision-style arguments, overrides, clean errors.

Config files live in `configs/` and define `get_config(arg=None)` returning a
`ConfigDict`. `arg` is the text after ':' in `--config=configs/x.py:a=1,b=foo`;
`parse_arg` turns it into typed fields (big_vision's `parse_arg`).

Two ways in:
- scripts: `config_flags.DEFINE_config_file("config", lock_config=True)` and
  `run(main)` instead of `absl.app.run(main)`, so that a bad override
  (`--config.a.b=v`) ends the program with one clear line naming the key;
- Python (tests, notebooks): `load("configs/x.py:arg", {"a.b": v})`, no flags.

Either way unknown keys and wrong types are rejected, naming the key.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any, Iterable, Mapping

import ml_collections
from ml_collections import config_dict
from semcal_jax.errors import InputError, one_line


class ConfigError(InputError):
  """A config cannot be loaded or a key/value is wrong; the message says which."""


def _coerce(key: str, text: str, default: Any) -> Any:
  if isinstance(default, bool):
    low = text.lower()
    if low in ("1", "true", "yes"):
      return True
    if low in ("0", "false", "no"):
      return False
    raise ConfigError(f"config argument {key!r}: expected a boolean, got {text!r}")
  for typ in (int, float):
    if isinstance(default, typ):
      try:
        return typ(text)
      except ValueError:
        raise ConfigError(f"config argument {key!r}: expected {typ.__name__}, got {text!r}") from None
  return text


def parse_arg(arg: str | None, **defaults: Any) -> ml_collections.ConfigDict:
  """Parses `"a=1,b=foo,flag"` into a ConfigDict typed like `defaults`.

  Keys must be among `defaults` (an unknown key is an error naming it); a bare
  key sets a boolean to True. Values take the type of their default.
  """
  out = ml_collections.ConfigDict(dict(defaults))
  if not arg:
    return out
  for item in arg.split(","):
    if not item:
      continue
    key, eq, text = item.partition("=")
    key = key.strip()
    if key not in defaults:
      raise ConfigError(f"unknown config argument {key!r} in {arg!r}; known: "
                        f"{', '.join(sorted(defaults))}")
    if not eq:
      if not isinstance(defaults[key], bool):
        raise ConfigError(f"config argument {key!r} needs a value ({key}=...)")
      text = "true"
    out[key] = _coerce(key, text.strip(), defaults[key])
  return out


def split_spec(spec: str) -> tuple[str, str | None]:
  """`"configs/x.py:arg"` -> `("configs/x.py", "arg")`."""
  path, sep, arg = os.fspath(spec).partition(".py:")
  if sep:
    return path + ".py", arg
  return os.fspath(spec), None


def _import_file(path: str):
  if not os.path.isfile(path):
    raise ConfigError(f"config file not found: {path}")
  name = "_semcal_config_" + os.path.splitext(os.path.basename(path))[0]
  module_spec = importlib.util.spec_from_file_location(name, path)
  if module_spec is None or not path.endswith(".py"):
    raise ConfigError(f"config file {path} is not a Python file (expected a .py file defining "
                      "get_config(arg=None))")
  module = importlib.util.module_from_spec(module_spec)
  try:
    module_spec.loader.exec_module(module)
  except Exception as e:  # a broken config file is the user's to fix; say which
    raise ConfigError(f"config file {path} failed to import: {type(e).__name__}: {e}") from e
  if not hasattr(module, "get_config"):
    raise ConfigError(f"config file {path} defines no get_config(arg=None)")
  return module


def load(spec: str, overrides: Mapping[str, Any] | Iterable[str] | None = None,
         *, lock: bool = True) -> ml_collections.ConfigDict:
  """Loads `configs/x.py[:arg]` and applies `overrides` (dict or "a.b=v" strings)."""
  path, arg = split_spec(spec)
  module = _import_file(path)
  cfg = module.get_config(arg) if arg is not None else module.get_config()
  if not isinstance(cfg, ml_collections.ConfigDict):
    raise ConfigError(f"{path}: get_config returned {type(cfg).__name__}, not a ConfigDict")
  if lock:
    cfg.lock()
  if overrides:
    apply_overrides(cfg, overrides)
  return cfg


def _known(cfg: ml_collections.ConfigDict) -> str:
  return ", ".join(sorted(cfg.keys()))


def _lookup(cfg: ml_collections.ConfigDict, key: str):
  """Parent dict and leaf name of dotted `key`, or ConfigError naming it."""
  parts = key.split(".")
  node = cfg
  for i, part in enumerate(parts[:-1]):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      where = ".".join(parts[:i]) or "<top>"
      raise ConfigError(f"unknown config key {key!r}: no {part!r} under {where}")
    node = node[part]
  if not isinstance(node, ml_collections.ConfigDict) or parts[-1] not in node:
    where = ".".join(parts[:-1]) or "top level"
    known = _known(node) if isinstance(node, ml_collections.ConfigDict) else "(not a dict)"
    raise ConfigError(f"unknown config key {key!r}; known at {where}: {known}")
  return node, parts[-1]


def _field_type(node, leaf):
  field = node.get_ref(leaf) if hasattr(node, "get_ref") else None
  if field is not None and getattr(field, "_field_type", None) is not None:
    return field._field_type  # pylint: disable=protected-access
  value = node[leaf]
  return None if value is None else type(value)


def _parse_value(key: str, value: Any, typ) -> Any:
  if not isinstance(value, str) or typ is None or typ is str:
    return value
  if typ is bool:
    return _coerce(key, value, False)
  if typ in (int, float):
    return _coerce(key, value, typ())
  if typ in (tuple, list):
    import ast  # pylint: disable=g-import-not-at-top
    try:
      parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      raise ConfigError(f"config key {key!r}: expected a {typ.__name__} literal, got {value!r}") from None
    return typ(parsed) if isinstance(parsed, (list, tuple)) else typ([parsed])
  return value


def apply_overrides(cfg: ml_collections.ConfigDict,
                    overrides: Mapping[str, Any] | Iterable[str]) -> ml_collections.ConfigDict:
  """Sets dotted keys; unknown keys and wrong types raise ConfigError naming the key."""
  items = overrides.items() if isinstance(overrides, Mapping) else (
      _split_override(o) for o in overrides)
  for key, value in items:
    node, leaf = _lookup(cfg, key)
    value = _parse_value(key, value, _field_type(node, leaf))
    try:
      with cfg.unlocked() if not cfg.is_locked else _Null():
        node[leaf] = value
    except (TypeError, KeyError, AttributeError) as e:
      raise ConfigError(f"config key {key!r}: cannot set {value!r}: {e}") from None
  return cfg


def _split_override(text: str) -> tuple[str, str]:
  key, eq, value = text.partition("=")
  if not eq:
    raise ConfigError(f"override {text!r}: expected key=value")
  return key.strip().removeprefix("--config.").removeprefix("config."), value


class _Null:
  def __enter__(self):
    return self

  def __exit__(self, *a):
    return False


def _explain_flag_error(argv: list[str], error: Exception) -> str:
  """One line naming the offending `--config...` argument."""
  spec = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
  if spec is not None and not os.path.isfile(split_spec(spec)[0]):
    return f"error: config file not found: {split_spec(spec)[0]}"
  if spec is None:
    return f"error: {error}"
  try:
    cfg = load(spec)
  except ConfigError as e:
    return f"error: {e}"
  for a in argv:
    if a.startswith("--config.") and "=" in a:
      key, value = _split_override(a)
      try:
        apply_overrides(cfg, {key: value})
      except ConfigError as e:
        return f"error: {e} (from {a})"
  return f"error: {str(error).splitlines()[0]}"


DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "semcal_jax", "jax")
MIN_CACHED_COMPILE_SECONDS = 0.2


def enable_compilation_cache() -> str:
  """Turns on JAX's persistent compilation cache and returns its folder:
  $JAX_COMPILATION_CACHE_DIR if set, else ~/.cache/semcal_jax/jax. Programs
  that took at least `MIN_CACHED_COMPILE_SECONDS` to compile are stored, so a
  second run of a command (or another command with the same shapes) loads
  them instead of compiling again."""
  import jax  # pylint: disable=g-import-not-at-top
  folder = os.environ.get("JAX_COMPILATION_CACHE_DIR") or DEFAULT_CACHE_DIR
  jax.config.update("jax_compilation_cache_dir", folder)
  if not os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_CACHED_COMPILE_SECONDS)
  return folder


def run(main, argv: list[str] | None = None) -> None:
  """`absl.app.run(main)`, but a bad flag or config, and any `errors.InputError`
  raised by `main` (a config key, a data or model file, a workdir), end the program
  with one line `error: ...` and exit status 2. `--verbose` (defined here) prints
  the traceback too. The persistent compilation cache is on
  (`enable_compilation_cache`)."""
  import traceback  # pylint: disable=g-import-not-at-top

  from absl import app, flags  # pylint: disable=g-import-not-at-top
  if "verbose" not in flags.FLAGS:
    flags.DEFINE_bool("verbose", False, "Print the traceback of an input error too.")

  def guarded(args):
    enable_compilation_cache()
    try:
      return main(args)
    except InputError as e:
      if flags.FLAGS.verbose:
        traceback.print_exc()
      print(f"error: {one_line(e)}", file=sys.stderr)
      sys.exit(2)

  def parser(args):
    try:
      rest = flags.FLAGS(args)
      for name in ("config",):  # config files load lazily: surface their errors now
        if name in flags.FLAGS and flags.FLAGS[name].present:
          value = flags.FLAGS[name].value
          if type(value).__name__ == "_ErrorConfig":  # raises on any attribute access
            value.to_dict()
      return rest
    except Exception as e:  # absl raises many types for bad flags/configs
      if "--verbose" in args:
        traceback.print_exc()
      print(_explain_flag_error(list(args), e), file=sys.stderr)
      sys.exit(2)

  app.run(guarded, argv=argv, flags_parser=parser)


def to_dict(cfg: ml_collections.ConfigDict) -> dict:
  """A JSON-able dict of a config (for run records)."""
  return cfg.to_dict() if isinstance(cfg, ml_collections.ConfigDict) else dict(cfg)


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
  """`"a.b: old -> new"` for every dotted key whose value differs between two
  nested dicts (config fingerprints)."""
  out = []
  for key in sorted(set(old) | set(new)):
    a, b = old.get(key), new.get(key)
    name = f"{prefix}{key}"
    if isinstance(a, dict) and isinstance(b, dict):
      out += differences(a, b, name + ".")
    elif a != b:
      out.append(f"{name}: {a!r} -> {b!r}")
  return out


placeholder = config_dict.placeholder
