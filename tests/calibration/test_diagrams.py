"""How the smoothed reliability diagram is drawn: nothing where there are no data,
atoms at the ends with their own intervals, the density in its own strip."""

import matplotlib.collections
import numpy as np
import pytest

from semcal_jax.calibration import diagrams


def _gapped(seed=0, n=400):
  """Confidences in [0.05, 0.25] and [0.75, 0.95] only, plus an atom at 1."""
  rng = np.random.default_rng(seed)
  f = np.concatenate([rng.uniform(0.05, 0.25, n), rng.uniform(0.75, 0.95, n), np.ones(n // 4)])
  y = (rng.uniform(size=f.size) < f).astype(np.float64)
  return f, y


def _drawn_x(ax):
  """x of every visible segment of the curve, and of every band patch."""
  xs = []
  for c in ax.collections:
    if isinstance(c, matplotlib.collections.LineCollection):
      alphas = c.get_colors()[:, 3]
      for seg, a in zip(c.get_segments(), alphas):
        if a > 0 and np.max(c.get_linewidths()) > 0:
          xs.extend(seg[:, 0])
    elif isinstance(c, matplotlib.collections.PolyCollection) and c.get_alpha():
      verts = c.get_paths()[0].vertices
      if verts[:, 1].max() > 0.13:  # the bands, not the density along the bottom
        xs.extend(verts[:, 0])
  return np.asarray(xs)


def test_no_curve_or_band_where_there_are_no_data():
  f, y = _gapped()
  curve = diagrams.smoothed_curve(f, y, n_bootstrap=30)
  fig, ax = diagrams.plot_smoothed(curve)
  xs = _drawn_x(ax)
  assert xs.size and np.any(xs < 0.25) and np.any(xs > 0.75)  # drawn where the data are
  assert not np.any((xs > 0.4) & (xs < 0.6)), xs[(xs > 0.4) & (xs < 0.6)]
  assert not curve.visible()[(curve.mesh > 0.4) & (curve.mesh < 0.6)].any()


def test_atoms_have_their_own_interval():
  f, y = _gapped()
  curve = diagrams.smoothed_curve(f, y, n_bootstrap=0)
  [atom] = curve.atoms  # nothing at 0, a quarter-sized atom at 1
  at_one = f >= 1 - diagrams.ATOM_EPS
  assert atom.x == 1.0 and atom.share == pytest.approx(at_one.mean())
  assert atom.accuracy == pytest.approx(y[at_one].mean())
  assert atom.low <= atom.accuracy <= atom.high + 1e-12 and atom.low < atom.high
  # Wilson 95 % interval: for 8 of 10, [0.490, 0.943].
  low, high = diagrams.wilson_interval(8, 10)
  assert (low, high) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))


def test_runs_overlaid_with_a_density_strip(tmp_path):
  f, y = _gapped()
  curves = diagrams.plot_runs([("base", f, y), ("instruct", np.clip(f + 0.05, 0, 1), y)],
                              tmp_path / "two.png", n_bootstrap=20)
  assert len(curves) == 2 and (tmp_path / "two.png").stat().st_size > 10_000
  fig, ax, strip = diagrams.diagram_axes()
  diagrams.plot_smoothed(curves[0], ax=ax, strip=strip, label="base", color="tab:blue")
  band_colors = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in ax.collections
                 if isinstance(c, matplotlib.collections.PolyCollection)}
  strip_colors = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in strip.collections}
  assert len(strip.collections) == 1 and band_colors
  assert strip_colors == band_colors  # one run: its colour; the strip sits apart from the band
  assert ax.get_legend().get_texts()[0].get_text().startswith("base: smECE")
