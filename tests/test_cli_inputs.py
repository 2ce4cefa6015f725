"""Bad input to every command-line tool: exit status 2 and one line naming the culprit.

One table, each row a tool, its arguments and the text its one `error:` line must
contain (the key, file, value or flag at fault). Inputs are configs, overrides,
flags, data files (bad bytes, bad JSON, missing fields, empty), model files
(garbage GGUF, safetensors, config.json), and workdirs (unwritable, another
config, truncated fingerprint, another writer, unfinished runs). The traceback is
printed only with --verbose.
"""

import json
import os
import subprocess
import sys

import pytest

from semcal_jax.pipeline import run_config
from semcal_jax.pipeline.store import Store

from tests.conftest import REPO, subprocess_env
from tests.pipeline.fixtures import write_trivia

pytestmark = pytest.mark.slow

RUN = "experiments/run_calibration.py"
SWEEP = "experiments/sweep.py"
FINETUNE = "experiments/finetune.py"
PROBE = "experiments/probe_vs_calibration.py"
QUICK = "experiments/quickstart.py"
PLAN = "experiments/plan_tpu.py"
DEMO = "experiments/calibration_demo.py"
ANALYZE = "experiments/analyze.py"
JUDGE = "experiments/judge_agreement.py"
LOCAL = "configs/local.py:model=smollm2-135m-instruct,data=triviaqa,n_questions=2,num_samples=2"
DATA = "--config.data.path={data}"
TINY_FT = "configs/finetune.py:model=tiny,steps=2,n_eval=2,eval_samples=2"


def _used_workdir(root, data, *, truncate: bool = False):
  """A workdir holding a run at temperature 0.5 with one stored part."""
  cfg = run_config.default_config()
  cfg.model.spec = "smollm2-135m-instruct"
  cfg.data.path = str(data)
  cfg.data.n_questions = 2
  cfg.sampling.num_samples = 2
  cfg.sampling.temperature = 0.5
  store = Store(root)
  store.claim(cfg)
  from semcal_jax.pipeline.store import RECORD_KEYS  # pylint: disable=g-import-not-at-top
  store.write_part(0, [dict.fromkeys(RECORD_KEYS, []) | {"id": "q"}], {})
  if truncate:
    fp = root / "fingerprint.json"
    fp.write_text(fp.read_text()[:30])
  return root


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
  """Every file and folder the table refers to, written once."""
  root = tmp_path_factory.mktemp("inputs")
  good = write_trivia(root / "t.jsonl", 4)
  lines = good.read_text().splitlines()
  files = {"data": good, "root": root}
  latin1 = '{"context": "Caf\xe9?", "answer": "x"}\n'.encode("latin-1")  # line 3
  (root / "latin1.jsonl").write_bytes(("\n".join(lines[:2]) + "\n").encode() + latin1)
  (root / "badjson.jsonl").write_text(lines[0] + "\n{\"context\": \"Q\", \"answer\": \n")
  (root / "noanswer.jsonl").write_text(lines[0] + "\n" + json.dumps({"context": "Q?"}) + "\n")
  (root / "empty.jsonl").write_text("")
  (root / "garbage.gguf").write_bytes(os.urandom(2048))
  (root / "notes.txt").write_text("not a model")
  for name, files_in in {"badconfig": {"config.json": "{not json"},
                         "badweights": {"config.json": json.dumps(
                             {"model_type": "llama", "hidden_size": 8, "num_hidden_layers": 1,
                              "num_attention_heads": 2, "num_key_value_heads": 1,
                              "intermediate_size": 16, "vocab_size": 32}),
                             "model.safetensors": "x" * 100}}.items():
    (root / name).mkdir()
    for fname, text in files_in.items():
      (root / name / fname).write_text(text)
  files["used"] = _used_workdir(root / "used", good)
  files["truncated"] = _used_workdir(root / "truncated", good, truncate=True)
  (root / "a_file").write_text("x")
  (root / "empty_dir").mkdir()
  half = root / "half"
  _used_workdir(half, good)
  files["half"] = half
  return files


@pytest.fixture(scope="module")
def locked(inputs):
  """A workdir another process is writing (it holds the lock) for the module's tests."""
  folder = inputs["root"] / "locked"
  folder.mkdir()
  code = ("import time\nfrom semcal_jax import storage\n"
          f"storage.WorkdirLock({str(folder)!r}).acquire()\nprint('locked', flush=True)\n"
          "time.sleep(600)\n")
  proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                          text=True, env=subprocess_env())
  assert proc.stdout.readline().strip() == "locked"
  yield folder
  proc.kill()
  proc.wait()


def _d(name):  # a file of the `inputs` fixture
  return "{" + name + "}"


# (tool, arguments, text the one error line contains[, workdir]); {x} = inputs["x"].
CASES = [
    # configs and overrides
    (RUN, [f"--config={LOCAL}", "--config.sampling.nonexistent=1"],
     "unknown config key 'sampling.nonexistent'"),
    (RUN, [f"--config={LOCAL}", "--config.sampling.num_samples=many"], "'sampling.num_samples'"),
    (RUN, ["--config=configs/local.py:model=no-such-model"], "no-such-model"),
    (RUN, ["--config=configs/local.py:num_samples=0,data_path={data}"],
     "'sampling.num_samples': expected an int >= 1"),
    (RUN, ["--config=configs/local.py:style=poem,data_path={data}"], "prompts.style"),
    (RUN, ["--config=configs/local.py:data=imagenet"], "unknown data set 'imagenet'"),
    (RUN, ["--config=configs/local.py:colour=red"], "unknown config argument 'colour'"),
    (RUN, ["--config=configs/local.py:n_questions=many"], "config argument 'n_questions'"),
    (RUN, [f"--config={LOCAL}", "--config.sampling.temperature=0", DATA],
     "'sampling.temperature'"),
    (RUN, [f"--config={LOCAL}", "--config.sampling.top_p=1.5", DATA], "'sampling.top_p'"),
    (RUN, [f"--config={LOCAL}", "--config.collapse.rule=vibes", DATA], "'collapse.rule'"),
    (RUN, [f"--config={LOCAL}", "--config.data.n_questions=-1", DATA], "'data.n_questions'"),
    (RUN, [f"--config={LOCAL}", "--config.model.dtype=float16", DATA], "'model.dtype'"),
    (RUN, [f"--config={LOCAL}", "--config.calibration.estimator=best", DATA],
     "'calibration.estimator'"),
    (RUN, [f"--config={LOCAL}", "--config.model.mesh_model=0", DATA], "'model.mesh_model'"),
    (RUN, ["--config=configs/nope.py"], "config file not found"),
    (RUN, ["--config=README.md"], "README.md"),
    # data files
    (RUN, [f"--config={LOCAL}", "--config.data.path=/nonexistent/trivia"], "'data.path'"),
    (RUN, [f"--config={LOCAL}", "--config.data.path={root}/latin1.jsonl"],
     "latin1.jsonl:3: not valid UTF-8"),
    (RUN, [f"--config={LOCAL}", "--config.data.path={root}/badjson.jsonl"], "badjson.jsonl:2"),
    (RUN, [f"--config={LOCAL}", "--config.data.path={root}/noanswer.jsonl"],
     "noanswer.jsonl:2"),
    (RUN, [f"--config={LOCAL}", "--config.data.path={root}/empty.jsonl"], "empty.jsonl"),
    (RUN, [f"--config={LOCAL}", "--config.data.path={root}/empty_dir"], "empty_dir"),
    (RUN, [f"--config={LOCAL}", "--config.uncertainty.min_parsed=2", DATA],
     "'uncertainty.min_parsed'"),
    (RUN, [f"--config={LOCAL}", "--config.data.split=dev", DATA], "'dev'"),
    # model files
    (RUN, [f"--config={LOCAL}", "--config.model.spec={root}/garbage.gguf", DATA],
     "garbage.gguf"),
    (RUN, [f"--config={LOCAL}", "--config.model.spec={root}/notes.txt", DATA], "notes.txt"),
    (RUN, [f"--config={LOCAL}", "--config.model.spec={root}/badconfig", DATA],
     "badconfig/config.json"),
    (RUN, [f"--config={LOCAL}", "--config.model.spec={root}/badweights", DATA],
     "badweights/model.safetensors"),
    # workdirs
    (RUN, [f"--config={LOCAL}", DATA], "not writable", "/proc/semcal_run"),
    (RUN, [f"--config={LOCAL}", DATA], "a_file", "{root}/a_file"),
    (RUN, [f"--config={LOCAL}", DATA], "holds a run with another config", "{used}"),
    (RUN, [f"--config={LOCAL}", DATA], "fingerprint.json: not valid JSON", "{truncated}"),
    (RUN, [f"--config={LOCAL}", DATA], "is in use by pid", "LOCKED"),
    (RUN, [f"--config={LOCAL}", DATA], "--workdir", None),
    # multi-host flags
    (RUN, [f"--config={LOCAL}", DATA, "--coordinator=localhost:1"], "flag --num_processes"),
    (RUN, [f"--config={LOCAL}", DATA, "--coordinator=nohost", "--num_processes=2",
           "--process_id=0"], "flag --coordinator: expected HOST:PORT"),
    (RUN, [f"--config={LOCAL}", DATA, "--coordinator=localhost:1", "--num_processes=2",
           "--process_id=2"], "flag --process_id: must be in [0, 2)"),
    # the sweep
    (SWEEP, ["--config=configs/grid_local.py", "--config.grid.models=()"], "'grid.models'"),
    (SWEEP, ["--config=configs/grid_local.py", "--worker_index=3", "--num_workers=2"],
     "flag --worker_index"),
    (SWEEP, ["--config=configs/grid_local.py", "--aggregate_only"], "no finished runs",
     "{empty_dir}"),
    (SWEEP, ["--config=configs/grid_local.py:num_samples=x"], "'num_samples'"),
    # fine-tuning
    (FINETUNE, [f"--config={TINY_FT}", "--config.train.num_stpes=3"],
     "unknown config key 'train.num_stpes'"),
    (FINETUNE, [f"--config={TINY_FT}", "--config.objective=ppo"], "'objective'"),
    (FINETUNE, [f"--config={TINY_FT}", "--config.data.path=/nonexistent/gsm8k"], "'data.path'"),
    (FINETUNE, [f"--config={TINY_FT}", "--config.optim.learning_rate=-1"],
     "'optim.learning_rate'"),
    (FINETUNE, ["--config=configs/finetune.py:model=gpt2"], "'model'"),
    # the probe
    (PROBE, ["--config=configs/probe_runs.py"], "'probe.runs'"),
    (PROBE, ["--config=configs/probe_runs.py", "--config.probe.runs=/nonexistent/run"],
     "/nonexistent/run/config.json: not found"),
    (PROBE, ["--config=configs/probe_runs.py", "--config.probe.runs={half}"], "not finished"),
    (PROBE, ["--config=configs/probe_runs.py", "--config.probe.mode=both"], "'probe.mode'"),
    # the quickstart, the planner, the demo
    (QUICK, ["--config=configs/quickstart.py:smoke=maybe"], "'smoke'"),
    (QUICK, ["--config=configs/quickstart.py", "--config.pretrain.stpes=1"], "pretrain.stpes"),
    (QUICK, ["--config=configs/quickstart.py:smoke"], "is in use by pid", "LOCKED"),
    (PLAN, ["--config=configs/paper_grid.py", "--slice=v9-1"], "v9-1", None),
    (PLAN, ["--config=configs/nope.py"], "config file not found", None),
    (DEMO, ["--config=configs/calibration_demo.py"], "--workdir", None),
    # the sweep analysis and the judge agreement
    (ANALYZE, ["--sweep={root}/empty_dir"], "results.csv does not exist", None),
    (JUDGE, ["--run=/nonexistent/run"], "/nonexistent/run/config.json: not found", None),
]


def _fill(text, inputs):
  for key, value in inputs.items():
    text = text.replace("{" + key + "}", str(value))
  return text


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{os.path.basename(c[0])[:-3]}"
                                             for i, c in enumerate(CASES)])
def test_bad_input_exits_2_with_one_line(case, tmp_path, inputs, request):
  tool, args, message = case[0], case[1], case[2]
  workdir = case[3] if len(case) > 3 else str(tmp_path / "run")
  if workdir == "LOCKED":
    workdir = str(request.getfixturevalue("locked"))
  args = [_fill(a, inputs) for a in args]
  if workdir is not None:
    args.append(f"--workdir={_fill(workdir, inputs)}")
  proc = subprocess.run([sys.executable, tool, *args], cwd=REPO, capture_output=True, text=True,
                        timeout=300, env=subprocess_env())
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error")]
  assert proc.returncode == 2, proc.stderr[-3000:]
  assert len(errors) == 1, proc.stderr[-3000:]
  assert _fill(message, inputs) in errors[0], errors[0]
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


def test_the_table_covers_every_tool_and_forty_inputs():
  assert len(CASES) >= 40
  assert {c[0] for c in CASES} == {RUN, SWEEP, FINETUNE, PROBE, QUICK, PLAN, DEMO, ANALYZE,
                                   JUDGE}


def test_verbose_prints_the_traceback_too(inputs, tmp_path):
  proc = subprocess.run([sys.executable, RUN, f"--config={LOCAL}",
                         f"--config.data.path={inputs['root']}/badjson.jsonl",
                         f"--workdir={tmp_path / 'run'}", "--verbose"], cwd=REPO,
                        capture_output=True, text=True, timeout=300, env=subprocess_env())
  assert proc.returncode == 2
  assert "Traceback" in proc.stderr and proc.stderr.rstrip().splitlines()[-1].startswith("error")
