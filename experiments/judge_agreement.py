"""How well an LLM judge agrees with the deterministic rules and with human labels.

  python experiments/judge_agreement.py [--judge=smollm2-135m-instruct] [--run=DIR]
      [--max_questions=50] [--out=FILE.json]

On the hand-labelled set shipped with the tests (tests/semantic/labelled: each
response marked right or wrong by a human), per rule (normalized, numeric,
math): the rule against the labels, the judge against the labels, and the
judge against the rule. With --run, on that calibration run's own samples (its
first --max_questions questions): the judge against the run's rule. Each
comparison prints agreement, Cohen's kappa, the share of the first rater's
"correct" verdicts the second also gives (hits found) and the confusion table;
--out writes them all as JSON. The judge is any `models.load` spec (a named
model, an HF folder, a .gguf file).
"""

import os
import sys

from absl import flags

from semcal_jax import config_utils

_JUDGE = flags.DEFINE_string("judge", "smollm2-135m-instruct", "The judge model (any spec).")
_RUN = flags.DEFINE_string("run", None, "A finished calibration run to compare on.")
_MAX_Q = flags.DEFINE_integer("max_questions", 50, "Questions of --run to compare (0 = all).")
_OUT = flags.DEFINE_string("out", None, "Write the results as JSON here.")
RULES = ("normalized", "numeric", "math")


def _labelled_items(rule):
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  from tests.semantic import labelled  # pylint: disable=g-import-not-at-top
  by_style = {}
  for case in labelled.CASES + labelled.HELD_OUT:
    if case.rule != rule:
      continue
    texts = [t for t, _ in case.responses]
    gold = [label is not None and label == case.correct for _, label in case.responses]
    by_style.setdefault(case.style, []).append((case.question, texts, case.references, gold))
  return by_style


def _print(title, s):
  (tn, fp), (fn, tp) = s["confusion"]
  print(f"{title:<44} n={s['n']:<5} agreement {s['agreement']:.3f}  kappa {s['kappa']:.3f}  "
        f"hits found {s['hits_found']:.3f}  [[{tn} {fp}] [{fn} {tp}]]")


def main(_):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from semcal_jax import semantic  # pylint: disable=g-import-not-at-top
  from semcal_jax.pipeline import run_config  # pylint: disable=g-import-not-at-top
  from semcal_jax.semantic import agreement  # pylint: disable=g-import-not-at-top
  run = None
  if _RUN.value:  # read (and so check) the run before any model work
    from semcal_jax.probe.from_run import load_run  # pylint: disable=g-import-not-at-top
    cfg, records, _ = load_run(_RUN.value)
    run = (cfg, records[:_MAX_Q.value or None])
  judge = semantic.get("judge", model=_JUDGE.value)
  results = {"judge": _JUDGE.value, "labelled": {}, "run": None}
  print(f"judge: {_JUDGE.value}; rows: [[no/no no/yes] [yes/no yes/yes]] (first rater / second)")
  for rule in RULES:
    fn = semantic.get(rule)
    gold, by_rule, by_judge = [], [], []
    for style, items in _labelled_items(rule).items():
      triples = [(q, t, r) for q, t, r, _ in items]
      gold += [g for *_, gs in items for g in gs]
      by_rule.append(agreement.verdicts(fn, triples, style))
      by_judge.append(agreement.verdicts(judge, triples, style))
    gold, by_rule, by_judge = np.asarray(gold), np.concatenate(by_rule), np.concatenate(by_judge)
    out = {"rule_vs_labels": agreement.summary(gold, by_rule),
           "judge_vs_labels": agreement.summary(gold, by_judge),
           "judge_vs_rule": agreement.summary(by_rule, by_judge)}
    results["labelled"][rule] = out
    for k, s in out.items():
      _print(f"labelled / {rule} / {k}", s)
  if run is not None:
    cfg, records = run
    rule = run_config.rule(cfg)
    if rule == "judge":  # compare with the data set's own deterministic rule
      rule = run_config.dataset_info(cfg)[2]
    triples = [(r["question"], r["texts"], r["references"]) for r in records]
    style = cfg.prompts.style
    s = agreement.summary(agreement.verdicts(semantic.get(rule), triples, style),
                          agreement.verdicts(judge, triples, style))
    results["run"] = {"dir": _RUN.value, "rule": rule, "questions": len(records), **s}
    _print(f"run / {rule} vs judge ({len(records)} questions)", s)
  if _OUT.value:
    from semcal_jax import storage  # pylint: disable=g-import-not-at-top
    storage.write_json_atomic(_OUT.value, results)
    print(f"wrote {_OUT.value}")


if __name__ == "__main__":
  config_utils.run(main)
