"""Rendering chat templates (jinja2) the way Hugging Face `transformers` does.

Chat templates ship with models (a GGUF's `tokenizer.chat_template`, an HF
folder's `chat_template.jinja` or `tokenizer_config.json`) and are untrusted
code, so they run in jinja2's immutable sandbox. The environment mirrors the
one `transformers.apply_chat_template` builds, so that the same template
renders the same string: `trim_blocks` and `lstrip_blocks`, the `loopcontrols`
extension (`{% break %}`, `{% continue %}`), a `{% generation %}` block tag
(rendered as its body), the globals `raise_exception(msg)` and
`strftime_now(fmt)`, and a `tojson` filter that does not HTML-escape and keeps
non-ASCII text. The special token strings (`bos_token`, `eos_token`, ...) are
passed as template variables.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.sandbox
import jinja2.utils
from semcal_jax.errors import InputError


class ChatTemplateError(InputError):
  """A chat template failed to compile or called `raise_exception`."""


class _GenerationBlock(jinja2.ext.Extension):
  """`{% generation %}...{% endgeneration %}` marks assistant text; we render the body."""

  tags = {"generation"}

  def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
    lineno = next(parser.stream).lineno
    body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
    return jinja2.nodes.CallBlock(self.call_method("_render_body"), [], [], body).set_lineno(lineno)

  def _render_body(self, caller: Any) -> str:
    return caller()


class _Namespace(jinja2.utils.Namespace):
  """`namespace(...)` that refuses underscore attributes (no reaching into internals)."""

  def __init__(*args: Any, **kwargs: Any):  # pylint: disable=no-method-argument
    self, rest = args[0], args[1:]
    attrs = dict(*rest, **kwargs)
    for name in attrs:
      _Namespace._check(name)
    jinja2.utils.Namespace.__init__(self, attrs)

  def __setitem__(self, name: str, value: Any) -> None:
    _Namespace._check(name)
    jinja2.utils.Namespace.__setitem__(self, name, value)

  @staticmethod
  def _check(name: Any) -> None:
    if isinstance(name, str) and name.startswith("_"):
      raise jinja2.exceptions.SecurityError(
          f"chat templates may not set underscore attributes on a namespace (got {name!r})")


def _raise_exception(message: str) -> None:
  raise jinja2.exceptions.TemplateError(message)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
  return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                    sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
  return datetime.datetime.now().strftime(fmt)


@functools.lru_cache(maxsize=32)
def compile_template(source: str) -> jinja2.Template:
  """The compiled template (cached per source text); raises ChatTemplateError on syntax errors."""
  env = jinja2.sandbox.ImmutableSandboxedEnvironment(
      trim_blocks=True, lstrip_blocks=True,
      extensions=[_GenerationBlock, jinja2.ext.loopcontrols])
  env.filters["tojson"] = _tojson
  env.globals["raise_exception"] = _raise_exception
  env.globals["strftime_now"] = _strftime_now
  env.globals["namespace"] = _Namespace
  try:
    return env.from_string(source)
  except jinja2.exceptions.TemplateSyntaxError as e:
    raise ChatTemplateError(f"chat template does not compile: line {e.lineno}: {e.message}") from e


def _plain(value: Any, where: str) -> Any:
  """A copy made of JSON types only (the sandbox sees no foreign objects)."""
  if value is None or type(value) in (str, int, float, bool):
    return value
  if isinstance(value, str):
    return str.__str__(value)
  if isinstance(value, int):
    return int.__int__(value)
  if isinstance(value, float):
    return float.__float__(value)
  if isinstance(value, Mapping):
    return {_plain(k, where): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
  if hasattr(value, "item") and callable(value.item):  # numpy / jax scalars
    return _plain(value.item(), where)
  raise TypeError(f"chat template input {where} has type {type(value).__name__}; only "
                  "str, int, float, bool, None, dicts and lists can be passed")


def render(source: str, messages: Sequence[Mapping[str, Any]], *,
           add_generation_prompt: bool = True, special_tokens: Mapping[str, str | None] = (),
           **extra: Any) -> str:
  """Renders `messages` with the chat template `source`.

  Args:
    source: the jinja2 template text.
    messages: `[{"role": ..., "content": ...}, ...]`.
    add_generation_prompt: end with the header of an assistant turn.
    special_tokens: `{"bos_token": "<bos>", ...}`; None values are left out.
    **extra: further template variables (e.g. `tools`, `documents`,
      `enable_thinking`); they override `special_tokens`, as in transformers.

  Raises:
    ChatTemplateError: the template does not compile or raises (for example on
      a role order it does not support).
    TypeError: a message is not a mapping, or holds a non-JSON value.
  """
  if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
    raise TypeError(f"messages must be a list of dicts, got {type(messages).__name__}")
  for i, message in enumerate(messages):
    if not isinstance(message, Mapping):
      raise TypeError(f"messages[{i}] must be a dict with 'role' and 'content', got "
                      f"{type(message).__name__}")
  variables: dict[str, Any] = {k: v for k, v in dict(special_tokens).items() if v is not None}
  variables.update({k: _plain(v, k) for k, v in extra.items()})
  variables.setdefault("tools", None)
  variables.setdefault("documents", None)
  template = compile_template(source)
  try:
    return template.render(messages=_plain(list(messages), "messages"),
                           add_generation_prompt=bool(add_generation_prompt), **variables)
  except jinja2.exceptions.TemplateError as e:
    raise ChatTemplateError(f"chat template failed: {e}") from e
