"""The model assesses its own plurality answer: p(True) and a verbalized confidence.

- `p_true` (Kadavath et al., 2022): a few-shot prompt lists questions, each with
  a proposed answer and whether it is True or False; then the question at hand
  with the model's plurality answer. The confidence is
  `p(" True") / (p(" True") + p(" False"))`, the model's next-token
  probabilities of the two words (all their tokens, scored by one forward
  pass). The shots are the run's first `shots` other questions, alternately
  proposed with their own reference answer (True) and with the next
  question's reference (False), so the prompt never depends on a model output.
- `verbalized`: the model is asked for its confidence from 0 to 100 and
  continues greedily for `max_new_tokens` tokens (no stop string); the first
  number it writes that reads as a confidence (`parse_confidence`: 0.9 or 90)
  is the confidence. A response without one
  gets NaN (that question is left out of the method's metrics); when fewer than
  `min_parsed` of the questions get a number (typical of a base model that
  never answers with one), the method is reported as skipped, with the count.

For a chat-format run both prompts go through the model's chat template. The
scores depend only on the model, the questions and the plurality answers, so
they are computed once per run and stored (see `report`).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Sequence

import jax
import numpy as np
from flax import nnx

from semcal_jax import sampling
from semcal_jax.training import batches
from semcal_jax.training.logprobs import continuation_logprobs

ROWS = 8  # questions per compiled scoring batch (short batches are padded)
VERSION = 4  # of the prompts and parsing: stored scores of another version are recomputed
_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.]*\d)")
_LIST_MARKER = re.compile(r"(?m)^[ \t]*\d+[.)][ \t]")  # "1. " opening a numbered line


def _shot(question: str, answer: str, verdict: str) -> str:
  return (f"Question: {question}\nProposed answer: {answer}\n"
          f"Is the proposed answer true or false? The proposed answer is:{verdict}")


def p_true_prompts(questions: Sequence[str], references: Sequence[Sequence[str]],
                   answers: Sequence[str], *, shots: int = 4) -> list[str]:
  """The few-shot True/False prompt of each question (module docstring)."""
  out = []
  n = len(questions)
  for i in range(n):
    others = [j for j in range(n) if j != i and references[j]][:shots]
    lines = []
    for k, j in enumerate(others):
      if k % 2 == 0:
        lines.append(_shot(questions[j], references[j][0], " True"))
      else:
        wrong = references[others[(k + 1) % len(others)]][0]
        if wrong not in references[j]:
          lines.append(_shot(questions[j], wrong, " False"))
    lines.append(_shot(questions[i], answers[i] or "(no answer)", ""))
    out.append("\n\n".join(lines))
  return out


def verbalized_prompts(questions: Sequence[str], answers: Sequence[str]) -> list[str]:
  return [f"Question: {q}\nAnswer: {a or '(no answer)'}\nHow confident are you that this answer "
          "is correct? Give a number from 0 to 100.\nConfidence (0-100):"
          for q, a in zip(questions, answers)]


def parse_confidence(text: str) -> float:
  """The first number of `text` that reads as a confidence; NaN if there is none.

  A number with a decimal point in [0, 1] ("0.9") is a probability; any other
  number in [0, 100] ("85", "85%", "62.5") is a percentage; larger ones, and the
  markers of a numbered list ("1. "), are skipped."""
  text = _LIST_MARKER.sub(lambda m: " " * len(m.group(0)), text)
  for m in _NUMBER.finditer(text):
    token = m.group(0)
    v = float(token)
    if "." in token and v <= 1:
      return v
    if v <= 100:
      return v / 100.0
  return math.nan


@functools.partial(jax.jit, static_argnums=0)
def _score(graphdef, state, batch):
  lp = continuation_logprobs(nnx.merge(graphdef, state), batch, logit_chunk=None)
  return (lp * batch["loss_mask"]).sum(-1)  # [E, S]


def _encode(loaded, text: str, chat: bool) -> list[int]:
  tok = loaded.tokenizer
  if chat:
    return tok.encode(tok.apply_chat_template([{"role": "user", "content": text}]),
                      add_bos=False)
  return tok.encode(text)


def p_true(loaded, prompts: Sequence[str], *, chat: bool = False) -> np.ndarray:
  """`[Q]` p(True) of each prompt (module docstring)."""
  tok = loaded.tokenizer
  words = [tok.encode(w, add_bos=False) for w in (" True", " False")]
  encoded = [_encode(loaded, p, chat) for p in prompts]
  graphdef, state = nnx.split(loaded.model)
  prompt_len = batches.bucket(max(len(e) for e in encoded))
  out = []
  for start in range(0, len(encoded), ROWS):
    chunk = encoded[start:start + ROWS]
    padded = chunk + [chunk[-1]] * (ROWS - len(chunk))
    batch = batches.pack(padded, [words] * ROWS, prompt_len=prompt_len,
                         pad_id=tok.pad_id if tok.pad_id is not None else 0)
    scores = np.asarray(jax.device_get(_score(graphdef, state, batch)))[:len(chunk)]
    out.append(1.0 / (1.0 + np.exp(scores[:, 1] - scores[:, 0])))
  return np.concatenate(out).astype(np.float64)


def verbalized(loaded, prompts: Sequence[str], *, chat: bool = False,
               max_new_tokens: int = 6) -> tuple[np.ndarray, list[str]]:
  """`([Q] stated confidences (NaN: none), the responses)` of a greedy continuation."""
  inputs = [_encode(loaded, p, chat) for p in prompts]
  # No stop string: a base model often starts a new line before it writes the number.
  result = sampling.sample(loaded, inputs, num_samples=1, max_new_tokens=max_new_tokens,
                           greedy=True, batch_size=min(ROWS, len(inputs)), progress=False)
  texts = [t[0] for t in result.texts]
  return np.asarray([parse_confidence(t) for t in texts], np.float64), texts


def assess(loaded, questions: Sequence[str], references: Sequence[Sequence[str]],
           answers: Sequence[str], *, chat: bool, shots: int, max_new_tokens: int,
           min_parsed: float) -> dict[str, Any]:
  """`{"p_true": [Q] list, "verbalized": [Q] list or the reason it was skipped,
  "verbalized_responses": [Q] texts}` (JSON-able; NaN kept as NaN)."""
  pt = p_true(loaded, p_true_prompts(questions, references, answers, shots=shots), chat=chat)
  vb, texts = verbalized(loaded, verbalized_prompts(questions, answers), chat=chat,
                         max_new_tokens=max_new_tokens)
  parsed = int(np.sum(~np.isnan(vb)))
  if parsed < min_parsed * len(vb) or parsed == 0:
    verbal: Any = (f"the model stated a number in 0-100 for {parsed} of {len(vb)} questions "
                   f"(needs {min_parsed:.0%})")
  else:
    verbal = vb.tolist()
  return {"p_true": pt.tolist(), "verbalized": verbal, "verbalized_responses": texts}
