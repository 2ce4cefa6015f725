"""Benchmark: smECE in semcal_jax vs relplot 1.0.3, side by side in one run.

(a) one smECE at n = 10^6;  (b) 1,000 bootstrap smECEs at n = 10^4.
Both in float64 (relplot parity). Our compile time is measured apart (first
call minus steady-state call). For (b) relplot runs `smECE` on each resample
(the way relplot's own bootstrap does); ours is one vmapped call. Data sets:
continuous confidences (the hard case for us), and B-confidences k/20 (the
semcal case, where the bootstrap resamples over distinct cells). Our
bootstrap computes the resampled smECEs in float32 (its default) and the
estimate in float64.

(c) a fresh Python process (no persistent compilation cache) that imports
semcal_jax and computes smECE on 40 data sets of 6 sizes (20 ... 60,000):
its whole wall time, compilation included, beside relplot's on the same data.

  python experiments/bench_calibration.py [--relplot_resamples=1000]
"""

import json
import os
import subprocess
import sys
import time

_T0 = time.perf_counter()  # case (c) counts from here: absl, jax, semcal_jax imports included
from absl import app, flags  # noqa: E402  pylint: disable=g-import-not-at-top
import jax
import jax.numpy as jnp
import numpy as np
import relplot

from semcal_jax.calibration import resampling, smooth_ece

jax.config.update("jax_enable_x64", True)

_RELPLOT_RESAMPLES = flags.DEFINE_integer(
    "relplot_resamples", 1000, "relplot resamples actually timed in (b); scaled to 1000.")
_PART = flags.DEFINE_string("part", None, "Internal: 'fresh' runs case (c) in this process.")
_RESAMPLES = 1000
_FRESH_SIZES = (20, 200, 1000, 5000, 20_000, 60_000)
_FRESH_SETS = 40


def _data(kind, n, seed=0):
  rng = np.random.default_rng(seed)
  if kind == "continuous":
    f = rng.beta(2, 1.5, size=n)
  else:  # B-confidence from M = 20 samples
    f = rng.integers(1, 21, size=n) / 20
  y = (rng.uniform(size=n) < f**1.15).astype(np.float64)
  return f, y


def _timed(fn, repeats=3):
  best = float("inf")
  out = None
  for _ in range(repeats):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    best = min(best, time.perf_counter() - t0)
  return best, out


def bench_single(kind):
  f, y = _data(kind, 1_000_000)
  t_rel, ref = _timed(lambda: relplot.smECE(f, y, return_width=True), repeats=2)
  fj, yj = jnp.asarray(f), jnp.asarray(y)
  t0 = time.perf_counter()
  jax.block_until_ready(smooth_ece.smece(fj, yj))
  first = time.perf_counter() - t0
  t_ours, ours = _timed(lambda: smooth_ece.smece(fj, yj))
  assert abs(float(ours.value) - ref[0]) <= 1e-9 and float(ours.sigma) == ref[1]
  return t_rel, t_ours, max(first - t_ours, 0.0)


def bench_bootstrap(kind):
  f, y = _data(kind, 10_000)
  rng = np.random.default_rng(1)
  k = _RELPLOT_RESAMPLES.value
  idx = rng.integers(0, len(f), size=(k, len(f)))
  t0 = time.perf_counter()
  for i in idx:
    relplot.smECE(f[i], y[i])
  t_rel = (time.perf_counter() - t0) * _RESAMPLES / k
  metric = lambda a, b, w: smooth_ece.smece_impl(a, b, w).value

  def ours(seed):  # resampling included in the timing
    return resampling.bootstrap(metric, f, y, n_resamples=_RESAMPLES, seed=seed).high

  t0 = time.perf_counter()
  jax.block_until_ready(ours(0))
  first = time.perf_counter() - t0
  t_ours, _ = _timed(lambda: ours(1))
  return t_rel, t_ours, max(first - t_ours, 0.0)


def _fresh_data():
  rng = np.random.default_rng(0)
  out = []
  for i in range(_FRESH_SETS):
    n = _FRESH_SIZES[i % len(_FRESH_SIZES)]
    f = rng.beta(2, 1.5, size=n)
    out.append((f, (rng.uniform(size=n) < f ** (1 + 0.1 * (i % 3))).astype(np.float64)))
  return out


def fresh_process_part():
  """Case (c) inside the fresh process: prints seconds since interpreter start."""
  data = _fresh_data()
  values = [float(smooth_ece.smece(f, y).value) for f, y in data]
  t_ours = time.perf_counter() - _T0
  t0 = time.perf_counter()
  ref = [relplot.smECE(f, y) for f, y in data]
  t_rel = time.perf_counter() - t0
  assert max(abs(a - b) for a, b in zip(values, ref)) <= 1e-9
  print(json.dumps({"ours": t_ours, "relplot": t_rel}))


def bench_fresh():
  env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
  env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
  t0 = time.perf_counter()
  out = subprocess.run([sys.executable, os.path.abspath(__file__), "--part=fresh"],
                       capture_output=True, text=True, env=env, check=True)
  wall = time.perf_counter() - t0
  result = json.loads(out.stdout.strip().splitlines()[-1])
  return result["relplot"], result["ours"], wall


def main(_):
  if _PART.value == "fresh":
    fresh_process_part()
    return
  print(f"jax {jax.__version__} on {jax.devices()[0].platform}, float64; "
        f"relplot {relplot.__name__} 1.0.3\n")
  print(f"{'case':<44} {'relplot s':>10} {'ours s':>9} {'speed-up':>9} {'our compile s':>14}")
  for label, fn in (("(a) one smECE, n=1e6", bench_single),
                    ("(b) 1000 bootstrap smECEs, n=1e4", bench_bootstrap)):
    for kind in ("continuous", "k/20"):
      t_rel, t_ours, compile_s = fn(kind)
      print(f"{label + ' [' + kind + ']':<44} {t_rel:10.3f} {t_ours:9.3f} "
            f"{t_rel / t_ours:8.1f}x {compile_s:14.2f}")
  t_rel, t_ours, wall = bench_fresh()
  print(f"\n(c) fresh process, smECE on {_FRESH_SETS} data sets of sizes {_FRESH_SIZES}:\n"
        f"    {t_ours:.2f} s from interpreter start to the last value, imports and "
        f"compilation included ({wall:.2f} s process wall time); relplot on the same data "
        f"{t_rel:.2f} s (imports apart); values agree to 1e-9")


if __name__ == "__main__":
  app.run(main)
