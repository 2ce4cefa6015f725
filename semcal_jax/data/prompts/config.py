"""Prompt settings as an `ml_collections.ConfigDict` (`default_config()`).

Fields (every one can be overridden from a config file or the command line):

- `style`: "concise" (a few words or a number), "sentence" (one complete
  sentence) or "cot" (reasoning, then "The answer is ..." / a `\\boxed{}`).
- `format`: "base" (plain text `Question: ... Answer: ...` few-shot, for
  pretrained models) or "chat" (the same turns as user / assistant messages,
  rendered by the model's chat template, for instruct models).
- `k_shot`: exemplars per prompt (default 5; 0 = zero-shot).
- `exemplars.source`: "fixed" (hand-written lists in every style, per data set
  family: trivia, arithmetic, math) or "train" (questions of a train split,
  passed as `pool`; the sentence answer is "The answer is X.", the cot answer
  the worked solution). `exemplars.seed` / `exemplars.per_question`: the
  exemplars are the first `k_shot` of a seeded order of the pool (one order
  for all questions, or one per question), skipping the question being asked.
- `base.question_prefix` / `base.answer_prefix` / `base.separator`:
  the plain-text framing; `base.instruction`: start with the style's instruction.
- `chat.system`: put the instruction in a system message (else in front of the
  first user message, for templates without a system role).
- `styles.<style>.instruction`, `.stop` (stop strings for the base format),
  `.chat_stop` (for the chat format; the model's end-of-turn token stops it
  anyway) and `.max_new_tokens` (the sampling budget).
"""

from __future__ import annotations

import ml_collections

STYLES = ("concise", "sentence", "cot")
FORMATS = ("base", "chat")
SOURCES = ("fixed", "train")


def default_config() -> ml_collections.ConfigDict:
  """The default prompt settings (module docstring)."""
  c = ml_collections.ConfigDict()
  c.style = "concise"
  c.format = "base"
  c.k_shot = 5
  c.exemplars = ml_collections.ConfigDict({"source": "fixed", "seed": 0, "per_question": False})
  c.base = ml_collections.ConfigDict({
      "question_prefix": "Question: ", "answer_prefix": "Answer:", "separator": "\n\n",
      "instruction": True})
  c.chat = ml_collections.ConfigDict({"system": True})
  c.styles = ml_collections.ConfigDict({
      "concise": {
          "instruction": "Answer each question with a short answer only: a few words or a "
                         "number.",
          "stop": ("\n",), "chat_stop": ("\n\n",), "max_new_tokens": 32},
      "sentence": {
          "instruction": "Answer each question in one complete sentence.",
          "stop": ("\n",), "chat_stop": ("\n\n",), "max_new_tokens": 64},
      "cot": {
          "instruction": "Reason step by step, then state the final answer.",
          "stop": ("\nQuestion:",), "chat_stop": (), "max_new_tokens": 512},
  })
  return c


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the first bad field."""
  if config.style not in STYLES:
    raise ValueError(f"prompts.style: expected one of {STYLES}, got {config.style!r}")
  if config.format not in FORMATS:
    raise ValueError(f"prompts.format: expected one of {FORMATS}, got {config.format!r}")
  if not isinstance(config.k_shot, int) or config.k_shot < 0:
    raise ValueError(f"prompts.k_shot: expected an int >= 0, got {config.k_shot!r}")
  if config.exemplars.source not in SOURCES:
    raise ValueError(f"prompts.exemplars.source: expected one of {SOURCES}, got "
                     f"{config.exemplars.source!r}")
  for style in STYLES:
    s = config.styles[style]
    if not isinstance(s.max_new_tokens, int) or s.max_new_tokens < 1:
      raise ValueError(f"prompts.styles.{style}.max_new_tokens: expected an int >= 1, got "
                       f"{s.max_new_tokens!r}")
    for name in ("stop", "chat_stop"):
      if not all(isinstance(x, str) and x for x in s[name]):
        raise ValueError(f"prompts.styles.{style}.{name}: expected non-empty strings, got "
                         f"{s[name]!r}")
