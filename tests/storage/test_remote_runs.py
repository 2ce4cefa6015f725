"""Runs whose workdir, model and data are on a (fake) gs:// bucket: a calibration run and
the sweep table over it, and a fine-tuning run resumed without redoing its evaluations."""

import os
import shutil

import ml_collections
import pytest

from semcal_jax import storage
from semcal_jax.pipeline import run, run_config, sweep
from semcal_jax.pipeline import store as store_lib
from semcal_jax.probe import from_run
from semcal_jax.training import checkpoint, runner, tracking

from tests.storage.fake_gcs import local_of
from tests.training.test_runner import _sft_run


def _grid(model, data):
  c = ml_collections.ConfigDict()
  c.base = run_config.default_config()
  c.base.data.path = data
  c.base.data.n_questions = 6
  c.base.prompts.k_shot = 2
  c.base.sampling.num_samples = 4
  c.base.sampling.max_new_tokens = 5
  c.base.calibration.n_bootstrap = 20
  c.grid = ml_collections.ConfigDict({"models": (model,), "datasets": ("triviaqa",),
                                      "styles": ("concise",), "seeds": (0,)})
  return c


@pytest.mark.slow
def test_calibration_run_and_sweep_table_on_gcs(tiny_model, data_env, fake_gcs, tmp_path,
                                                monkeypatch):
  base = fake_gcs[0]
  shutil.copytree(tiny_model, local_of(f"{base}/models/tiny", fake_gcs))
  data = local_of(f"{base}/data/trivia.jsonl", fake_gcs)
  data.parent.mkdir()
  shutil.copy(data_env, data)
  monkeypatch.chdir(tmp_path)  # a path mistaken for local would appear here as "gs:/..."
  grid = _grid(f"{base}/models/tiny", f"{base}/data/trivia.jsonl")
  (rel, cfg), = sweep.expand(grid)
  workdir = f"{base}/sweep/{rel}"
  report = run.run_calibration(cfg, workdir, progress=False)
  assert report["n_questions"] == 6
  local = local_of(workdir, fake_gcs)
  for name in ("report.json", "per_question.csv", "reliability.png", "confidence_hist.png",
               "fingerprint.json", "config.json"):
    assert (local / name).stat().st_size > 0, name
  parts = store_lib.Store(workdir).parts()
  assert parts and str(parts[0]).startswith("gs://bucket/")
  assert len(store_lib.Store(workdir).done_ids()) == 6  # what a resume would skip
  run_cfg, records, on_disk = from_run.load_run(workdir)  # the probe reads runs on gs:// too
  assert run_cfg.model.spec == cfg.model.spec and len(records) == 6
  assert on_disk["smece"] == report["smece"]
  out = sweep.aggregate(grid, f"{base}/sweep")
  assert out["markdown"] == f"{base}/sweep/results.md"
  table = storage.as_path(out["markdown"]).read_text()
  assert table.count("\n") == 3 and "concise" in table
  assert (local_of(f"{base}/sweep", fake_gcs) / "reliability_grid.png").stat().st_size > 5000
  assert not os.path.exists(tmp_path / "gs:")


def test_remote_spec_or_data_errors_name_the_key_before_the_workdir(fake_gcs, tmp_path):
  cfg = run_config.default_config()
  cfg.data.name = "triviaqa"
  cfg.data.path = f"{fake_gcs[0]}/data/missing.jsonl"
  cfg.model.spec = "smollm2-135m-instruct"
  with pytest.raises(run.ConfigError, match=r"'data.path': gs://bucket/data/missing.jsonl does"):
    run.run_calibration(cfg, str(tmp_path / "run"), progress=False)
  (tmp_path / "d.jsonl").write_text("{}\n")
  cfg.data.path = str(tmp_path / "d.jsonl")
  cfg.model.spec = f"{fake_gcs[0]}/models/absent"
  with pytest.raises(run.ConfigError, match=r"'model.spec': model 'gs://bucket/models/absent'"):
    run.run_calibration(cfg, str(tmp_path / "run"), progress=False)
  assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_finetune_resume_on_gcs_reuses_stored_evaluations(fake_gcs, monkeypatch):
  # orbax writes gs:// arrays through tensorstore's own GCS driver, which no fsspec
  # filesystem can stand in for: its checkpoints go to the bucket's backing folder.
  real = checkpoint.Checkpointer
  monkeypatch.setattr(runner.checkpoint_lib, "Checkpointer",
                      lambda directory, **kw: real(local_of(os.fspath(directory), fake_gcs), **kw))
  evaluated = []
  evaluate = tracking.CalibrationTracker.evaluate

  def counting(self, loaded):
    evaluated.append(1)
    return evaluate(self, loaded)

  monkeypatch.setattr(tracking.CalibrationTracker, "evaluate", counting)
  workdir = f"{fake_gcs[0]}/ft"
  _sft_run(workdir, 2)
  assert len(evaluated) == 2  # steps 0 and 2
  _, out = _sft_run(workdir, 4)
  assert out["resumed_from"] == 2 and len(evaluated) == 3  # only step 4 is new
  assert out["before"]["step"] == 0
  recs = tracking.read_records(workdir)
  assert [r["step"] for r in recs if r["kind"] == "eval"] == [0, 2, 4]
  assert [r["step"] for r in recs if r["kind"] == "train"] == [1, 2, 3, 4]
  local = local_of(workdir, fake_gcs)
  for name in ("report.json", "calibration_vs_step.png", "evals/step_000004.json"):
    assert (local / name).stat().st_size > 0, name
  assert any(f.startswith("events") for f in os.listdir(local / "tb"))
