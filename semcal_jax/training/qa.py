"""Question-answering glue: prompts, SFT targets and correctness rewards from `Question`s.

    prompter = prompts.Prompter(cfg, dataset="gsm8k")
    ids = prompt_ids(tokenizer, prompter, questions)                # [Q] token ids
    ex = sft_examples(tokenizer, prompter, questions, style="cot")  # worked solutions as targets
    batch = sft_batch(ex, indices)                                  # objectives.NextToken
    rewards, collapsed = correctness(semantic.get("numeric"), texts, questions, "concise")

A target is the answer a few-shot exemplar would give in the prompt's style
(`prompts.from_questions`: the reference answer for "concise", "The answer
is X." for "sentence", the worked solution ending "The answer is X." for
"cot"), preceded by a space in the base format (after "Answer:"), followed
by `target_suffix` and, with `append_eos`, the tokenizer's EOS id, so the
model learns to stop. Prompt and target are tokenised separately, exactly as
the sampler sees them (prompt ids, then generated ids).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from semcal_jax import semantic
from semcal_jax.data import prompts as prompts_lib
from semcal_jax.data.question import Question
from semcal_jax.training import batches as batches_lib


@dataclasses.dataclass(frozen=True)
class Example:
  """A tokenised SFT example: prompt ids and target ids (the loss is on the target)."""
  prompt: tuple[int, ...]
  target: tuple[int, ...]
  question_id: str


def prompt_ids(tokenizer, prompter: prompts_lib.Prompter,
               questions: Sequence[Question]) -> list[list[int]]:
  """Token ids of each question's rendered prompt (BOS by the tokenizer's rule)."""
  return [tokenizer.encode(prompter.render(q).text) for q in questions]


def target_text(prompter: prompts_lib.Prompter, q: Question, style: str | None = None) -> str:
  """The answer text a few-shot exemplar would give for `q` in `style`."""
  style = style or prompter.style
  text = prompts_lib.from_questions([q])[0].answer(style)
  return (" " + text) if prompter.config.format == "base" else text


def sft_examples(tokenizer, prompter: prompts_lib.Prompter, questions: Sequence[Question], *,
                 style: str | None = None, append_eos: bool = True, target_suffix: str = "",
                 max_prompt_tokens: int | None = None,
                 max_target_tokens: int | None = None) -> list[Example]:
  """SFT (or, with `style="cot"`, CoT-SFT on worked solutions) examples.

  Examples whose prompt or target exceeds the limits are dropped (their
  number is logged by the caller: `len(questions) - len(result)`).

  Raises:
    ValueError: `append_eos` but the tokenizer has no EOS token; a question
      without a worked solution for style "cot".
  """
  eos = tokenizer.eos_id
  if append_eos and eos is None:
    raise ValueError("sft: append_eos=True but the tokenizer has no EOS token")
  out = []
  for q in questions:
    p = tokenizer.encode(prompter.render(q).text)
    t = tokenizer.encode(target_text(prompter, q, style) + target_suffix, add_bos=False)
    if append_eos:
      t = t + [eos]
    if (max_prompt_tokens and len(p) > max_prompt_tokens) or (
        max_target_tokens and len(t) > max_target_tokens):
      continue
    out.append(Example(tuple(p), tuple(t), q.id))
  return out


def sft_batch(examples: Sequence[Example], indices: Sequence[int], *, pad_id: int = 0,
              prompt_len: int | None = None, target_len: int | None = None) -> dict:
  """The `objectives.NextToken` batch of `examples[indices]` (E = len(indices), S = 1)."""
  chosen = [examples[int(i)] for i in indices]
  return batches_lib.pack([list(e.prompt) for e in chosen], [[list(e.target)] for e in chosen],
                          pad_id=pad_id, prompt_len=prompt_len, continuation_len=target_len)


def correctness(fn, texts: Sequence[Sequence[str]], questions: Sequence[Question], style: str):
  """Reward 1 for a response whose class matches a reference alias, else 0.

  Returns `(rewards float32 [Q, G], semantic.Collapsed)`; unparsed responses get 0."""
  collapsed = semantic.collapse(fn, texts, [list(q.answers) for q in questions], style,
                                questions=[q.question for q in questions])
  return collapsed.matches.astype(np.float32), collapsed


def pad_id(tokenizer) -> int:
  """The tokenizer's padding id, else EOS, else 0 (padding is never attended to)."""
  for v in (tokenizer.pad_id, tokenizer.eos_id):
    if v is not None:
      return int(v)
  return 0


__all__ = ["Example", "correctness", "pad_id", "prompt_ids", "sft_batch", "sft_examples",
           "target_text"]
