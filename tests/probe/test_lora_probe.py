"""The LoRA probe recovers a known answer distribution from finite samples."""

import numpy as np

from semcal_jax import probe
from tests.training import toy

EOS, FIRST_ANSWER, TYPES, M = 1, 6, 4, 32


def _task(n_questions=96, seed=0):
  """Prompt [BOS, type, id]: the answer distribution over 4 one-token answers
  depends on the type only (known p); targets are M samples of it."""
  rng = np.random.default_rng(seed)
  p_type = rng.dirichlet(np.ones(4) * 0.7, size=TYPES)
  types = np.arange(n_questions) % TYPES
  prompts = [[toy.BOS, 2 + int(t), 16 + i % 16] for i, t in enumerate(types)]
  keys = [[str(a) for a in rng.choice(4, size=M, p=p_type[t])] for t in types]
  matches = np.asarray([[k == "0" for k in row] for row in keys])  # answer 0 is "correct"
  t = probe.from_classes(keys, None, matches, max_candidates=4)
  cands = [[[FIRST_ANSWER + int(a), EOS] if a else [] for a in row] for row in t.answers]
  true = np.asarray([[p_type[ty][int(a)] if a else 0.0 for a in row]
                     for ty, row in zip(types, t.answers)])
  return prompts, cands, t, true


def test_probe_recovers_a_known_distribution():
  prompts, cands, t, true = _task()
  cfg = probe.ProbeConfig(rank=8, alpha=16.0, learning_rate=1e-2, steps=60, batch_size=16,
                          train_fraction=0.75, n_bootstrap=0)
  res = probe.train_probe(toy.model(vocab=32), prompts, cands, t, cfg, progress=False,
                          log=lambda *_: None)
  s = res.summary
  ho = res.heldout_idx
  # The probe ends near the finite-M floor, far below where it started...
  assert s["heldout_kl"] < 1.5 * s["noise_floor"] + 0.01, s
  assert s["kl_before"] > 5 * s["heldout_kl"], s
  # ... and close to the true distribution the targets were sampled from.
  true_kl = probe.kl(true[ho] / true[ho].sum(-1, keepdims=True), res.probs, t.valid[ho]).mean()
  assert true_kl < 0.05, true_kl
  assert s["train_questions"] + s["heldout_questions"] == len(prompts)
  assert set(res.train_idx).isdisjoint(res.heldout_idx)
