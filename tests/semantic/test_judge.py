"""The LLM judge end to end with SmolLM2-135M-Instruct: plumbing, batching, caching,
determinism (not the small model's quality)."""

import numpy as np
import pytest

from semcal_jax import semantic

pytestmark = pytest.mark.slow

QUESTIONS = ["What is the capital of France?", "Who wrote Hamlet?"]
RESPONSES = [["Paris", "The capital is Paris.", "I think it is Lyon.", ""],
             ["William Shakespeare", "Shakespeare wrote it.", "Marlowe", "It was Shakespeare."]]
REFERENCES = [["Paris"], ["William Shakespeare", "Shakespeare"]]


@pytest.fixture(scope="module")
def loaded(smollm2):
  return smollm2  # loaded once per test process (tests/conftest.py), shared with other modules


def test_judge_collapses_in_one_batch_and_caches(loaded, tmp_path):
  fn = semantic.get("judge", model=loaded, cache_dir=tmp_path)
  out = semantic.collapse(fn, RESPONSES, REFERENCES, "sentence", questions=QUESTIONS)
  assert fn.model_calls == 1  # every response of the run in one sampler call
  assert out.class_ids.shape == (2, 4)
  assert out.class_ids[0, 3] == semantic.UNPARSED  # empty response: never sent to the model
  for q in range(2):
    for m in range(4):
      key = out.keys[q][m]
      assert key is None or (isinstance(key, str) and key == key.strip())
  # A second judge on the same cache answers from disk without the model.
  again = semantic.get("judge", model=loaded, cache_dir=tmp_path)
  out2 = semantic.collapse(again, RESPONSES, REFERENCES, "sentence", questions=QUESTIONS)
  assert again.model_calls == 0
  np.testing.assert_array_equal(out.class_ids, out2.class_ids)
  np.testing.assert_array_equal(out.matches, out2.matches)


def test_judge_is_deterministic_and_batch_independent(loaded, tmp_path):
  a = semantic.get("judge", model=loaded, cache=False)
  b = semantic.get("judge", model=loaded, cache=False, batch_rows=2)
  flat = [r for row in RESPONSES for r in row]
  qs = [q for q, row in zip(QUESTIONS, RESPONSES) for _ in row]
  a.prepare(flat, "sentence", qs)
  b.prepare(flat[::-1], "sentence", qs[::-1])  # other order, other batch size
  for text, q in zip(flat, qs):
    assert a.reply(text, "sentence", question=q) == b.reply(text, "sentence", question=q)
  assert a.canonical("Paris", "concise", question=QUESTIONS[0]) == a.canonical(
      "Paris", "concise", question=QUESTIONS[0])


def test_judge_prompt_must_take_the_response(loaded):
  with pytest.raises(ValueError, match="{response}"):
    semantic.get("judge", model=loaded, prompt="no placeholder", cache=False)
