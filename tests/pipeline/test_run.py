"""The main job on a tiny model: report contents, resume, and refusal of a changed config."""

import csv
import json

import pytest

from semcal_jax.config_utils import ConfigError
from semcal_jax.pipeline import run, run_config, store as store_lib

from tests.pipeline.fixtures import data_env, tiny_model  # noqa: F401  (fixtures)

REPORT_KEYS = ("model", "dataset", "style", "n_questions", "num_samples", "accuracy",
               "mean_confidence", "overconfidence", "smece", "smece_ci", "sigma", "ece", "brier",
               "auroc", "unparsed_fraction", "tokens_per_second", "wall_seconds")


def _cfg(model, data, **over):
  c = run_config.default_config()
  c.model.spec = str(model)
  c.data.name = "triviaqa"
  c.data.path = str(data)
  c.data.n_questions = 0
  c.prompts.style = "concise"
  c.prompts.k_shot = 2
  c.sampling.num_samples = 4
  c.sampling.max_new_tokens = 6
  c.sampling.max_rows = 16
  c.calibration.n_bootstrap = 50
  for k, v in over.items():
    section, key = k.split("__")
    c[section][key] = v
  return c


def test_report_files_and_resume(tiny_model, data_env, tmp_path):
  workdir = tmp_path / "run"
  cfg = _cfg(tiny_model, data_env)
  report = run.run_calibration(cfg, str(workdir), progress=False)
  for key in REPORT_KEYS:
    assert key in report, key
  assert report["n_questions"] == 24 and report["num_samples"] == 4
  assert 0 <= report["smece"] <= 1 and report["tokens_per_second"] > 0
  on_disk = json.loads((workdir / "report.json").read_text())
  assert on_disk["smece"] == report["smece"]
  rows = list(csv.DictReader(open(workdir / "per_question.csv")))
  assert len(rows) == 24
  assert set(rows[0]) >= {"id", "plurality_answer", "confidence", "correct", "num_classes"}
  assert (workdir / "reliability.png").stat().st_size > 5000
  assert (workdir / "confidence_hist.png").exists()
  records, _ = store_lib.Store(workdir).read()
  assert len(records) == 24 and all(len(r["texts"]) == 4 for r in records.values())
  parts = store_lib.Store(workdir).parts()
  # Resuming a finished run samples nothing and gives the same report.
  again = run.run_calibration(cfg, str(workdir), progress=False)
  assert store_lib.Store(workdir).parts() == parts
  assert {k: v for k, v in again.items() if k not in ("wall_seconds",)} == {
      k: v for k, v in report.items() if k not in ("wall_seconds",)}


def test_changed_config_is_refused_unless_overwrite(tiny_model, data_env, tmp_path):
  workdir = tmp_path / "run"
  run.run_calibration(_cfg(tiny_model, data_env, data__n_questions=6), str(workdir),
                      progress=False)
  changed = _cfg(tiny_model, data_env, data__n_questions=6, sampling__temperature=0.5)
  with pytest.raises(ConfigError, match="sampling.temperature: 1.0 -> 0.5"):
    run.run_calibration(changed, str(workdir), progress=False)
  # Batch size is not part of the fingerprint (the sampler is batch-invariant).
  run.run_calibration(_cfg(tiny_model, data_env, data__n_questions=6, sampling__max_rows=8),
                      str(workdir), progress=False)
  report = run.run_calibration(changed, str(workdir), overwrite=True, progress=False)
  assert report["temperature"] == 0.5


class _Loaded(Exception):
  """Stops a run at model loading."""


def test_fsdp_reaches_the_loader_and_is_fingerprinted_when_set(tiny_model, data_env, tmp_path,
                                                               monkeypatch):
  from semcal_jax import models  # pylint: disable=g-import-not-at-top
  seen = {}

  def load(spec, **kwargs):
    seen.update(kwargs)
    raise _Loaded

  monkeypatch.setattr(models, "load", load)
  monkeypatch.setattr(run, "_LOADED", {})
  workdir = tmp_path / "run"
  fsdp = _cfg(tiny_model, data_env, data__n_questions=2, model__mesh_model=4, model__fsdp=True)
  with pytest.raises(_Loaded):
    run.run_calibration(fsdp, str(workdir), progress=False)
  assert seen["fsdp"] is True and dict(seen["mesh"].shape) == {"data": 2, "model": 4}
  assert json.loads((workdir / "fingerprint.json").read_text())["model"]["fsdp"] is True
  # FSDP changes the contractions' summation order, so it changes samples: a run recorded
  # with it is refused without it. Off, it is left out (older fingerprints still match).
  plain = _cfg(tiny_model, data_env, data__n_questions=2, model__mesh_model=4)
  assert "fsdp" not in run_config.fingerprint(plain)["model"]
  # (Refused once the workdir holds samples; before that the new config takes it over.)
  store_lib.Store(workdir).write_part(0, [dict.fromkeys(store_lib.RECORD_KEYS, []) | {"id": "q"}],
                                      {})
  with pytest.raises(ConfigError, match="model.fsdp: True -> None"):
    run.run_calibration(plain, str(workdir), progress=False)
