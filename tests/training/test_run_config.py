"""training.run_config (validation, fingerprint) and training.workdir (claiming a
workdir), without training anything."""

import json
import os

import pytest

from semcal_jax import config_utils
from semcal_jax.pipeline import run_config as pipeline_run_config
from semcal_jax.training import run_config, workdir

from tests.conftest import REPO


def _cfg(data_path, **overrides):
  return config_utils.load(os.path.join(REPO, "configs/finetune.py:model=tiny"),
                           {"data.path": str(data_path), **overrides})


@pytest.fixture(name="data_dir")
def _data_dir(tmp_path):
  """A GSM8K folder of two questions."""
  folder = tmp_path / "gsm8k"
  folder.mkdir()
  for split in ("train", "test"):
    rows = [{"question": f"What is {i} + 1?", "answer": f"{i} plus 1.\n#### {i + 1}"}
            for i in range(2)]
    (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  return folder


def test_configs_start_from_the_defaults():
  default = run_config.default_config()
  for spec in ("configs/finetune.py", "configs/finetune_tpu.py"):
    cfg = config_utils.load(os.path.join(REPO, spec))
    assert set(cfg.to_dict()) == set(default.to_dict())
  run_config.validate(config_utils.load(os.path.join(REPO, "configs/finetune.py")),
                      check_files=False)


@pytest.mark.parametrize("key,value,message", [
    ("objective", "ppo", "expected one of"),
    ("model.spec", "", "empty"),
    ("model.dtype", "float16", "expected one of"),
    ("mesh.data", -1, "expected an int >= 0"),
    ("mesh.model", 0, "expected an int >= 1"),
    ("lora.rank", -2, "expected an int >= 0"),
    ("lora.targets", ("q", "qq"), "unknown"),
    ("optim.optimizer", "adam", "expected one of"),
    ("optim.schedule", "step", "expected one of"),
    ("optim.learning_rate", 0.0, "expected > 0"),
    ("train.num_steps", 0, "expected an int >= 1"),
    ("train.save_every", 0, "expected an int >= 1"),
    ("train.eval_every", -1, "expected an int >= 0"),
    ("train.best_mode", "up", "expected one of"),
    ("sft.batch_size", 0, "expected an int >= 1"),
    ("sft.per", "word", "expected 'token' or 'sequence'"),
    ("rl.group_size", 1, "expected an int >= 2"),
    ("rl.advantage", "ppo", "expected one of"),
    ("rl.kl_estimator", "k2", "expected 'k1' or 'k3'"),
    ("rl.aggregate", "batch", "expected 'token' or 'sequence'"),
    ("dpo.loss", "hinge", "expected 'sigmoid' or 'ipo'"),
    ("dpo.batch_size", 0, "expected an int >= 1"),
    ("eval.estimator", "mean", "expected one of"),
    ("semantic.fn", "exact", "expected one of"),
    ("prompts.style", "essay", "expected one of"),
    ("prompts.k_shot", -1, "expected an int >= 0"),
    ("data.dataset", "mnist", "expected one of"),
])
def test_validate_names_the_key(data_dir, key, value, message):
  cfg = _cfg(data_dir, **{key: value})
  with pytest.raises(config_utils.ConfigError) as info:
    run_config.validate(cfg, check_files=False)
  text = str(info.value)
  assert f"config key {key!r}" in text and message in text and "\n" not in text, text


def test_validate_checks_files(data_dir, tmp_path):
  run_config.validate(_cfg(data_dir))
  with pytest.raises(config_utils.ConfigError, match="config key 'data.path'.*does not exist"):
    run_config.validate(_cfg(tmp_path / "missing"))
  with pytest.raises(config_utils.ConfigError, match="config key 'model.spec'"):
    run_config.validate(_cfg(data_dir, **{"model.spec": str(tmp_path / "no_model")}))


def test_fingerprint(data_dir):
  base = run_config.fingerprint(_cfg(data_dir))
  assert "distributed" not in base and "data_dir" not in base["data"]
  assert "progress" not in base["train"] and "keep" not in base["train"]
  assert len(base["data"]["content"]) == 12
  same = run_config.fingerprint(_cfg(data_dir, **{"train.progress": False, "train.keep": 5}))
  assert same == base
  other = run_config.fingerprint(_cfg(data_dir, **{"optim.learning_rate": 1e-3}))
  assert run_config.differences(base, other) == ["optim.learning_rate: 0.0001 -> 0.001"]
  (data_dir / "train.jsonl").write_text((data_dir / "train.jsonl").read_text() + "\n")
  edited = run_config.fingerprint(_cfg(data_dir))
  assert [d.split(":")[0] for d in run_config.differences(base, edited)] == ["data.content"]
  assert pipeline_run_config.differences is config_utils.differences


def test_claim(data_dir, tmp_path):
  root = tmp_path / "run"
  root.mkdir()
  cfg, other = _cfg(data_dir), _cfg(data_dir, **{"optim.learning_rate": 1e-3})
  workdir.claim(root, cfg)
  workdir.claim(root, other)  # no training state yet: the new config takes it over
  assert json.loads((root / "config.json").read_text())["optim"]["learning_rate"] == 1e-3
  (root / "metrics.jsonl").write_text('{"step": 1, "kind": "train"}\n')
  (root / "dpo_pairs.json").write_text("{}")
  with pytest.raises(config_utils.ConfigError, match="optim.learning_rate: 0.001 -> 0.0001"):
    workdir.claim(root, cfg)
  (root / "fingerprint.json").write_text('{"objective": ')
  with pytest.raises(config_utils.ConfigError, match="fingerprint.json: not valid JSON"):
    workdir.claim(root, cfg)
  workdir.claim(root, cfg, overwrite=True)
  assert not (root / "metrics.jsonl").exists() and not (root / "dpo_pairs.json").exists()
  assert json.loads((root / "fingerprint.json").read_text()) == run_config.fingerprint(cfg)
  (root / "fingerprint.json").write_text("[1")  # corrupt, but no training state: re-claimed
  workdir.claim(root, cfg)
  assert not workdir.has_state(root)
