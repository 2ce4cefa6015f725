"""Reliability diagrams (PNG via matplotlib).

The smoothed diagram is relplot's: the kernel regression `E[y | f]` with the
same reflected Gaussian kernel and the same sigma* as smECE, a bootstrap band
around it, the density of confidences underneath, the diagonal, and smECE in
the legend. Several runs can share one axes. `binned_diagram` is the classic
bar version. All numerics come from this package (jit-compiled); matplotlib
only draws.
"""

from __future__ import annotations

import dataclasses
import io
import os
from typing import Sequence

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from semcal_jax import storage  # noqa: E402
from semcal_jax.calibration import resampling as bootstrap_lib  # noqa: E402
from semcal_jax.calibration import metrics  # noqa: E402
from semcal_jax.calibration import smooth_ece as smece_lib  # noqa: E402
from semcal_jax.calibration import validation  # noqa: E402

MESH_POINTS = 200  # relplot.config.plot_mesh_pts


@dataclasses.dataclass
class SmoothedCurve:
  """Everything a smoothed reliability diagram shows, as numpy arrays."""
  mesh: np.ndarray  # [P] confidence grid
  mu: np.ndarray  # [P] E[y | f] at the mesh
  density: np.ndarray  # [P] density of f (integrates to ~1)
  lower: np.ndarray | None  # [P] bootstrap band, or None
  upper: np.ndarray | None
  smece: float
  sigma: float
  smece_ci: tuple[float, float] | None


_SMECE_VALUE = {flag: (lambda a, b, c, flag=flag: smece_lib.smece_impl(a, b, c, flag).value)
                for flag in (False, True)}


def smoothed_curve(f, y, *, n_bootstrap: int = 200, seed: int = 0, confidence: float = 0.95,
                   full_weight_endpoints: bool = False) -> SmoothedCurve:
  """relplot-style reliability curve at smECE's sigma*, with a bootstrap band."""
  f, y = validation.check_binary_pair(f, y)
  fj = jnp.asarray(f)
  yj = jnp.asarray(y).astype(fj.dtype)
  s = smece_lib.smece(fj, yj, full_weight_endpoints=full_weight_endpoints)
  sigma = float(s.sigma)
  smooth = lambda w: smece_lib.kernel_smooth(fj, yj, sigma, mesh_points=MESH_POINTS, weights=w,
                                             full_weight_endpoints=full_weight_endpoints)
  mesh, num, den = smooth(jnp.ones_like(fj))
  mu = num / (den + smece_lib.DENSITY_FLOOR)
  density = den / (jnp.sum(den) / (MESH_POINTS - 1))
  lower = upper = ci = None
  if n_bootstrap:
    w = bootstrap_lib.resample_weights(bootstrap_lib.key_for(seed), fj.shape[0], n_bootstrap,
                                       fj.dtype)
    _, nums, dens = jax.vmap(smooth)(w)
    mus = nums / (dens + smece_lib.DENSITY_FLOOR)
    alpha = (1 - confidence) / 2
    lower, upper = (np.asarray(jnp.quantile(mus, q, axis=0)) for q in (alpha, 1 - alpha))
    iv = bootstrap_lib.bootstrap(_SMECE_VALUE[bool(full_weight_endpoints)], f, y,
                                 n_resamples=n_bootstrap, seed=seed, confidence=confidence)
    ci = (float(iv.low), float(iv.high))
  return SmoothedCurve(np.asarray(mesh), np.asarray(mu), np.asarray(density), lower, upper,
                       float(s.value), sigma, ci)


def _new_axes(ax):
  if ax is None:
    fig, ax = plt.subplots(figsize=(5, 5))
    return fig, ax
  return ax.figure, ax


def _frame(ax, title=None):
  ax.plot([0, 1], [0, 1], "k--", lw=1, alpha=0.4, label="_diagonal")
  ax.set_xlim(0, 1)
  ax.set_ylim(0, 1)
  ax.set_aspect("equal")
  ax.set_xlabel("confidence f")
  ax.set_ylabel("E[correct | f]")
  if title:
    ax.set_title(title)


def plot_smoothed(curve: SmoothedCurve, *, ax=None, label: str | None = None, color=None,
                  show_density: bool = True, title: str | None = None):
  """Draws one smoothed curve (band, density strip, smECE in the legend)."""
  fig, ax = _new_axes(ax)
  text = f"smECE {curve.smece:.3f}"
  if curve.smece_ci is not None:
    text += f" [{curve.smece_ci[0]:.3f}, {curve.smece_ci[1]:.3f}]"
  line, = ax.plot(curve.mesh, curve.mu, color=color, lw=2,
                  label=f"{label}: {text}" if label else text)
  if curve.lower is not None:
    ax.fill_between(curve.mesh, curve.lower, curve.upper, color=line.get_color(), alpha=0.2,
                    lw=0)
  if show_density:
    scale = 0.15 / max(float(np.max(curve.density)), 1e-12)
    ax.fill_between(curve.mesh, 0, curve.density * scale, color=line.get_color(), alpha=0.25,
                    lw=0)
  _frame(ax, title)
  ax.legend(loc="upper left", fontsize=8)
  return fig, ax


def binned_diagram(f, y, *, n_bins: int = 15, strategy: str = "uniform", ax=None,
                   label=None, title=None):
  """Classic binned reliability diagram with ECE in the legend; returns `(fig, ax)`."""
  f, y = validation.check_binary_pair(f, y)
  conf, acc, mass = (np.asarray(a) for a in metrics.binned_reliability(f, y, None, n_bins,
                                                                       strategy))
  ece = float(metrics.binned_ece(f, y, n_bins=n_bins, strategy=strategy))
  fig, ax = _new_axes(ax)
  live = mass > 0
  if strategy == "uniform":  # bars fill their bins; the gap is measured at the mean confidence
    x, width = (np.arange(n_bins) + 0.5) / n_bins, 1.0 / n_bins
  else:
    x, width = conf, 0.02
  text = f"ECE{n_bins} {ece:.3f}"
  ax.bar(x[live], acc[live], width=width, alpha=0.6, edgecolor="k",
         label=f"{label}: {text}" if label else text)
  ax.bar(x[live], conf[live] - acc[live], bottom=acc[live], width=width, color="red",
         alpha=0.25, label="gap")
  _frame(ax, title)
  ax.legend(loc="upper left", fontsize=8)
  return fig, ax


def plot_runs(runs: Sequence[tuple[str, object, object]], path: str | os.PathLike, *,
              title: str | None = None, n_bootstrap: int = 200, seed: int = 0) -> list:
  """Smoothed diagrams of several `(label, f, y)` runs on one axes, saved as PNG.

  Returns the `SmoothedCurve` of each run.
  """
  fig, ax = plt.subplots(figsize=(5.5, 5.5))
  curves = []
  for label, f, y in runs:
    curve = smoothed_curve(f, y, n_bootstrap=n_bootstrap, seed=seed)
    plot_smoothed(curve, ax=ax, label=label, title=title, show_density=len(runs) <= 3)
    curves.append(curve)
  save(fig, path)
  return curves


def confidence_histogram(f, path: str | os.PathLike, *, bins: int = 21, title=None,
                         correct=None):
  """Histogram of confidences (split by correctness when given), saved as PNG."""
  f = np.asarray(f)
  fig, ax = plt.subplots(figsize=(5, 3.5))
  edges = np.linspace(0, 1, bins + 1)
  if correct is None:
    ax.hist(f, bins=edges, color="gray", edgecolor="k")
  else:
    c = np.asarray(correct).astype(bool)
    ax.hist([f[c], f[~c]], bins=edges, stacked=True, label=["correct", "wrong"],
            color=["tab:green", "tab:red"], edgecolor="k")
    ax.legend(fontsize=8)
  ax.set_xlabel("B-confidence")
  ax.set_ylabel("questions")
  if title:
    ax.set_title(title)
  save(fig, path)


def save(fig, path: str | os.PathLike) -> None:
  """Writes a figure as PNG atomically, locally or to any `storage` URL, and closes it."""
  buf = io.BytesIO()
  fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
  plt.close(fig)
  storage.write_bytes_atomic(path, buf.getvalue())
