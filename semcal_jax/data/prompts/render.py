"""Rendering few-shot prompts in a response style, as plain text or through a chat template.

    prompter = Prompter(cfg, dataset="gsm8k")                         # base format
    prompter = Prompter(cfg, dataset="gsm8k",
                        apply_chat_template=tokenizer.apply_chat_template)  # chat format
    p = prompter.render(question)
    p.text, p.stop, p.max_new_tokens, p.exemplar_ids

Base format (`cfg.format = "base"`):

    <instruction>

    Question: <exemplar 1>
    Answer: <its answer in the style>

    ...

    Question: <the question>
    Answer:

Chat format: the instruction as a system message (or before the first user
message), each exemplar as a user message "Question: ..." and an assistant
message with its answer, then the question as the last user message; the
text is `apply_chat_template(messages)` (a callable taking the list of
`{"role", "content"}` dicts, e.g. `semcal_jax.models.tokenizer.Tokenizer.
apply_chat_template`, which adds the generation prompt).

The exemplars never include the question being asked: an exemplar with the
same id or the same normalised question text is skipped and the next one in
the (seeded) order is taken.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Mapping, Sequence

import ml_collections
import numpy as np

from semcal_jax.data import question as question_lib
from semcal_jax.data.prompts import config as config_lib
from semcal_jax.data.prompts import exemplars as exemplars_lib

ChatTemplate = Callable[[list[dict[str, str]]], str]


@dataclasses.dataclass(frozen=True)
class Prompt:
  """One rendered prompt and how to sample from it."""
  text: str
  stop: tuple[str, ...]
  max_new_tokens: int
  style: str
  format: str
  question_id: str
  exemplar_ids: tuple[str, ...]


class Prompter:
  """Renders the prompts of one data set (module docstring).

  Args:
    config: `default_config()`-shaped settings (None: the defaults).
    dataset: the data set name; picks the fixed exemplar family.
    pool: with `exemplars.source = "train"`, the train-split questions (or
      `Exemplar`s) to draw exemplars from.
    apply_chat_template: needed for `format = "chat"`.
  """

  def __init__(self, config: ml_collections.ConfigDict | None = None, *, dataset: str,
               pool: Sequence[question_lib.Question | exemplars_lib.Exemplar] | None = None,
               apply_chat_template: ChatTemplate | None = None):
    self.config = config if config is not None else config_lib.default_config()
    config_lib.validate(self.config)
    self.dataset = dataset
    if self.config.format == "chat" and not callable(apply_chat_template):
      raise ValueError("prompts.format='chat' needs apply_chat_template= (a callable "
                       "messages -> str)")
    self._chat = apply_chat_template
    if self.config.exemplars.source == "fixed":
      if pool is not None:
        raise ValueError("pool= is only used with prompts.exemplars.source='train'")
      self.pool = exemplars_lib.FIXED[exemplars_lib.family(dataset)]
    else:
      if not pool:
        raise ValueError(f"prompts.exemplars.source='train' needs pool= (the {dataset} train "
                         "split's questions)")
      qs = [p for p in pool if isinstance(p, question_lib.Question)]
      self.pool = tuple(exemplars_lib.from_questions(qs)) + tuple(
          p for p in pool if isinstance(p, exemplars_lib.Exemplar))
    self._norm = [question_lib.normalize_question(e.question) for e in self.pool]

  @property
  def style(self) -> str:
    return self.config.style

  def exemplars_for(self, q: question_lib.Question) -> list[exemplars_lib.Exemplar]:
    """The `k_shot` exemplars for question `q`, never `q` itself."""
    k = self.config.k_shot
    if k == 0:
      return []
    ex_cfg = self.config.exemplars
    n = len(self.pool)
    if ex_cfg.source == "fixed" and not ex_cfg.per_question:
      order = range(n)
    else:
      seed = [ex_cfg.seed, zlib.crc32(q.id.encode())] if ex_cfg.per_question else ex_cfg.seed
      order = np.random.default_rng(seed).permutation(n).tolist()
    norm = question_lib.normalize_question(q.question)
    chosen = []
    for i in order:
      if self.pool[i].id == q.id or self._norm[i] == norm:
        continue
      chosen.append(self.pool[i])
      if len(chosen) == k:
        return chosen
    raise ValueError(f"{self.dataset}: only {len(chosen)} exemplars left after excluding "
                     f"question {q.id}; prompts.k_shot={k} needs more")

  def render(self, q: question_lib.Question) -> Prompt:
    """The prompt for question `q`."""
    cfg = self.config
    style_cfg = cfg.styles[cfg.style]
    shots = self.exemplars_for(q)
    instruction = style_cfg.instruction.strip()
    if cfg.format == "base":
      b = cfg.base
      blocks = [f"{b.question_prefix}{e.question}\n{b.answer_prefix} {e.answer(cfg.style)}"
                for e in shots]
      blocks.append(f"{b.question_prefix}{q.question}\n{b.answer_prefix}")
      text = b.separator.join(blocks)
      if b.instruction and instruction:
        text = instruction + b.separator + text
      stop = tuple(style_cfg.stop)
    else:
      text = self._chat(self._messages(q, shots, instruction))
      if not isinstance(text, str):
        raise TypeError(f"apply_chat_template returned {type(text).__name__}, expected str")
      stop = tuple(style_cfg.chat_stop)
    return Prompt(text=text, stop=stop, max_new_tokens=int(style_cfg.max_new_tokens),
                  style=cfg.style, format=cfg.format, question_id=q.id,
                  exemplar_ids=tuple(e.id for e in shots))

  def _messages(self, q, shots, instruction) -> list[dict[str, str]]:
    prefix = self.config.base.question_prefix
    messages: list[dict[str, str]] = []
    for e in shots:
      messages.append({"role": "user", "content": f"{prefix}{e.question}"})
      messages.append({"role": "assistant", "content": e.answer(self.config.style)})
    messages.append({"role": "user", "content": f"{prefix}{q.question}"})
    if instruction:
      if self.config.chat.system:
        messages.insert(0, {"role": "system", "content": instruction})
      else:
        messages[0] = {"role": "user", "content": f"{instruction}\n\n{messages[0]['content']}"}
    return messages


def render(q: question_lib.Question, config: ml_collections.ConfigDict | None = None, *,
           dataset: str | None = None, **kwargs) -> Prompt:
  """One prompt: `Prompter(config, dataset=dataset or q.dataset, **kwargs).render(q)`."""
  name = dataset or q.dataset
  if not name:
    raise ValueError(f"question {q.id} has no dataset; pass dataset=")
  return Prompter(config, dataset=name, **kwargs).render(q)


def stop_and_budget(config: ml_collections.ConfigDict) -> Mapping[str, object]:
  """The sampler settings of the configured style and format: stop strings and token budget."""
  config_lib.validate(config)
  s = config.styles[config.style]
  return {"stop": tuple(s.stop if config.format == "base" else s.chat_stop),
          "max_new_tokens": int(s.max_new_tokens)}
