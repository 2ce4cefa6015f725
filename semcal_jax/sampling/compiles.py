"""`CompileLog`: the compilations JAX performed while a block ran.

Listens to JAX's own monitoring events while the block runs (nothing counted
outside it, no global counters of ours), so a caller can report its compile
time apart and a test can check that a second call compiled nothing.
"""

from __future__ import annotations

import jax.monitoring

_TRACE = "/jax/core/compile/jaxpr_trace_duration"
_COMPILE_EVENTS = (_TRACE, "/jax/core/compile/jaxpr_to_mlir_module_duration",
                   "/jax/core/compile/backend_compile_duration")


class CompileLog:
  """`with CompileLog() as log: ...` -> `log.traces` (functions traced),
  `log.seconds` (tracing, lowering and backend compilation)."""

  def __init__(self):
    self.traces = 0
    self.seconds = 0.0

  def _listen(self, event: str, duration: float, **_):
    if event == _TRACE:
      self.traces += 1
    if event in _COMPILE_EVENTS:
      self.seconds += duration

  def __enter__(self) -> "CompileLog":
    jax.monitoring.register_event_duration_secs_listener(self._listen)
    return self

  def __exit__(self, *exc):
    jax.monitoring.unregister_event_duration_listener(self._listen)
    return False
