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


def test_load_run_refuses_what_is_not_a_finished_run(tiny_model, data_env, tmp_path):
  with pytest.raises(ValueError, match="config.json: not found"):
    from_run.load_run(tmp_path)
  cfg = _cfg(tiny_model, data_env)
  Store(tmp_path / "claimed").claim(cfg)
  with pytest.raises(ValueError, match="no samples yet"):
    from_run.load_run(tmp_path / "claimed")
  _write_run(tmp_path / "bad", cfg)
  (tmp_path / "bad" / "report.json").write_text('{"smece": 0.1')
  with pytest.raises(ValueError, match="report.json: not valid JSON"):
    from_run.load_run(tmp_path / "bad")


def test_a_half_finished_run_is_not_probed(tiny_model, data_env, tmp_path):
  # Samples but no report: the run is still going (or died). Probing its partial samples
  # would give another answer than the finished run's, so it is refused, model unloaded.
  _write_run(tmp_path / "half", _cfg(tiny_model, data_env))
  (tmp_path / "half" / "report.json").unlink()
  with pytest.raises(ValueError, match="not finished"):
    from_run.probe_run(tmp_path / "half", lora_probe.ProbeConfig(steps=1), progress=False)


def _probe_cfg(runs: str):
  import ml_collections  # pylint: disable=g-import-not-at-top
  from semcal_jax import config_utils  # pylint: disable=g-import-not-at-top
  from tests.conftest import REPO  # pylint: disable=g-import-not-at-top
  cfg = config_utils.load(str(REPO / "configs/probe_runs.py"), lock=False)
  cfg.probe.runs = runs
  return ml_collections.ConfigDict(cfg.to_dict())


def test_probe_results_are_cached_by_run_identity_with_nan_kept(tiny_model, data_env, tmp_path,
                                                                monkeypatch):
  from semcal_jax.probe import runs as runs_lib  # pylint: disable=g-import-not-at-top
  calls = []

  def fake_probe(workdir, *a, **k):  # a probe result whose linear R^2 is undefined
    calls.append(str(workdir))
    return {"model": "m", "dataset": "d", "style": "s", "smece": 0.2,
            "lora": {"kl_gap": 0.01 * len(calls), "heldout_kl": 0.1, "noise_floor": 0.05,
                     "kl_before": 0.3, "probe_calibration": {"smece": 0.1}},
            "linear": {"r2": float("nan")}}

  monkeypatch.setattr(from_run, "probe_run", fake_probe)
  run_dir = tmp_path / "run"
  _write_run(run_dir, _cfg(tiny_model, data_env))
  first = runs_lib.probe_runs(_probe_cfg(str(run_dir)), str(tmp_path / "probe"), log=lambda m: 0)
  again = runs_lib.probe_runs(_probe_cfg(str(run_dir)), str(tmp_path / "probe"), log=lambda m: 0)
  assert len(calls) == 1 and again["table"] == first["table"]  # cached, NaN and all
  assert "| n/a |" in again["table"]
  cached = again["rows"][str(run_dir)]["linear"]["r2"]
  assert cached != cached  # NaN read back as NaN, not None
  # The same folder redone with another config is another run: probed again.
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.rmtree(run_dir)
  _write_run(run_dir, _cfg(tiny_model, data_env, sampling__temperature=0.7))
  runs_lib.probe_runs(_probe_cfg(str(run_dir)), str(tmp_path / "probe"), log=lambda m: 0)
  assert len(calls) == 2
  # A damaged result file is named and computed again.
  for f in (tmp_path / "probe" / "probes").iterdir():
    f.write_text("{")
  runs_lib.probe_runs(_probe_cfg(str(run_dir)), str(tmp_path / "probe"), log=lambda m: 0)
  assert len(calls) == 3
