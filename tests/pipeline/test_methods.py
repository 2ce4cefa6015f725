"""Every uncertainty method in a run's report: the methods table, per-question columns,
and the self-assessment pass (p(True), verbalized) stored once and reused."""

import csv
import json
import math

import numpy as np
import pytest

from semcal_jax.calibration import uncertainty
from semcal_jax.pipeline import report as report_lib
from semcal_jax.pipeline import run, self_assessment

from tests.pipeline.fixtures import data_env, tiny_model  # noqa: F401  (fixtures)
from tests.pipeline.test_run import _cfg

ALL = (*uncertainty.METHODS, *report_lib.SELF_ASSESSED)


def test_parse_confidence():
  cases = {" 85%": 0.85, " I am 100 percent sure": 1.0, "0": 0.0, " 3.5 out of 10": 0.035,
           " 250, no 40": 0.4, " none": None, "": None, " 1000": None, "0.9999": 0.9999,
           " 0.5\n\nThe": 0.5, "1.0": 1.0, " 62.5": 0.625, "100: This answer": 1.0,
           "v1.2.3": None, "\n1. 10": 0.1, "\n1. I am not": None, " 2) 75%": 0.75}
  for text, want in cases.items():
    got = self_assessment.parse_confidence(text)
    assert (math.isnan(got) if want is None else got == pytest.approx(want)), text


def test_p_true_prompts_show_true_and_false_shots_of_other_questions():
  qs = ["Q0?", "Q1?", "Q2?", "Q3?", "Q4?", "Q5?"]
  refs = [[f"A{i}"] for i in range(6)]
  [first, *_] = self_assessment.p_true_prompts(qs, refs, ["mine"] * 6, shots=4)
  blocks = first.split("\n\n")
  assert len(blocks) == 5 and "Q0?" not in "".join(blocks[:4])
  assert blocks[0].endswith(": True") and blocks[1].endswith(": False")
  # Question 2's shot proposes the next shot's (question 3's) answer.
  assert blocks[1].startswith("Question: Q2?\nProposed answer: A3\n")
  assert blocks[-1] == ("Question: Q0?\nProposed answer: mine\n"
                        "Is the proposed answer true or false? The proposed answer is:")


def test_report_has_every_method(tiny_model, data_env, tmp_path, monkeypatch):
  workdir = tmp_path / "run"
  cfg = _cfg(tiny_model, data_env, uncertainty__self_assessment=True,
             uncertainty__min_parsed=0.0)
  report = run.run_calibration(cfg, str(workdir), progress=False)
  assert tuple(report["methods"]) == ALL
  for key in ALL:
    row = report["methods"][key]
    if "skipped" in row:
      assert key == "verbalized" and "of 24 questions" in row["skipped"]
      continue
    assert row["n"] <= 24 and 0 <= row["smece"] <= 1 and len(row["prr_ci"]) == 2, key
    assert row["risk_coverage"]["coverage"][-1] == 1.0
  # The plurality's B-confidence is the report's own confidence.
  assert report["methods"]["b_confidence"]["smece"] == pytest.approx(report["smece"], abs=1e-6)
  rows = list(csv.DictReader(open(workdir / "per_question.csv")))
  assert set(ALL) <= set(rows[0])
  p_true = np.asarray([float(r["p_true"]) for r in rows])
  assert np.all((p_true > 0) & (p_true < 1))
  stored = json.loads((workdir / run.SELF_ASSESSMENT_FILE).read_text())
  assert len(stored["scores"]["p_true"]) == 24
  # A rerun reuses the stored scores: the model is not asked again.
  monkeypatch.setattr(self_assessment, "assess", lambda *a, **k: pytest.fail("recomputed"))
  again = run.run_calibration(cfg, str(workdir), progress=False)
  assert again["methods"]["p_true"] == report["methods"]["p_true"]
  # A damaged store is computed again, not a crash.
  (workdir / run.SELF_ASSESSMENT_FILE).write_text("{trunc")
  monkeypatch.undo()
  third = run.run_calibration(cfg, str(workdir), progress=False)
  assert third["methods"]["p_true"] == report["methods"]["p_true"]


def test_without_self_assessment_the_two_methods_say_why(tiny_model, data_env, tmp_path):
  report = run.run_calibration(_cfg(tiny_model, data_env, data__n_questions=6),
                               str(tmp_path / "run"), progress=False)
  for key in report_lib.SELF_ASSESSED:
    assert "uncertainty.self_assessment=False" in report["methods"][key]["skipped"]
