"""experiments/finetune.py end to end (a tiny random model with SmolLM2's tokenizer on
GSM8K) and its one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from semcal_jax import config_utils
from semcal_jax.models import registry

from tests.conftest import REPO, require, subprocess_env

SCRIPT = "experiments/finetune.py"


def _run(args, env=None, timeout=600):
  return subprocess.run([sys.executable, SCRIPT, *args], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout, env=env)


def test_configs_load():
  for spec in ("configs/finetune.py", "configs/finetune.py:objective=cot_sft,lora_rank=0",
               "configs/finetune.py:objective=dpo,model=tiny",
               "configs/finetune_tpu.py:model=llama-3.1-8b,objective=sft"):
    cfg = config_utils.load(os.path.join(REPO, spec))
    assert cfg.objective in ("grpo", "cot_sft", "dpo", "sft")
  cot = config_utils.load(os.path.join(REPO, "configs/finetune.py:objective=cot_sft"))
  assert cot.prompts.style == "cot"
  tpu = config_utils.load(os.path.join(REPO, "configs/finetune_tpu.py:model=qwen2.5-7b"))
  assert tpu.model.spec == "" and tpu.model.fsdp and tpu.train.compute_dtype == "bfloat16"
  with pytest.raises(config_utils.ConfigError, match="'model'"):
    config_utils.load(os.path.join(REPO, "configs/finetune.py:model=gpt2"))


@pytest.mark.parametrize("args,message", [
    (["--config.train.num_stpes=3"], "unknown config key 'train.num_stpes'"),
    (["--config.objective=ppo"], "error: objective: expected one of"),
    (["--config.model.spec="], "error: model.spec is empty"),
])
def test_errors_are_one_line(tmp_path, args, message):
  proc = _run(["--config=configs/finetune.py:model=tiny", f"--workdir={tmp_path}", *args],
              timeout=300)
  assert proc.returncode != 0
  last = proc.stderr.strip().splitlines()[-1]
  assert message in last, proc.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["grpo", "dpo", "cot_sft"])
def test_tiny_end_to_end(tmp_path, objective, shared_data):
  try:
    registry.resolve("smollm2-135m-instruct")
  except registry.ModelNotFoundError as e:
    require(False, str(e))
  # The three runs share the test session's compilation cache.
  env = subprocess_env()
  proc = _run([f"--config=configs/finetune.py:model=tiny,objective={objective},steps=2,"
               "eval_every=1,n_eval=4,eval_samples=2,n_train=12",
               f"--config.data.path={shared_data / 'gsm8k'}",
               "--config.prompts.styles.cot.max_new_tokens=8", "--config.train.progress=false",
               f"--workdir={tmp_path}"], env=env)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "before" in proc.stdout and "after" in proc.stdout
  rep = json.loads((tmp_path / "report.json").read_text())
  assert rep["training"]["objective"] == objective and rep["after"]["step"] == 2
  assert rep["before"]["style"] == ("cot" if objective == "cot_sft" else "concise")
  records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records if r["kind"] == "eval"] == [0, 1, 2]
  if objective == "grpo":
    assert all("logprob_gap_max" in r for r in records if r["kind"] == "train")
  if objective == "dpo":
    assert (tmp_path / "dpo_pairs.json").exists()
