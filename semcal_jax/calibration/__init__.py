"""Calibration of B-confidence: array in, array out, jit-compiled.

Pipeline position: models -> sampling -> semantic (B) -> **calibration**.

- `semantic_confidence`, `heldout_confidence`, `top_classes`: from sampled class
  ids `[Q, M]` to per-question prediction, B-confidence and correctness.
- `smece`, `smece_sigma`: smooth ECE, identical to relplot 1.0.3.
- `binned_ece`, `brier`, `auroc`, `overconfidence`, `accuracy`, `mean_confidence`.
- `bootstrap`: percentile intervals for any `(f, y, w)` metric, one vmap.
- `calibration_metrics`, `semantic_calibration`: everything at once, as a dict.
- `diagrams`: reliability diagrams (smoothed and binned) and histograms.
"""

from semcal_jax.calibration.resampling import Interval, bootstrap
from semcal_jax.calibration.confidence import (SemanticConfidence, heldout_confidence,
                                               semantic_confidence, top_classes)
from semcal_jax.calibration.metrics import (accuracy, auroc, binned_ece, brier, mean_confidence,
                                            overconfidence)
from semcal_jax.calibration.smooth_ece import SmoothECE, kernel_smooth, smece, smece_impl, smece_sigma
from semcal_jax.calibration.summary import calibration_metrics, semantic_calibration

__all__ = [
    "Interval", "SemanticConfidence", "SmoothECE", "accuracy", "auroc", "binned_ece", "bootstrap",
    "brier", "calibration_metrics", "heldout_confidence", "kernel_smooth", "mean_confidence",
    "overconfidence", "semantic_calibration", "semantic_confidence", "smece", "smece_impl",
    "smece_sigma", "top_classes",
]
