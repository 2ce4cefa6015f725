"""The outer loop: calibration tracked every K steps, checkpoints, report, and resumption
(in process, and after kill -9 in a subprocess) that ends bit-identical."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from semcal_jax import semantic
from semcal_jax.training import checkpoint, lora, objectives, optim, qa, recipes, runner, tracking
from semcal_jax.training.trainer import Trainer

from tests.conftest import REPO, subprocess_env
from tests.training import resume_worker, toy


def _sft_run(workdir, num_steps, *, eval_every=2, track=True):
  m = toy.model()
  tok = toy.DigitTokenizer()
  qs = toy.qa_questions(8)
  tr = Trainer(m, objectives.NextToken(), optim.make(optim.OptimConfig(learning_rate=3e-2)),
               lora=lora.LoraConfig(rank=2, alpha=4.0))
  examples = [qa.Example(tuple(toy.qa_prompt(q)), tuple(tok.encode(q.answer, add_bos=False)) +
                         (toy.EOS,), q.id) for q in qs]
  step_fn = recipes.sft_steps(tr, examples, batch_size=4, seed=0)
  es = tracking.EvalSet("toy", "concise", qs, [toy.qa_prompt(q) for q in qs], (), 3)
  tracker = tracking.CalibrationTracker(es, semantic.get("numeric"), num_samples=4,
                                        n_bootstrap=20, model_name="tiny")
  cfg = runner.RunConfig(num_steps=num_steps, eval_every=eval_every, save_every=1, keep=2,
                         keep_best=1, best_metric="accuracy", progress=False,
                         diagram_bootstrap=0)
  out = runner.fit(tr, step_fn, workdir, cfg, tracker=tracker if track else None,
                   loaded=toy.loaded(m, tok),
                   meta={"objective": "sft"})
  return tr, out


@pytest.mark.slow
def test_fit_tracks_calibration_and_writes_report(tmp_path):
  tr, out = _sft_run(tmp_path, 4)
  recs = tracking.read_records(tmp_path)
  assert [r["step"] for r in recs if r["kind"] == "eval"] == [0, 2, 4]
  assert [r["step"] for r in recs if r["kind"] == "train"] == [1, 2, 3, 4]
  assert recs[-1]["smece"] >= 0 and "loss" in recs[1]
  rep = json.loads((tmp_path / "report.json").read_text())
  for key in tracking.REPORT_KEYS:
    assert key in rep["before"] and key in rep["after"], key
  assert rep["before"]["n_questions"] == 8 and rep["before"]["num_samples"] == 4
  assert rep["training"]["objective"] == "sft" and rep["training"]["num_steps"] == 4
  assert rep["change"]["accuracy"] == pytest.approx(rep["after"]["accuracy"] -
                                                    rep["before"]["accuracy"])
  for name in ("calibration_vs_step.png", "reliability_before_after.png",
               "evals/step_000004.json"):
    assert (tmp_path / name).stat().st_size > 0, name
  assert any(f.startswith("events") for f in os.listdir(tmp_path / "tb"))
  ck = checkpoint.Checkpointer(tmp_path / "checkpoints", best_metric="accuracy")
  assert ck.latest_step() == 4 and set(ck.all_steps()) >= {3, 4}
  assert ck.best_step() in ck.all_steps()
  ck.close()
  assert out["after"]["step"] == 4 and tr.step == 4


def test_resume_in_process_continues_exactly(tmp_path):
  full, _ = _sft_run(tmp_path / "full", 5, track=False)
  _sft_run(tmp_path / "part", 3, track=False)
  with open(tmp_path / "part" / "metrics.jsonl", "a", encoding="utf-8") as fh:
    fh.write(json.dumps({"step": 99, "kind": "train"}) + "\n" + '{"step": 4, "ki')  # junk
  resumed, out = _sft_run(tmp_path / "part", 5, track=False)
  assert out["resumed_from"] == 3
  for a, b in zip(jax.tree.leaves(full.state), jax.tree.leaves(resumed.state)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  steps = [r["step"] for r in tracking.read_records(tmp_path / "part") if r["kind"] == "train"]
  assert steps == [1, 2, 3, 4, 5]
  full_loss = [r["loss"] for r in tracking.read_records(tmp_path / "full") if r["kind"] == "train"]
  part_loss = [r["loss"] for r in tracking.read_records(tmp_path / "part") if r["kind"] == "train"]
  assert full_loss == part_loss


def _checkpoint_steps(workdir):
  d = os.path.join(workdir, "checkpoints")
  return [int(n) for n in os.listdir(d) if n.isdigit()] if os.path.isdir(d) else []


def _worker(workdir, steps):
  return [sys.executable, "-m", "tests.training.resume_worker", str(workdir), str(steps)]


@pytest.mark.slow
def test_kill9_then_same_command_resumes_bit_identically(tmp_path):
  """SIGKILL mid-run, rerun the same command: final parameters, optimizer
  state and logged metrics equal those of an uninterrupted run."""
  # The runs share the test session's compilation cache (loading the same executables
  # cannot change results).
  env = subprocess_env(PYTHONPATH=str(REPO))
  steps = 8
  subprocess.run(_worker(tmp_path / "full", steps), cwd=REPO, env=env, check=True, timeout=600,
                 capture_output=True)
  cmd = _worker(tmp_path / "killed", steps)
  proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.time() + 600
  while max(_checkpoint_steps(tmp_path / "killed"), default=0) < 3:
    assert proc.poll() is None, "the worker ended before it could be killed"
    assert time.time() < deadline
    time.sleep(0.05)
  os.kill(proc.pid, signal.SIGKILL)
  proc.wait()
  killed_at = max(_checkpoint_steps(tmp_path / "killed"))
  assert killed_at < steps
  subprocess.run(cmd, cwd=REPO, env=env, check=True, timeout=600, capture_output=True)
  like = resume_worker.build(str(tmp_path), steps)[0].state
  final = []
  for name in ("full", "killed"):
    ck = checkpoint.Checkpointer(tmp_path / name / "checkpoints", best_metric="accuracy")
    assert ck.latest_step() == steps
    final.append(ck.restore(steps, like)[0])
    ck.close()
  for a, b in zip(jax.tree.leaves(final[0]), jax.tree.leaves(final[1])):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  strip = lambda recs: [{k: v for k, v in r.items() if k not in ("time", "step_seconds",
                                                                  "eval_seconds")} for r in recs]
  full_recs = strip(tracking.read_records(tmp_path / "full"))
  killed_recs = strip(tracking.read_records(tmp_path / "killed"))
  assert full_recs == killed_recs
  assert [r["step"] for r in killed_recs if r["kind"] == "eval"] == [0, 4, 8]
