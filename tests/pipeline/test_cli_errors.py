"""Bad configs end the main job with exit status != 0 and one clear line."""

import subprocess
import sys

import pytest

from semcal_jax.pipeline import run_config
from semcal_jax.pipeline.store import Store

from tests.conftest import REPO
from tests.pipeline.fixtures import write_trivia

pytestmark = pytest.mark.slow

LOCAL = "configs/local.py:model=smollm2-135m-instruct,data=triviaqa,n_questions=2,num_samples=2"


@pytest.fixture(scope="module")
def trivia(tmp_path_factory):
  return write_trivia(tmp_path_factory.mktemp("data") / "t.jsonl", 4)


def _used_workdir(tmp_path, trivia):
  """A workdir that already holds a run with temperature 0.5."""
  cfg = run_config.default_config()
  cfg.model.spec = "smollm2-135m-instruct"
  cfg.data.path = str(trivia)
  cfg.data.n_questions = 2
  cfg.sampling.num_samples = 2
  cfg.sampling.temperature = 0.5
  Store(tmp_path / "used").claim(cfg)
  return tmp_path / "used"


CASES = [
    ([f"--config={LOCAL}", "--config.sampling.nonexistent=1"],
     "unknown config key 'sampling.nonexistent'"),
    ([f"--config={LOCAL}", "--config.sampling.num_samples=many"], "'sampling.num_samples'"),
    (["--config=configs/local.py:model=no-such-model"], "no-such-model"),
    ([f"--config={LOCAL}", "--config.data.path=/nonexistent/trivia"], "'data.path'"),
    (["--config=configs/local.py:num_samples=0,data_path={data}"],
     "'sampling.num_samples': expected an int >= 1"),
    (["--config=configs/local.py:style=poem,data_path={data}"], "prompts.style"),
    (["--config=configs/local.py:data=imagenet"], "unknown data set 'imagenet'"),
    (["--config=configs/local.py:colour=red"], "unknown config argument 'colour'"),
    ([f"--config={LOCAL}", "--config.sampling.temperature=0", "--config.data.path={data}"],
     "'sampling.temperature'"),
    ([f"--config={LOCAL}", "--config.collapse.rule=vibes", "--config.data.path={data}"],
     "'collapse.rule'"),
    ([f"--config={LOCAL}", "--config.data.n_questions=-1", "--config.data.path={data}"],
     "'data.n_questions'"),
    (["--config=configs/nope.py"], "config file not found"),
    ([f"--config={LOCAL}", "--config.data.path={data}"], "not writable", "/proc/semcal_run"),
    ([f"--config={LOCAL}", "--config.data.path={data}"], "holds a run with another config",
     "USED"),
    ([f"--config={LOCAL}", "--config.data.path={data}", "--coordinator=localhost:1"],
     "flag --num_processes"),
    ([f"--config={LOCAL}", "--config.data.path={data}", "--coordinator=nohost",
      "--num_processes=2", "--process_id=0"], "flag --coordinator: expected HOST:PORT"),
    ([f"--config={LOCAL}", "--config.data.path={data}", "--coordinator=localhost:1",
      "--num_processes=2", "--process_id=2"], "flag --process_id: must be in [0, 2)"),
]


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_bad_config_exits_with_one_line(case, tmp_path, trivia):
  args, message = case[0], case[1]
  workdir = case[2] if len(case) > 2 else str(tmp_path / "run")
  if workdir == "USED":
    workdir = str(_used_workdir(tmp_path, trivia))
  args = [a.replace("{data}", str(trivia)) for a in args]
  proc = subprocess.run([sys.executable, "experiments/run_calibration.py", *args,
                         f"--workdir={workdir}"], cwd=REPO, capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode != 0
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error")]
  assert len(errors) == 1, proc.stderr[-2000:]
  assert message in errors[0], errors[0]
  assert "Traceback" not in proc.stderr


def test_at_least_ten_cases():
  assert len(CASES) >= 10
