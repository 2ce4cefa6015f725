"""Benchmark: parsing speeds, side by side in one run (ratios, not thresholds).

(a) GGUF metadata: `semcal_jax.models.gguf_metadata.read_metadata` against
    `gguf.GGUFReader` (which maps every tensor too) on the SmolLM2 GGUF file;
    both give the same keys.
(b) MATH answer keys: the math rule on ordinary answers against pathological
    ones (`10^{10^{10}}`, `(x+y+z)^{200}`, a 5000-digit number ...), which the
    expression bounds refuse before evaluating; each answer is keyed once
    (caches cleared between repeats).

  python experiments/bench_parsing.py [--repeats=3]
"""

import time

from absl import app, flags
import gguf

from semcal_jax import semantic
from semcal_jax.models import registry
from semcal_jax.models.gguf_metadata import read_metadata
from semcal_jax.semantic import mathrule, symbolic

_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats (the fastest counts).")

ORDINARY = (r"\frac{1}{2}", "0.5", r"2\sqrt{2}", r"\sqrt{8}", r"x^2+2x+1", r"(x+1)^2",
            r"\pi/4", r"3 \pm 2\sqrt{2}", r"\dfrac{14}{3}", r"y = 2x + 3", r"(1, -2)",
            r"\frac{\sqrt{3}}{2}", "1000!", r"\sin \frac{\pi}{6}", r"[2, 5)", "42")
PATHOLOGICAL = (r"10^{10^{10}}", r"(10^{10})!", "9" * 5000, r"(x+y+z)^{200}",
                r"x^{10^{999}}", r"2^{x+10^{999}}", r"\exp(\exp(\exp(10)))",
                r"\binom{10^{6}}{500000}", r"\sum_{i=1}^{10^{9}} i", "x+" * 150 + "x",
                r"\frac{1}{0}")


def _fastest(fn, repeats):
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    best = min(best, time.perf_counter() - t0)
  return best


def bench_gguf(repeats):
  path = registry.resolve("smollm2-135m-instruct", fetch=False)
  ours = _fastest(lambda: read_metadata(path), repeats)
  theirs = _fastest(lambda: gguf.GGUFReader(str(path)), repeats)
  header = ("GGUF.version", "GGUF.tensor_count", "GGUF.kv_count")  # GGUFReader's extras
  keys = set(read_metadata(path)) == set(gguf.GGUFReader(str(path)).fields) - set(header)
  print(f"(a) GGUF metadata of {path.name}: read_metadata {ours * 1e3:.1f} ms, "
        f"GGUFReader {theirs * 1e3:.1f} ms: {theirs / ours:.1f}x faster (same keys: {keys})")


def _key_all(rule, answers):
  def run():
    symbolic.atom_key.cache_clear()
    symbolic.equivalent.cache_clear()
    mathrule._key.cache_clear()  # pylint: disable=protected-access
    return [rule.canonical(a, "concise") for a in answers]
  return run


def bench_math(repeats):
  rule = semantic.get("math")
  _key_all(rule, ORDINARY)()  # imports and parser start-up
  ordinary = _fastest(_key_all(rule, ORDINARY), repeats) / len(ORDINARY)
  bad = _fastest(_key_all(rule, PATHOLOGICAL), repeats) / len(PATHOLOGICAL)
  keys = _key_all(rule, PATHOLOGICAL)()
  strings = sum(k is None or k.startswith("s:") for k in keys)
  print(f"(b) math rule: {ordinary * 1e3:.1f} ms per ordinary answer, {bad * 1e3:.1f} ms per "
        f"pathological one ({bad / ordinary:.2f}x); {strings}/{len(keys)} pathological answers "
        "refused (string keys)")


def main(argv):
  del argv
  bench_gguf(_REPEATS.value)
  bench_math(_REPEATS.value)


if __name__ == "__main__":
  app.run(main)
