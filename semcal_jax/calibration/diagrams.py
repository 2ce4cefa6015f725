"""Reliability diagrams (PNG via matplotlib).

The smoothed diagram follows relplot's: the kernel regression `E[y | f]` with
the same reflected Gaussian kernel and the same sigma* as smECE, a bootstrap
band around it, the diagonal, and smECE in the legend. How it is drawn:

- the curve's width and opacity follow the local density of confidences
  (relative to its maximum), and where that density is below `MIN_DENSITY`
  nothing is drawn: a region without data shows no curve and no band;
- the band is the run's colour, faded by the same density;
- the atoms at 0 and 1 (the share of confidences within `ATOM_EPS` of an end,
  e.g. unanimous samples at f = 1) are drawn as points sized by their share,
  at their own accuracy, with its Wilson 95 % interval;
- the density of confidences is drawn in its own strip below the diagram, in
  grey for one run, in each run's colour for several.

Several runs share one axes (base vs instruct). `binned_diagram` is the
classic bar version. All numerics come from this package (jit-compiled);
matplotlib only draws.
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
import matplotlib.collections  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from semcal_jax import storage  # noqa: E402
from semcal_jax.calibration import resampling as bootstrap_lib  # noqa: E402
from semcal_jax.calibration import metrics  # noqa: E402
from semcal_jax.calibration import smooth_ece as smece_lib  # noqa: E402
from semcal_jax.calibration import validation  # noqa: E402

MESH_POINTS = 200  # relplot.config.plot_mesh_pts
MIN_DENSITY = 0.02  # curve and band are drawn where density / max density reaches this
ATOM_EPS = 0.005  # confidences this close to 0 or 1 form the end atoms
MIN_ATOM_SHARE = 0.01  # atoms with a smaller share of the data are not marked


@dataclasses.dataclass
class Atom:
  """The points at one end of [0, 1]: where, what share of the data, their accuracy
  and its Wilson 95 % interval."""
  x: float
  share: float
  accuracy: float
  low: float
  high: float


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
  """Wilson score interval of a binomial proportion (`n` > 0)."""
  p = successes / n
  centre = (p + z * z / (2 * n)) / (1 + z * z / n)
  half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
  return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def end_atoms(f, y) -> list[Atom]:
  """The atoms at 0 and 1 holding at least `MIN_ATOM_SHARE` of the points."""
  f, y = np.asarray(f, np.float64), np.asarray(y, np.float64)
  out = []
  for x0, near in ((0.0, f <= ATOM_EPS), (1.0, f >= 1 - ATOM_EPS)):
    k = int(near.sum())
    if k and k / len(f) >= MIN_ATOM_SHARE:
      hits = float(y[near].sum())
      out.append(Atom(x0, k / len(f), hits / k, *wilson_interval(hits, k)))
  return out


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
  atoms: list = dataclasses.field(default_factory=list)  # [Atom] at 0 and 1

  def visible(self) -> np.ndarray:
    """`[P]` bool: where the curve and band are drawn (density >= MIN_DENSITY of max)."""
    return self.density >= MIN_DENSITY * max(float(np.max(self.density)), 1e-12)


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
                       float(s.value), sigma, ci, end_atoms(f, y))


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


def _segments(x, y, keep):
  """Line segments between consecutive kept mesh points: `[S, 2, 2]` and their index."""
  idx = np.flatnonzero(keep[:-1] & keep[1:])
  pts = np.stack([x, y], axis=1)
  return np.stack([pts[idx], pts[idx + 1]], axis=1), idx


def plot_smoothed(curve: SmoothedCurve, *, ax=None, strip=None, label: str | None = None,
                  color=None, title: str | None = None, strip_color=None):
  """Draws one smoothed curve (module docstring). `strip`: the axes of the density
  strip; None draws the density in grey along the bottom of `ax` instead (grids
  of small diagrams). Returns `(fig, ax)`."""
  fig, ax = _new_axes(ax)
  color = color or ax._get_lines.get_next_color()  # pylint: disable=protected-access
  rgba = np.asarray(matplotlib.colors.to_rgba(color))
  rel = curve.density / max(float(np.max(curve.density)), 1e-12)
  keep = curve.visible()
  segs, idx = _segments(curve.mesh, curve.mu, keep)
  weight = np.clip((rel[idx] + rel[idx + 1]) / 2, 0.0, 1.0)
  colors = np.tile(rgba, (len(idx), 1))
  colors[:, 3] = 0.25 + 0.75 * np.sqrt(weight)
  text = f"smECE {curve.smece:.3f}"
  if curve.smece_ci is not None:
    text += f" [{curve.smece_ci[0]:.3f}, {curve.smece_ci[1]:.3f}]"
  ax.add_collection(matplotlib.collections.LineCollection(
      segs, colors=colors, linewidths=0.8 + 2.7 * weight, capstyle="round", zorder=3,
      label=f"{label}: {text}" if label else text))
  if curve.lower is not None:
    for i, w in zip(idx, weight):
      ax.fill_between(curve.mesh[i:i + 2], curve.lower[i:i + 2], curve.upper[i:i + 2],
                      color=color, alpha=0.25 * float(np.sqrt(w)), lw=0, zorder=2)
  for atom in curve.atoms:
    ax.errorbar([atom.x], [atom.accuracy],
                yerr=[[max(0.0, atom.accuracy - atom.low)], [max(0.0, atom.high - atom.accuracy)]],
                fmt="o", color=color, markersize=4 + 10 * np.sqrt(atom.share), capsize=3,
                clip_on=False, zorder=4)
    ax.annotate(f"{atom.share:.2f}", (atom.x, atom.accuracy), textcoords="offset points",
                xytext=(8 if atom.x == 0 else -8, 8), ha="left" if atom.x == 0 else "right",
                fontsize=7, color=color)
  _frame(ax, title)
  ax.legend(loc="upper left", fontsize=8)
  if strip is None:
    ax.fill_between(curve.mesh, 0, 0.12 * rel, color="gray", alpha=0.35, lw=0, zorder=1)
  else:
    strip.fill_between(curve.mesh, 0, rel, color=strip_color or color, alpha=0.35, lw=0)
    strip.set_xlim(0, 1)
    strip.set_ylim(0, 1.05)
    strip.set_yticks([])
    strip.set_xlabel("confidence f")
    strip.set_ylabel("density", fontsize=8)
    ax.set_xlabel("")
  return fig, ax


def diagram_axes(figsize=(5.5, 6.6)):
  """`(fig, ax, strip)`: the diagram over a thin density strip sharing its x axis."""
  fig, (ax, strip) = plt.subplots(2, 1, figsize=figsize, sharex=True,
                                  gridspec_kw={"height_ratios": [5, 1], "hspace": 0.08})
  return fig, ax, strip


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
  """Smoothed diagrams of several `(label, f, y)` runs on one axes, over one density
  strip, saved as PNG. Returns the `SmoothedCurve` of each run."""
  fig, ax, strip = diagram_axes()
  curves = []
  for label, f, y in runs:
    curve = smoothed_curve(f, y, n_bootstrap=n_bootstrap, seed=seed)
    plot_smoothed(curve, ax=ax, strip=strip, label=label, title=title,
                  strip_color="gray" if len(runs) == 1 else None)
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
