"""A hand-labelled set of sampled responses, for measuring the collapsing functions.

CASES (270 responses, one module per rule) and HELD_OUT (64, written later;
see held_out.py).

Each case is one question: the rule that should collapse its responses
(`normalized`, `numeric` or `math`), the data set and response style it imitates,
the question text, the reference answer(s) with aliases, and M responses written
to look like real model output (base-model continuations that ran past the
answer, chatty instruct answers, worked solutions with intermediate numbers).

Labelling policy (what a careful human grader writes, independent of any code):
- Each response gets a group letter; two responses share a letter when they give
  the same answer to the question (same entity, same number, same mathematical
  value; wording, units, articles, case and LaTeX spelling do not matter).
- `None`: the response commits to no answer (empty, a refusal, "I don't know",
  a worked solution that never states a result, garbage).
- A response that hedges between two candidates ("5 or 7") is its own group,
  neither candidate's.
- `correct` names the group that matches the reference answer (None: no group
  does).

Scoring is in tests/semantic/test_labelled.py: `score_case` (each label group
is mapped to the class most of its responses got; a response agrees when it is
unparsed exactly when labelled None, sits in its group's class, and matches the
reference exactly when its group is `correct`) and the stricter
`score_case_pairwise` (every pair of responses must agree on "same class").
"""

from __future__ import annotations

from tests.semantic.labelled import held_out, math_cases, normalized_cases, numeric_cases
from tests.semantic.labelled.case import Case

CASES: tuple[Case, ...] = normalized_cases.CASES + numeric_cases.CASES + math_cases.CASES
HELD_OUT: tuple[Case, ...] = held_out.HELD_OUT


def num_responses(rule: str | None = None, cases=CASES + HELD_OUT) -> int:
  """How many labelled responses there are (for one rule, or in all)."""
  return sum(len(c.responses) for c in cases if rule is None or c.rule == rule)
