"""The calibration run on a simulated pod (2 processes x 4 fake CPU devices, joined by
`--coordinator/--num_processes/--process_id`): the samples and report of the same
config run in one process, with the questions split over the hosts, with the model
sharded over 'model' across both processes, and after kill -9 of one process and a
relaunch of both."""

import json
import signal
import time

import pytest

from semcal_jax import config_utils
from semcal_jax.pipeline import run
from semcal_jax.pipeline.store import Store

from tests import pod
from tests.conftest import REPO
from tests.pipeline.fixtures import assert_same_run, tiny_model, write_trivia  # noqa: F401

pytestmark = pytest.mark.slow

CONFIG = "configs/local.py:data=triviaqa,style=concise,n_questions=0,num_samples=4"


def _overrides(model, data) -> dict:
  return {"model.spec": str(model), "data.path": str(data), "prompts.k_shot": 2,
          "sampling.max_new_tokens": 6, "sampling.max_rows": 8,
          "calibration.n_bootstrap": 50}


def _args(model, data, workdir, **extra) -> list[str]:
  over = {**_overrides(model, data), **extra}
  return (["experiments/run_calibration.py", f"--config={CONFIG}"]
          + [f"--config.{k}={v}" for k, v in over.items()] + [f"--workdir={workdir}"])


@pytest.fixture(scope="module")
def setting(tiny_model, tmp_path_factory):
  """The data, and the reference run of the config in this process (8 devices)."""
  root = tmp_path_factory.mktemp("pod")
  data = write_trivia(root / "trivia.jsonl", 24)
  data_dir = str(root / "tfds")
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("SEMCAL_DATA_DIR", data_dir)
    cfg = config_utils.load(f"{REPO}/{CONFIG}", _overrides(tiny_model, data))
    run.run_calibration(cfg, str(root / "reference"), progress=False)
  return {"root": root, "data": data, "data_dir": data_dir, "model": tiny_model,
          "reference": root / "reference"}


@pytest.mark.parametrize("mesh_model", [1, 8], ids=["hosts-split-questions", "model-across-hosts"])
def test_pod_run_matches_one_process(setting, mesh_model):
  workdir = setting["root"] / f"pod-{mesh_model}"
  logs = setting["root"] / f"logs-{mesh_model}"
  logs.mkdir()
  pod.run(_args(setting["model"], setting["data"], workdir, **{"model.mesh_model": mesh_model}),
          log_dir=str(logs), SEMCAL_DATA_DIR=setting["data_dir"])
  assert_same_run(setting["reference"], workdir, 24)
  hosts = {p.name.split("-")[1] for p in Store(workdir).parts()}
  # Split questions: each host stored its own parts; one mesh over both: host 0 stores all.
  assert hosts == ({"000", "001"} if mesh_model == 1 else {"000"})


def test_pod_kill_nine_one_process_then_relaunch(setting):
  workdir = setting["root"] / "killed"
  logs = setting["root"] / "logs-killed"
  logs.mkdir()
  args = _args(setting["model"], setting["data"], workdir)
  procs = pod.start(args, log_dir=str(logs), SEMCAL_DATA_DIR=setting["data_dir"])
  deadline = time.time() + 300
  while (not any(p.name.startswith("part-001-") for p in Store(workdir).parts())
         and procs[1].poll() is None and time.time() < deadline):
    time.sleep(0.05)
  assert procs[1].poll() is None, "process 1 ended before it could be killed"
  procs[1].send_signal(signal.SIGKILL)
  procs[1].wait()
  # Its peer cannot finish the job alone (it waits at the next collective): the
  # relaunch restarts both, as on a pod after one host was lost.
  procs[0].send_signal(signal.SIGKILL)
  procs[0].wait()
  stored = len(Store(workdir).read()[0])
  assert 0 < stored < 24, stored
  assert not (workdir / "report.json").exists()
  pod.run(args, log_dir=str(logs), SEMCAL_DATA_DIR=setting["data_dir"])
  assert_same_run(setting["reference"], workdir, 24)


PROBE = {"probe.lora.steps": 4, "probe.lora.batch_size": 8, "probe.lora.n_bootstrap": 0,
         "probe.max_candidates": 3, "probe.n_bootstrap": 10}


def test_probe_on_a_pod_matches_one_process(setting):
  """The mechanism probe of a run: the probe CLI on the pod (its LoRA trained on a
  mesh over both processes) writes the result of the probe in this process."""
  from semcal_jax.probe import from_run, lora_probe  # pylint: disable=g-import-not-at-top
  from tests.pipeline.test_run import _cfg  # pylint: disable=g-import-not-at-top
  from tests.probe.test_from_run import _write_run  # pylint: disable=g-import-not-at-top
  # A finished run with chosen answers (the tiny random model parses none of its own).
  run_dir = setting["root"] / "chosen-answers"
  _write_run(run_dir, _cfg(setting["model"], setting["data"]))
  cfg = config_utils.load(f"{REPO}/configs/probe_runs.py", {**PROBE, "probe.runs": str(run_dir)})
  p = cfg.probe
  ref = from_run.probe_run(run_dir, lora_probe.ProbeConfig.from_config(p.lora),
                           max_candidates=p.max_candidates, prompt_style=p.prompt_style,
                           k_shot=p.k_shot, model_spec=p.model_spec, dtype=p.dtype,
                           mesh_model=p.mesh_model, linear=p.linear, distractors=p.distractors,
                           progress=False, log=lambda *_: None)
  workdir = setting["root"] / "probe"
  logs = setting["root"] / "logs-probe"
  logs.mkdir()
  pod.run(["experiments/probe_vs_calibration.py", "--config=configs/probe_runs.py",
           f"--config.probe.runs={run_dir}"]
          + [f"--config.{k}={v}" for k, v in PROBE.items()] + [f"--workdir={workdir}"],
          log_dir=str(logs))
  (saved,) = (workdir / "probes").iterdir()
  got = json.loads(saved.read_text())
  for key in ("heldout_kl", "noise_floor", "kl_gap", "kl_before", "train_kl_last"):
    assert got["lora"][key] == pytest.approx(ref["lora"][key], rel=1e-4, abs=1e-6), key
  assert got["linear"]["r2"] == pytest.approx(ref["linear"]["r2"], rel=1e-4, abs=1e-6)
