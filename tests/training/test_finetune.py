"""experiments/finetune.py end to end (a tiny random model with SmolLM2's tokenizer on
GSM8K), its one-line errors, and its workdir rules: no resume under another config,
nothing written before the inputs load, corrupt records, one writer at a time."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from semcal_jax import config_utils, errors, storage
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
    (["--config.objective=ppo"], "error: config key 'objective': expected one of"),
    (["--config.model.spec="], "error: config key 'model.spec': empty"),
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


# ---------------------------------------------------------------- in-process runs
TINY = ("configs/finetune.py:model=tiny,objective=sft,steps=2,eval_every=2,n_eval=2,"
        "eval_samples=2,n_train=8")


def _script():
  """experiments/finetune.py as a module (loaded once: it defines absl flags)."""
  name = "_semcal_finetune_script"
  if name not in sys.modules:
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, SCRIPT))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
  return sys.modules[name]


@pytest.fixture(name="tiny_cfg")
def _tiny_cfg(shared_data):
  try:
    registry.resolve("smollm2-135m-instruct", fetch=False)
  except registry.ModelNotFoundError as e:
    require(False, str(e))

  def make(**overrides):
    return config_utils.load(os.path.join(REPO, TINY), {
        "data.path": str(shared_data / "gsm8k"), "train.progress": False,
        "train.tensorboard": False, "eval.n_bootstrap": 10, "prompts.k_shot": 1, **overrides})
  return make


def _train_records(workdir):
  return [(r["step"], round(r["loss"], 5), round(r["update_norm"], 6))
          for r in storage.read_jsonl(os.path.join(workdir, "metrics.jsonl"))
          if r["kind"] == "train"]


@pytest.fixture(name="trained", scope="module")
def _trained(tmp_path_factory, shared_data):
  """A finished 2-step run at the default learning rate (copied by each test)."""
  try:
    registry.resolve("smollm2-135m-instruct", fetch=False)
  except registry.ModelNotFoundError as e:
    require(False, str(e))
  workdir = tmp_path_factory.mktemp("ft") / "run"
  cfg = config_utils.load(os.path.join(REPO, TINY), {
      "data.path": str(shared_data / "gsm8k"), "train.progress": False,
      "train.tensorboard": False, "eval.n_bootstrap": 10, "prompts.k_shot": 1})
  _script().run(cfg, str(workdir))
  return workdir


def _copy(trained, tmp_path):
  workdir = tmp_path / "run"
  shutil.copytree(trained, workdir, ignore=shutil.ignore_patterns(".lock"))
  return str(workdir)


def test_other_config_is_refused_then_overwritten(trained, tiny_cfg, tmp_path):
  """The same workdir under another learning rate must not resume at steps 3-4."""
  workdir = _copy(trained, tmp_path)
  new = {"optim.learning_rate": 1e-3, "train.num_steps": 4}
  with pytest.raises(config_utils.ConfigError, match=r"optim\.learning_rate: 0\.0001 -> 0\.001"):
    _script().run(tiny_cfg(**new), workdir)
  assert json.loads(open(os.path.join(workdir, "config.json")).read())["optim"][
      "learning_rate"] == 1e-4
  summary = _script().run(tiny_cfg(**new), workdir, overwrite=True)
  assert summary["resumed_from"] is None and summary["steps_run"] == 4
  fresh = str(tmp_path / "fresh")
  _script().run(tiny_cfg(**new), fresh)
  assert _train_records(workdir) == _train_records(fresh)
  assert [s for s, _, _ in _train_records(workdir)] == [1, 2, 3, 4]
  recorded = json.loads(open(os.path.join(workdir, "fingerprint.json")).read())
  assert recorded["optim"]["learning_rate"] == 1e-3


def test_same_config_resumes(trained, tiny_cfg, tmp_path):
  workdir = _copy(trained, tmp_path)
  summary = _script().run(tiny_cfg(**{"train.progress": True}), workdir)  # not fingerprinted
  assert summary["resumed_from"] == 2 and summary["steps_run"] == 0


def test_failed_run_writes_nothing_then_the_corrected_one_runs(tiny_cfg, tmp_path):
  workdir = str(tmp_path / "run")
  empty = tmp_path / "empty"
  empty.mkdir()
  for overrides, message in (({"data.train_split": "nosuch"}, "nosuch"),
                             ({"data.path": str(empty)}, "config key 'data.path'")):
    with pytest.raises(errors.InputError, match=message) as info:
      _script().run(tiny_cfg(**overrides), workdir)
    assert "\n" not in str(info.value)
    assert not os.path.exists(os.path.join(workdir, "fingerprint.json"))
    assert not os.path.exists(os.path.join(workdir, "config.json"))
  summary = _script().run(tiny_cfg(**{"train.num_steps": 1, "train.eval_every": 1}), workdir)
  assert summary["steps_run"] == 1 and os.path.exists(os.path.join(workdir, "fingerprint.json"))


def test_truncated_fingerprint(trained, tiny_cfg, tmp_path):
  workdir = _copy(trained, tmp_path)
  path = os.path.join(workdir, "fingerprint.json")
  with open(path, "r+") as f:
    f.truncate(20)
  with pytest.raises(config_utils.ConfigError) as info:
    _script().run(tiny_cfg(), workdir)
  assert "\n" not in str(info.value) and path in str(info.value)
  assert "--overwrite" in str(info.value)
  summary = _script().run(tiny_cfg(), workdir, overwrite=True)
  assert summary["resumed_from"] is None and json.loads(open(path).read())["objective"] == "sft"


def test_second_writer_is_refused(tiny_cfg, tmp_path):
  workdir = str(tmp_path / "run")
  code = ("from semcal_jax import storage; import sys, time; "
          "storage.WorkdirLock(sys.argv[1]).acquire(); print('locked', flush=True); "
          "time.sleep(60)")
  holder = subprocess.Popen([sys.executable, "-c", code, workdir], cwd=REPO, text=True,
                            stdout=subprocess.PIPE)
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(storage.LockError, match=f"pid {holder.pid}"):
      _script().run(tiny_cfg(), workdir)
    assert not os.path.exists(os.path.join(workdir, "fingerprint.json"))
  finally:
    holder.kill()
    holder.wait()
