"""Batches, data order, optimizers, SFT examples from questions, checkpoint retention, reports."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from semcal_jax.training import batches, checkpoint, optim, qa, report, tracking

from tests.conftest import require


def test_pack_layout():
  b = batches.pack([[1, 5, 6], [1, 7]], [[[8, 9, 2], [4]], [[4, 2], [3, 3, 3]]], pad_id=0)
  assert b["prompt"].shape == (2, 16) and b["tokens"].shape == (2, 2, 16)
  np.testing.assert_array_equal(b["prompt"][1, -3:], [0, 1, 7])
  np.testing.assert_array_equal(b["prompt_positions"][1, -3:], [-1, 0, 1])
  np.testing.assert_array_equal(b["tokens"][0, 0, :4], [8, 9, 2, 0])
  np.testing.assert_array_equal(b["positions"][0, 0, :4], [3, 4, 5, -1])
  np.testing.assert_array_equal(b["positions"][1, 1, :4], [2, 3, 4, -1])
  assert b["loss_mask"].sum() == 3 + 1 + 2 + 3
  masked = batches.pack([[1]], [[[2, 3]]], loss_masks=[[[0.0, 1.0]]], prompt_len=4,
                        continuation_len=8)
  assert masked["prompt"].shape == (1, 4) and masked["loss_mask"][0, 0, :2].tolist() == [0, 1]
  with pytest.raises(ValueError, match="prompt 0 is empty"):
    batches.pack([[]], [[[1]]])
  with pytest.raises(ValueError, match="example 1 has 1 continuations"):
    batches.pack([[1], [1]], [[[1], [2]], [[1]]])
  with pytest.raises(ValueError, match="exceed"):
    batches.pack([[1] * 5], [[[1]]], prompt_len=4)
  assert [batches.bucket(n) for n in (1, 17, 100, 129, 300)] == [16, 32, 128, 192, 320]


def test_batch_indices_are_seeded_epochs():
  n, bs = 10, 4
  seq = np.concatenate([batches.batch_indices(n, bs, s, seed=3) for s in range(5)])
  assert sorted(seq[:10].tolist()) == list(range(10))  # first epoch: a permutation
  assert sorted(seq[10:20].tolist()) == list(range(10))
  assert not np.array_equal(seq[:10], seq[10:20])  # a fresh order per epoch
  np.testing.assert_array_equal(batches.batch_indices(n, bs, 3, seed=3), seq[12:16])
  assert not np.array_equal(batches.batch_indices(n, bs, 0, seed=4), seq[:4])
  assert batches.step_seed(0, 5) == batches.step_seed(0, 5) != batches.step_seed(0, 6)


def test_pad_examples_masks_the_padding():
  b = batches.pack([[1], [1], [1]], [[[2]], [[3]], [[4]]])
  b["advantages"] = np.ones((3, 1), np.float32)
  b["valid"] = np.ones((3, 1), bool)
  padded, e = batches.pad_examples(b, 4)
  assert e == 3 and padded["tokens"].shape[0] == 4
  assert padded["loss_mask"][3].sum() == 0 and not padded["valid"][3].any()
  mbs = batches.microbatches(b, 2)
  assert mbs["tokens"].shape[:2] == (2, 2)


def test_optimizer_schedules_and_errors():
  cfg = optim.OptimConfig(learning_rate=1.0, schedule="cosine", warmup_steps=2, total_steps=6)
  lr = optim.schedule(cfg)
  assert [round(float(lr(s)), 4) for s in (0, 1, 2, 6)] == [0.0, 0.5, 1.0, 0.0]
  lin = optim.schedule(optim.OptimConfig(learning_rate=2.0, schedule="linear", total_steps=4,
                                         end_lr_fraction=0.5))
  assert float(lin(4)) == pytest.approx(1.0)
  # Weight decay acts on matrices only.
  tx = optim.make(optim.OptimConfig(learning_rate=0.1, weight_decay=0.5, grad_clip=0.0))
  params = {"w": jnp.ones((2, 2)), "scale": jnp.ones((2,))}
  zeros = jax.tree.map(jnp.zeros_like, params)
  upd, _ = tx.update(zeros, tx.init(params), params)
  new = optax.apply_updates(params, upd)
  assert float(new["w"][0, 0]) < 1.0 and float(new["scale"][0]) == 1.0
  with pytest.raises(ValueError, match="optim.schedule"):
    optim.OptimConfig(schedule="step")
  with pytest.raises(ValueError, match="unknown keys"):
    optim.from_config({"lr": 1e-3})
  assert optim.from_config({"learning_rate": 1e-3}, total_steps=7).total_steps == 7


def test_sft_examples_from_gsm8k(shared_data):
  from semcal_jax.data import load_questions, prompts
  from semcal_jax.models import registry
  from semcal_jax.models.tokenizer import Tokenizer
  try:
    registry.resolve("smollm2-135m-instruct")
  except registry.ModelNotFoundError as e:
    require(False, str(e))
  tok = Tokenizer.from_spec("smollm2-135m-instruct")
  qs = load_questions("gsm8k", path=shared_data / "gsm8k", split="train", n_questions=3, seed=0)
  cfg = prompts.default_config()
  cfg.style = "cot"
  prompter = prompts.Prompter(cfg, dataset="gsm8k")
  ex = qa.sft_examples(tok, prompter, qs)
  assert len(ex) == 3
  target = tok.decode(ex[0].target[:-1])
  assert ex[0].target[-1] == tok.eos_id and "<<" not in target
  assert target.startswith(" ") and target.rstrip().endswith(f"The answer is {qs[0].answer}.")
  assert list(ex[0].prompt) == tok.encode(prompter.render(qs[0]).text)
  short = qa.sft_examples(tok, prompter, qs, max_target_tokens=5)
  assert short == []
  concise = qa.sft_examples(tok, prompts.Prompter(prompts.default_config(), dataset="gsm8k"), qs,
                            append_eos=False)
  assert tok.decode(concise[0].target) == " " + qs[0].answer
  b = qa.sft_batch(ex, [2, 0])
  assert b["tokens"].shape[:2] == (2, 1) and b["loss_mask"][0, 0].sum() == len(ex[2].target)


def test_checkpoint_keeps_latest_and_best(tmp_path):
  state = {"w": jnp.arange(4.0), "n": jnp.zeros((), jnp.int32)}
  ck = checkpoint.Checkpointer(tmp_path, keep=2, keep_best=1, best_metric="accuracy")
  for step, acc in [(1, 0.2), (2, 0.9), (3, None), (4, 0.1), (5, None)]:
    ck.save(step, jax.tree.map(lambda x, s=step: x + s, state), meta={"step": step},
            metrics=None if acc is None else {"accuracy": acc, "note": "x"})
  ck.wait()
  assert ck.all_steps() == [2, 4, 5] and ck.best_step() == 2 and ck.latest_step() == 5
  restored, meta = ck.restore(2, state)
  assert meta == {"step": 2} and np.asarray(restored["w"]).tolist() == [2.0, 3.0, 4.0, 5.0]
  with pytest.raises(KeyError, match="best_metric"):
    ck.save(6, state, metrics={"smece": 0.1})
  ck.close()


def test_metrics_log_resume_truncates_and_plot(tmp_path):
  log = tracking.MetricsLog(tmp_path, resume_step=None, tensorboard=False)
  for s in range(4):
    log.write(s, "train", {"loss": float(s), "skip": "text", "nan": float("nan")})
  log.write(2, "eval", {"accuracy": 0.5, "mean_confidence": 0.6, "smece": 0.1, "ece": 0.1,
                        "smece_ci": [0.05, 0.2]})
  log.close()
  assert tracking.read_records(tmp_path)[0]["nan"] is None  # strict JSON
  log = tracking.MetricsLog(tmp_path, resume_step=2, tensorboard=False)
  log.close()
  recs = tracking.read_records(tmp_path)
  assert [(r["step"], r["kind"]) for r in recs] == [(0, "train"), (1, "train"), (2, "train"),
                                                    (2, "eval")]
  tracking.plot_curve(recs, tmp_path / "curve.png")
  assert (tmp_path / "curve.png").stat().st_size > 0
  with pytest.raises(ValueError, match="no eval records"):
    tracking.plot_curve(recs[:1], tmp_path / "x.png")


def test_report_build_and_table(tmp_path):
  entry = {"model": "m", "dataset": "d", "style": "concise", "n_questions": 2, "num_samples": 3,
           "accuracy": 0.5, "mean_confidence": 0.75, "overconfidence": 0.25, "smece": 0.2,
           "smece_ci": [0.1, 0.3], "sigma": 0.1, "ece": 0.25, "brier": 0.3, "auroc": None,
           "unparsed_fraction": 0.0, "per_question": {"confidence": [0.5, 1.0],
                                                      "correct": [True, False]}}
  after = dict(entry, accuracy=1.0)
  rep = report.write(tmp_path, entry, after, {"objective": "sft"}, diagram=False)
  saved = json.loads((tmp_path / "report.json").read_text())
  assert saved == rep and "per_question" not in saved["before"]
  assert rep["change"]["accuracy"] == 0.5 and "auroc" not in rep["change"]
  text = report.table(rep)
  assert "n/a" in text and "before" in text and "0.500" in text
