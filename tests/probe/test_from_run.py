"""The probe on a pipeline run directory: a tiny model and a run written by hand."""

import json

import numpy as np
import pytest

from semcal_jax import models
from semcal_jax.pipeline import report as report_lib
from semcal_jax.pipeline.store import Store
from semcal_jax.probe import from_run, lora_probe
from tests.pipeline.fixtures import TRIVIA, data_env, tiny_model  # noqa: F401  (fixtures)
from tests.pipeline.test_run import _cfg

WRONG = ("Lyon", "Hamlet", "Mars", "Iron", "Green", "Six")


def _write_run(workdir, cfg, n=12):
  """A finished run of `n` questions x 4 samples with chosen answers (no sampling)."""
  store = Store(workdir)
  store.claim(cfg)
  records = []
  for i in range(n):
    q, a, aliases = TRIVIA[i % len(TRIVIA)]
    texts = [f" {a}", f" {a}", f" {WRONG[i % 6]}", " ???"] if i % 2 else [f" {a}"] * 4
    records.append({"id": f"q{i}", "question": q, "references": aliases,
                    "prompt": f"Question: {q}\nAnswer:", "prompt_tokens": 8, "texts": texts,
                    "finish_reasons": ["stop"] * 4, "token_ids": [[1]] * 4,
                    "logprobs": [[-0.1]] * 4})
  stats = {"generated_tokens": 4 * n, "seconds": 1.0, "questions": n}
  store.write_part(0, records, stats)
  report, rows = report_lib.build(cfg, records, [stats], wall_seconds=1.0)
  report_lib.write(str(workdir), cfg, report, rows)
  return records


def test_probe_inputs_and_probe_run(tiny_model, data_env, tmp_path):
  workdir = tmp_path / "run"
  cfg = _cfg(tiny_model, data_env)
  written = _write_run(workdir, cfg)
  cfg2, records, report = from_run.load_run(workdir)
  assert [r["id"] for r in records] == [r["id"] for r in written]
  tok = models.load(str(tiny_model), progress=False).tokenizer
  prompts, cands, t = from_run.probe_inputs(cfg2, records, tok, max_candidates=3)
  assert tok.decode(prompts[1]).endswith("Question: Who wrote Hamlet?\nAnswer:")
  # Odd questions: 2 x the answer, 1 x a wrong one, 1 unparsed or a class of its own.
  assert t.answers[1][:2] == ("William Shakespeare", "Hamlet")
  np.testing.assert_allclose(t.counts[1][:2], [2, 1])
  assert t.correct[1].tolist()[:2] == [True, False]
  np.testing.assert_allclose(t.counts[0], [4, 0, 0])  # all agree: one class ...
  assert t.valid[0].all() and "Paris" not in t.answers[0][1:]  # ... plus distractors
  for row in cands:  # " answer" + the concise stop "\n"
    assert all(tok.decode(c).startswith(" ") and tok.decode(c).endswith("\n") for c in row)
  two_shot = from_run.probe_inputs(cfg2, records, tok, max_candidates=3, k_shot=2)[0]
  alone = from_run.probe_inputs(cfg2, records, tok, max_candidates=3, k_shot=0)[0]
  assert two_shot == prompts  # the run's own prompts (k_shot=2 is the run's setting)...
  text = tok.decode(alone[1])  # ... or the question alone, rendered again
  assert text.endswith("Who wrote Hamlet?\nAnswer:") and text.count("Question") <= 1
  sentence = from_run.probe_inputs(cfg2, records, tok, max_candidates=3,
                                   prompt_style="sentence")[0]
  assert sentence[1] != prompts[1]
  # (the linear probe's features have their own test; linear=False saves a compilation)
  out = from_run.probe_run(workdir, lora_probe.ProbeConfig(steps=2, batch_size=4, n_bootstrap=0),
                           max_candidates=3, linear=False, progress=False, log=lambda *_: None)
  assert out["smece"] == report["smece"]
  assert {"heldout_kl", "noise_floor", "kl_gap", "probe_calibration"} <= set(out["lora"])
  assert out["lora"]["train_questions"] + out["lora"]["heldout_questions"] == 12
  assert "linear" not in out
  json.dumps(out)  # JSON-able, as the experiment writes it


def test_load_run_names_what_is_missing(tmp_path):
  with pytest.raises(FileNotFoundError, match="config.json"):
    from_run.load_run(tmp_path)
