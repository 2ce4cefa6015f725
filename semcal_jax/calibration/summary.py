"""All calibration numbers of a run in one call, with bootstrap intervals.

`calibration_metrics` works on (confidence, correct) pairs; `semantic_calibration`
starts from sampled class ids (`[Q, M]`) and adds the per-question statistics
and the class-wise (top-k) calibration. Both return plain Python floats in a
dict, ready for `report.json`.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from semcal_jax.calibration import resampling as bootstrap_lib
from semcal_jax.calibration import confidence as confidence_lib
from semcal_jax.calibration import metrics
from semcal_jax.calibration import smooth_ece as smece_lib
from semcal_jax.calibration import validation

ESTIMATORS = ("plurality", "heldout")


def _all_metrics(f, y, w, *, n_bins, full_weight_endpoints):
  s = smece_lib.smece_impl(f, y, w, full_weight_endpoints)
  return {
      "accuracy": metrics.accuracy_impl(f, y, w),
      "mean_confidence": metrics.mean_confidence_impl(f, y, w),
      "overconfidence": metrics.overconfidence_impl(f, y, w),
      "smece": s.value,
      "sigma": s.sigma,
      "ece": metrics.binned_ece_impl(f, y, w, n_bins, "uniform"),
      "ece_equal_mass": metrics.binned_ece_impl(f, y, w, n_bins, "equal_mass"),
      "brier": metrics.brier_impl(f, y, w),
      "auroc": metrics.auroc_impl(f, y, w),
  }


@functools.lru_cache(maxsize=None)
def _metrics_fn(n_bins: int, full_weight_endpoints: bool):
  """One function object per setting, so that jit caches hit across calls."""
  return functools.partial(_all_metrics, n_bins=n_bins, full_weight_endpoints=full_weight_endpoints)


def calibration_metrics(f, y, *, weights=None, n_bins: int = 15, n_bootstrap: int = 1000,
                        seed: int = 0, confidence: float = 0.95, ci_method: str = "percentile",
                        full_weight_endpoints: bool = False) -> dict:
  """Accuracy, mean confidence, over-confidence, smECE (+ sigma*), ECE (uniform and
  equal-mass), Brier and AUROC of `(f, y)`, each with a `<name>_ci` [low, high]
  bootstrap interval (`ci_method`, see `resampling.bootstrap`) from `n_bootstrap`
  resamples (0 = no intervals)."""
  f, y = validation.check_binary_pair(f, y)
  validation.check_positive_int("n_bins", n_bins)
  fn = _metrics_fn(n_bins, bool(full_weight_endpoints))
  out = {"n": int(np.asarray(f).shape[0])}
  if n_bootstrap:
    iv = bootstrap_lib.bootstrap(fn, f, y, weights=weights, n_resamples=n_bootstrap, seed=seed,
                                 confidence=confidence, method=ci_method)
    for k, v in iv.estimate.items():
      out[k] = float(v)
      if k != "sigma":
        out[f"{k}_ci"] = [float(iv.low[k]), float(iv.high[k])]
  else:
    fj = jnp.asarray(f)
    w = jnp.ones_like(fj) if weights is None else jnp.asarray(weights, fj.dtype)
    for k, v in bootstrap_lib.compiled(fn)[0](fj, jnp.asarray(y).astype(fj.dtype), w).items():
      out[k] = float(v)
  return out


def semantic_calibration(class_ids, reference=None, *, matches=None, estimator: str = "plurality",
                         select_fraction: float = 0.5, unparsed: str = "class", top_k: int = 3,
                         **metric_kwargs) -> dict:
  """Calibration of B-confidence from sampled class ids.

  Args:
    class_ids: `[Q, M]` class ids (-1 unparsed); reference `[Q]` or matches `[Q, M]`.
    estimator: "plurality" (choose and measure on the same M samples) or
      "heldout" (choose on the first `select_fraction`, measure on the rest).
    unparsed: policy for class -1 (see `confidence`).
    top_k: classes per question in the class-wise calibration error.
    **metric_kwargs: passed to `calibration_metrics` (n_bins, n_bootstrap, seed, ...).

  Returns:
    `calibration_metrics` of (confidence, correct), plus `num_questions`,
    `num_samples`, `mean_entropy`, `mean_num_classes`, `unparsed_fraction`,
    `classwise_smece` / `classwise_ece` over the top-k classes, and
    `per_question` (numpy arrays of the `SemanticConfidence` fields).
  """
  if estimator not in ESTIMATORS:
    raise ValueError(f"estimator: expected one of {ESTIMATORS}, got {estimator!r}")
  if estimator == "plurality":
    sc = confidence_lib.semantic_confidence(class_ids, reference, matches=matches,
                                            unparsed=unparsed)
  else:
    sc = confidence_lib.heldout_confidence(class_ids, reference, matches=matches,
                                           select_fraction=select_fraction, unparsed=unparsed)
  out = calibration_metrics(np.asarray(sc.confidence), np.asarray(sc.correct), **metric_kwargs)
  ids = np.asarray(class_ids)
  out.update(
      num_questions=int(ids.shape[0]),
      num_samples=int(ids.shape[1]),
      estimator=estimator,
      mean_entropy=float(jnp.mean(sc.entropy)),
      mean_num_classes=float(jnp.mean(sc.num_classes)),
      unparsed_fraction=float(jnp.mean(sc.unparsed_fraction)),
  )
  share, correct, present = confidence_lib.top_classes(class_ids, reference, matches=matches,
                                                       k=top_k, unparsed=unparsed)
  f, y, w = (np.asarray(a).reshape(-1) for a in (share, correct, present))
  f = f.astype(np.asarray(sc.confidence).dtype)
  out["classwise_top_k"] = top_k
  out["classwise_smece"] = float(smece_lib.smece(f, y, weights=w.astype(f.dtype)).value)
  out["classwise_ece"] = float(metrics.binned_ece(f, y, weights=w.astype(f.dtype),
                                                  n_bins=metric_kwargs.get("n_bins", 15)))
  out["per_question"] = {k: np.asarray(v) for k, v in sc._asdict().items()}
  return out
