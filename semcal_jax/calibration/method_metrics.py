"""One table for many confidence methods: calibration and selective prediction.

`methods_table({key: confidence [Q]}, {key: correct [Q]})` gives, per method,
smECE (relplot's semantics: `smooth_ece.smece_impl`), AUROC, PRR, AURAC,
accuracy and mean confidence, each with a bootstrap interval (`*_ci`), plus
the risk–coverage curve. A method given as a string instead of an array is
one that could not be applied; its entry is `{"skipped": reason}`. A NaN
confidence means the method gave none for that question: the question is left
out of that method's metrics (`n` says how many remain).
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
import numpy as np

from semcal_jax.calibration import metrics
from semcal_jax.calibration import resampling
from semcal_jax.calibration import selective
from semcal_jax.calibration import smooth_ece
from semcal_jax.calibration import validation

METRICS = ("smece", "auroc", "prr", "aurac", "accuracy", "mean_confidence", "overconfidence")


def _method_metrics(f, y, w):
  return {
      "smece": smooth_ece.smece_impl(f, y, w).value,
      "auroc": metrics.auroc_impl(f, y, w),
      "prr": selective.prr_impl(f, y, w),
      "aurac": selective.aurac_impl(f, y, w),
      "accuracy": metrics.accuracy_impl(f, y, w),
      "mean_confidence": metrics.mean_confidence_impl(f, y, w),
      "overconfidence": metrics.overconfidence_impl(f, y, w),
  }


def evaluate(f, y, *, n_bootstrap: int = 1000, seed: int = 0, curve_points: int = 21) -> dict:
  """The metrics of one method's `(f [Q], y [Q])`, with intervals when `n_bootstrap`."""
  f, y = np.asarray(f), np.asarray(y)
  if f.shape == y.shape and np.issubdtype(f.dtype, np.floating):
    keep = ~np.isnan(f)
    f, y = f[keep], y[keep]
  f, y = validation.check_binary_pair(f, y)
  f = np.asarray(f)
  y = np.asarray(y).astype(f.dtype)
  out: dict = {"n": int(f.shape[0])}
  if n_bootstrap:
    iv = resampling.bootstrap(_method_metrics, f, y, n_resamples=n_bootstrap, seed=seed)
    for k in METRICS:
      out[k] = float(iv.estimate[k])
      out[f"{k}_ci"] = [float(iv.low[k]), float(iv.high[k])]
  else:
    single, _ = resampling.compiled(_method_metrics)
    for k, v in single(f, y, np.ones_like(f)).items():
      out[k] = float(v)
  fj = jnp.asarray(f)
  coverage, risk = selective.risk_coverage_impl(fj, jnp.asarray(y, fj.dtype), jnp.ones_like(fj),
                                                curve_points)
  out["risk_coverage"] = {"coverage": [round(float(c), 6) for c in coverage],
                          "risk": [round(float(r), 6) for r in risk]}
  return out


def methods_table(confidences: Mapping[str, object], correct: Mapping[str, object], *,
                  n_bootstrap: int = 1000, seed: int = 0) -> dict[str, dict]:
  """`{method: evaluate(...)}`; a string confidence is a skipped method's reason."""
  out = {}
  for key, f in confidences.items():
    if isinstance(f, str):
      out[key] = {"skipped": f}
      continue
    if key not in correct:
      raise ValueError(f"correct: no outcomes for method {key!r}")
    out[key] = evaluate(np.asarray(f), np.asarray(correct[key]), n_bootstrap=n_bootstrap,
                        seed=seed)
  return out
