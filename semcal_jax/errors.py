"""The one base class of errors a user causes and can fix.

`InputError` is raised for a bad config key or value, a missing or malformed
file (data set, model, tokenizer), or a workdir that cannot be used (another
config, another writer, unwritable). Its message is one line that names the
culprit (key, file and line, or value) and, where it helps, what to do. Every
command-line tool catches it (`config_utils.run`), prints `error: <message>`
and exits with status 2; any other exception is a bug and keeps its traceback.

This module imports nothing, so every layer (storage and config at the bottom)
can subclass it.
"""

from __future__ import annotations


class InputError(ValueError):
  """Bad user input (config, file, workdir); the message names it in one line."""


def one_line(error: BaseException) -> str:
  """`error`'s message folded onto one line (a multi-line message keeps its first
  line and says how many more there were)."""
  lines = [l.strip() for l in str(error).strip().splitlines() if l.strip()]
  if not lines:
    return type(error).__name__
  if len(lines) == 1:
    return lines[0]
  return f"{lines[0]} (+{len(lines) - 1} more lines; rerun with --verbose)"
