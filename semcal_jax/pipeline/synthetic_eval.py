"""Measuring B-calibration in the synthetic world, where p* is known.

Each row of the quickstart table comes from `evaluate` (a model, one response
style) or `evaluate_oracle` (p* itself): M answers per question, collapsed by
the world's exact B, scored against labels drawn from p*, with every metric of
`calibration.calibration_metrics` plus, because p* is known, the mean total
variation distance between the model's class distribution B_x#p_x and p*.
`evaluate_first_token` scores token-level confidence (the first answer token)
next to it. Each result holds `per_question = (confidence [Q], correct [Q])`
for diagrams and (sampled rows) `values`, the `[Q][M]` class of every sample
(None = unparsed), from which the probe builds its targets.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from semcal_jax import sampling
from semcal_jax.calibration import confidence as confidence_lib
from semcal_jax.calibration import summary
from semcal_jax.data import synthetic
from semcal_jax.data.synthetic import corpus

MAX_NEW_TOKENS = {"concise": 8, "sentence": 16, "cot": 28}


def _class_ids(values_per_q: Sequence[Sequence[str | None]], labels: Sequence[str]):
  """Class ids `[Q, M]` (per question, in order of first appearance) and
  `matches [Q, M]` against the label."""
  q, m = len(values_per_q), len(values_per_q[0])
  ids = np.full((q, m), -1, np.int32)
  matches = np.zeros((q, m), bool)
  for i, vals in enumerate(values_per_q):
    seen: dict[str, int] = {}
    for j, v in enumerate(vals):
      if v is None:
        continue
      ids[i, j] = seen.setdefault(v, len(seen))
      matches[i, j] = v == labels[i]
  return ids, matches


def _tv_to_p_star(values_per_q, facts) -> float:
  """Mean total variation between each question's sampled class shares and p*."""
  out = []
  for vals, f in zip(values_per_q, facts):
    m = len(vals)
    emp: dict[str | None, float] = {}
    for v in vals:
      emp[v] = emp.get(v, 0.0) + 1.0 / m
    keys = set(emp) | set(f.values)
    out.append(0.5 * sum(abs(emp.get(k, 0.0) - (f.p(k) if k is not None else 0.0))
                         for k in keys))
  return float(np.mean(out))


def _metrics(values_per_q, facts, labels, *, n_bootstrap, seed) -> dict[str, Any]:
  ids, matches = _class_ids(values_per_q, labels)
  sc = confidence_lib.semantic_confidence(ids, matches=matches)
  out = summary.calibration_metrics(np.asarray(sc.confidence), np.asarray(sc.correct),
                                    n_bootstrap=n_bootstrap, seed=seed)
  out["unparsed_fraction"] = float(np.mean(ids < 0))
  out["tv_to_p_star"] = _tv_to_p_star(values_per_q, facts)
  out["per_question"] = (np.asarray(sc.confidence), np.asarray(sc.correct))
  out["values"] = values_per_q
  return out


def evaluate_oracle(facts, labels, *, num_samples: int, seed: int,
                    n_bootstrap: int = 1000) -> dict[str, Any]:
  """p* itself as the 'model': M draws per question from p*(.|x)."""
  rng = np.random.default_rng([seed, 31])
  values = [[str(v) for v in f.sample(rng, size=num_samples)] for f in facts]
  return _metrics(values, facts, labels, n_bootstrap=n_bootstrap, seed=seed)


def budget(style: str, max_new_tokens: int = 0) -> int:
  """The token budget of a style, or `max_new_tokens` when > 0 (one budget for
  every style means one sampler compilation for the whole run)."""
  return max_new_tokens if max_new_tokens > 0 else MAX_NEW_TOKENS[style]


def evaluate(loaded, world, facts, labels, style: str, *, num_samples: int, seed: int,
             n_bootstrap: int = 1000, max_rows: int = 1024,
             max_new_tokens: int = 0) -> dict[str, Any]:
  """Samples M answers per question in `style`, collapses them with B, calibrates."""
  tok = loaded.tokenizer
  prompts = [tok.encode(corpus.prompt(f, style), add_bos=False) for f in facts]
  res = sampling.sample(loaded, prompts, num_samples=num_samples,
                        max_new_tokens=budget(style, max_new_tokens), seed=seed,
                        question_ids=[f.id for f in facts], max_rows=max_rows, row_chunk=None,
                        progress=False)
  b = synthetic.SyntheticCollapsing(world)
  values = [[b.canonical(t, style) for t in row] for row in res.texts]
  out = _metrics(values, facts, labels, n_bootstrap=n_bootstrap, seed=seed)
  out["tokens_per_second"] = res.stats["tokens_per_second"]
  return out


def evaluate_first_token(loaded, world, facts, labels, style: str = "concise", *,
                         seed: int, n_bootstrap: int = 1000) -> dict[str, Any]:
  """Token-level calibration: confidence = the most likely first answer token's
  probability; correct = that token starts a surface form of the label."""
  tok = loaded.tokenizer
  prompts = [tok.encode(corpus.prompt(f, style), add_bos=False) for f in facts]
  width = max(len(p) for p in prompts)
  batch = np.zeros((len(prompts), width), np.int32)
  for i, p in enumerate(prompts):  # right-padded: a causal model ignores what follows
    batch[i, :len(p)] = p
  conf, correct = [], []
  for start in range(0, len(prompts), 256):
    logits = np.asarray(loaded.logits(batch[start:start + 256]))
    for i in range(logits.shape[0]):
      row = logits[i, len(prompts[start + i]) - 1].astype(np.float64)
      p = np.exp(row - row.max())
      p /= p.sum()
      top = int(np.argmax(p))
      conf.append(float(p[top]))
      label = labels[start + i]
      correct.append(top in synthetic.first_token_targets(world, tok, label))
  out = summary.calibration_metrics(np.asarray(conf), np.asarray(correct, np.float64),
                                    n_bootstrap=n_bootstrap, seed=seed)
  out["unparsed_fraction"] = 0.0
  out["per_question"] = (np.asarray(conf), np.asarray(correct))
  return out
