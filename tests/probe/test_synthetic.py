"""The synthetic-world probe on one setting: targets from samples, both probes, table."""

import numpy as np

from semcal_jax import config_utils
from semcal_jax.models import ModelConfig, init_model
from semcal_jax.pipeline import quickstart, synthetic_eval
from semcal_jax.probe import synthetic as probe_synthetic
from tests.conftest import REPO


def test_probe_setting_on_a_tiny_world(monkeypatch):
  cfg = config_utils.load(f"{REPO}/configs/probe_synthetic.py:smoke", lock=False)
  cfg.world.num_people = 12
  world, tok, facts, labels = quickstart.make_world(cfg)
  model = init_model(ModelConfig(family="llama", vocab_size=tok.vocab_size, hidden_size=32,
                                 num_layers=1, num_heads=4, num_kv_heads=2, head_dim=8,
                                 intermediate_size=64, tie_embeddings=True,
                                 max_position_embeddings=128), seed=0)
  # An untrained model's samples are all unparsed: sample from p* instead (the oracle
  # row's sampler), so that the targets are real class shares. Sampling itself is
  # tested with the quickstart.
  def oracle(loaded, world, facts, labels, style, *, num_samples, seed, n_bootstrap, **_):
    return synthetic_eval.evaluate_oracle(facts, labels, num_samples=num_samples, seed=seed,
                                          n_bootstrap=n_bootstrap)

  monkeypatch.setattr(synthetic_eval, "evaluate", oracle)
  row = probe_synthetic.probe_setting(cfg, world, tok, model, facts, labels, "concise",
                                      "base / concise", log=lambda *_: None)
  c, lora = row["calibration"], row["lora"]
  assert 0 <= c["smece"] <= 1 and "values" not in c and "per_question" not in c
  assert lora["train_questions"] + lora["heldout_questions"] <= len(facts)
  assert np.isfinite([lora["heldout_kl"], lora["noise_floor"], lora["kl_before"]]).all()
  # Distractors fill free slots as far as each relation's pool of values allows.
  assert 3 < lora["candidates_mean"] <= cfg.probe.max_candidates
  assert "r2" in row["linear"]
  stats = {"spearman": 0.5, "ci": [0.1, 0.9], "n": 3}
  table = probe_synthetic.format_table({"base / concise": row}, stats)
  assert "| base / concise |" in table and "Spearman(KL gap, smECE) = 0.500" in table
