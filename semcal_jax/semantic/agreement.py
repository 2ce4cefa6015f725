"""How far two collapsing functions (or one and a human) agree on correctness.

Each response gets a binary verdict: it matches a reference answer or not
(`Grouping.matches`). Two verdict vectors `a`, `b` `[n]` are compared by

- `agreement`: the share of responses with the same verdict;
- `cohen_kappa`: `(p_o - p_e) / (1 - p_e)`, p_o the agreement and p_e the
  agreement two independent raters with the same marginals would reach
  (Cohen, 1960); 1 = perfect, 0 = chance; NaN when both raters give one
  verdict throughout (p_e = 1);
- `confusion`: the 2 x 2 table `[[both no, a no & b yes], [a yes & b no, both yes]]`;
- `hits_found`: the share of a's hits that b also calls hits.

`verdicts(fn, questions)` runs a collapsing function over `(question, responses,
references)` triples with `fn.group`, after one `prepare` call for all
responses (so an LLM judge runs in as few batches as possible).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from semcal_jax.semantic import base


def _binary(name: str, x) -> np.ndarray:
  x = np.asarray(x)
  if x.ndim != 1 or x.dtype != bool:
    raise ValueError(f"{name}: expected a 1-d boolean array, got shape {x.shape} "
                     f"dtype {x.dtype}")
  return x


def confusion(a, b) -> np.ndarray:
  """`[2, 2]` int counts: rows a's verdict (no, yes), columns b's (no, yes)."""
  a, b = _binary("a", a), _binary("b", b)
  if a.shape != b.shape:
    raise ValueError(f"a / b: shapes {a.shape} and {b.shape} differ")
  return np.array([[np.sum(~a & ~b), np.sum(~a & b)], [np.sum(a & ~b), np.sum(a & b)]])


def cohen_kappa(a, b) -> float:
  """Cohen's kappa of two binary raters (module docstring)."""
  table = confusion(a, b).astype(np.float64)
  n = table.sum()
  if n == 0:
    raise ValueError("a / b: no responses to compare")
  p_o = np.trace(table) / n
  p_e = float(table.sum(1) @ table.sum(0)) / n**2
  return float("nan") if p_e >= 1 else float((p_o - p_e) / (1 - p_e))


def summary(a, b) -> dict:
  """Agreement, kappa, the confusion table and the share of a's hits b finds."""
  table = confusion(a, b)
  hits = table[1].sum()
  return {"n": int(table.sum()), "agreement": float(np.trace(table) / max(table.sum(), 1)),
          "kappa": cohen_kappa(a, b), "confusion": table.tolist(),
          "hits_found": float(table[1, 1] / hits) if hits else float("nan")}


def verdicts(fn: base.CollapsingFunction,
             items: Sequence[tuple[str, Sequence[str | None], Sequence[str]]],
             style: str) -> np.ndarray:
  """`[sum of M]` bool: whether each response of each `(question, responses,
  references)` item matches a reference under `fn`."""
  fn.prepare([r for _, rs, _ in items for r in rs], style,
             [q for q, rs, _ in items for _ in rs])
  out = [fn.group(list(rs), list(refs), style, question=q).matches for q, rs, refs in items]
  return np.concatenate(out) if out else np.zeros(0, bool)
