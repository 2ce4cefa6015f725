"""Across runs: does the probe's KL gap track miscalibration? Spearman, bootstrap CI, scatter.

    stats = spearman_ci(gaps, smeces, n_bootstrap=2000, seed=0)
    scatter(names, gaps, smeces, stats, path="probe_vs_smece.png")
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import scipy.stats

from semcal_jax.calibration import diagrams


def spearman_ci(x: Sequence[float], y: Sequence[float], *, n_bootstrap: int = 2000,
                seed: int = 0, level: float = 0.95) -> dict[str, Any]:
  """Spearman's rho of `x` and `y` (one point per run) with a percentile
  bootstrap interval over runs (resamples with fewer than 3 distinct runs, or a
  constant side, are skipped and counted)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  if x.shape != y.shape or x.ndim != 1:
    raise ValueError(f"spearman_ci: x and y must be 1-d of one length, got {x.shape}, {y.shape}")
  n = len(x)
  if n < 3:
    return {"spearman": float("nan"), "ci": [float("nan")] * 2, "n": n, "p_value": float("nan"),
            "bootstrap_used": 0}
  res = scipy.stats.spearmanr(x, y)
  rng = np.random.default_rng([seed, 13])
  rhos = []
  for _ in range(n_bootstrap):
    i = rng.integers(0, n, size=n)
    if len(np.unique(i)) < 3 or np.ptp(x[i]) == 0 or np.ptp(y[i]) == 0:
      continue
    rhos.append(scipy.stats.spearmanr(x[i], y[i]).statistic)
  a = (1 - level) / 2
  ci = ([float(np.quantile(rhos, a)), float(np.quantile(rhos, 1 - a))] if rhos
        else [float("nan")] * 2)
  return {"spearman": float(res.statistic), "p_value": float(res.pvalue), "ci": ci, "n": n,
          "bootstrap_used": len(rhos)}


def scatter(names: Sequence[str], gaps: Sequence[float], smeces: Sequence[float],
            stats: dict[str, Any], path: str | os.PathLike, *,
            smece_ci: Sequence[Sequence[float]] | None = None, title: str = "") -> None:
  """probe KL gap (x) vs smECE (y), one labelled point per run; rho and CI in the title."""
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(5.2, 4.2))
  gaps, smeces = np.asarray(gaps), np.asarray(smeces)
  if smece_ci is not None:
    ci = np.asarray(smece_ci, np.float64)
    # A percentile interval need not contain the point estimate: clip at 0.
    yerr = [np.maximum(smeces - ci[:, 0], 0.0), np.maximum(ci[:, 1] - smeces, 0.0)]
    ax.errorbar(gaps, smeces, yerr=yerr, fmt="none",
                ecolor="0.6", elinewidth=1, capsize=2)
  ax.scatter(gaps, smeces, zorder=3)
  for name, x, y in zip(names, gaps, smeces):
    ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
  ax.set_xlabel("probe KL gap (held-out KL - finite-M floor)")
  ax.set_ylabel("smECE")
  lo, hi = stats["ci"]
  ax.set_title((title + "\n" if title else "") +
               f"Spearman {stats['spearman']:.2f} [{lo:.2f}, {hi:.2f}], n = {stats['n']}",
               fontsize=9)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  diagrams.save(fig, path)


__all__ = ["scatter", "spearman_ci"]
