"""The `judge` rule: an LLM extracts the short answer, which the `normalized` rule keys.

The judge is any model `semcal_jax.models.load` can load, run through the
project's sampler (greedy, batched, batch-invariant so the answer for a
response never depends on what else is in the batch). For each response it is
asked, with a configurable prompt, for the short final answer; the reply goes
through the `normalized` rule (SQuAD normalisation) to give the class key, and
references are keyed by the `normalized` rule directly (they are already short
answers). "NONE" (or an empty reply) means nothing was extracted.

Replies are cached on disk in SQLite, keyed by the judge model, the prompt
template, the question, the response and its style, so a resumed or repeated
run never asks twice. `collapse` calls `prepare` with all responses of a run
first, so the judge runs in as few sampler batches as possible.

    fn = semantic.get("judge", model="smollm2-135m-instruct")
    batch = semantic.collapse(fn, responses, references, "sentence", questions=questions)
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import sqlite3
from collections.abc import Sequence

from semcal_jax.semantic import base
from semcal_jax.semantic.normalized import NormalizedMatch

DEFAULT_PROMPT = (
    "Read the question and the response. Write only the final short answer that the "
    "response gives (a few words or a number), or NONE if it gives no answer.\n\n"
    "Question: {question}\nResponse: {response}\nShort answer:")
NONE_REPLIES = ("", "none", "n/a", "no answer")


class JudgeCollapsing(base.CollapsingFunction):
  """An LLM judge extracting short answers (see module docstring).

  Args:
    model: a `models.load` spec, or an already loaded model (`LoadedModel`).
    prompt: template with `{question}` and `{response}` (and optionally `{style}`).
    chat: wrap the prompt in the model's chat template (default: when it has one).
    max_new_tokens: longest reply.
    cache_dir: folder of the SQLite cache (default `$SEMCAL_CACHE/judge`); None
      and `cache=False` disable it.
    batch_rows: responses per sampler batch.
    dtype: the judge's parameter dtype.
    mesh_model: shard the judge over this many of this host's devices (tensor
      parallel), for a judge larger than one device holds.
  """

  name = "judge"

  def __init__(self, model="smollm2-135m-instruct", *, prompt: str = DEFAULT_PROMPT,
               chat: bool | None = None, max_new_tokens: int = 16, cache_dir=None,
               cache: bool = True, batch_rows: int = 64, dtype: str = "float32",
               mesh_model: int = 1):
    if "{response}" not in prompt:
      raise ValueError("judge prompt: the template must contain {response}")
    self._spec = model
    self._loaded = None if isinstance(model, (str, os.PathLike)) else model
    self._dtype = dtype
    self._mesh_model = int(mesh_model)
    self.prompt = prompt
    self.chat = chat
    self.max_new_tokens = int(max_new_tokens)
    self.batch_rows = int(batch_rows)
    self._rule = NormalizedMatch()
    self._memory: dict[str, str | None] = {}
    self.model_calls = 0  # sampler calls made (for tests and logs)
    self._db = None
    if cache:
      from semcal_jax.models import registry  # pylint: disable=g-import-not-at-top
      folder = pathlib.Path(cache_dir) if cache_dir else registry.cache_dir() / "judge"
      folder.mkdir(parents=True, exist_ok=True)
      self._db = sqlite3.connect(os.fspath(folder / "replies.sqlite"))
      self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT)")

  # ------------------------------------------------------------------ the model
  @property
  def loaded(self):
    if self._loaded is None:
      import jax  # pylint: disable=g-import-not-at-top
      from semcal_jax import models  # pylint: disable=g-import-not-at-top
      k = self._mesh_model
      if k > jax.local_device_count():
        raise ValueError(f"judge mesh_model: {k} devices asked, this host has "
                         f"{jax.local_device_count()}")
      mesh = models.make_mesh(model=k, devices=jax.local_devices()[:k]) if k > 1 else None
      self._loaded = models.load(self._spec, dtype=self._dtype, mesh=mesh, progress=False)
    return self._loaded

  @property
  def model_name(self) -> str:
    return os.fspath(self._spec) if isinstance(self._spec, (str, os.PathLike)) else getattr(
        self._spec, "name", type(self._spec).__name__)

  def render(self, response: str, style: str, question: str | None) -> str:
    text = self.prompt.format(question=question or "", response=response.strip(), style=style)
    tok = self.loaded.tokenizer
    use_chat = self.chat if self.chat is not None else bool(tok.chat_template)
    if use_chat:
      return tok.apply_chat_template([{"role": "user", "content": text}],
                                     add_generation_prompt=True)
    return text

  def _key(self, response: str, style: str, question: str | None) -> str:
    blob = json.dumps([self.model_name, self.prompt, self.chat, question or "", response, style])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()

  def _lookup(self, key: str):
    if key in self._memory:
      return True, self._memory[key]
    if self._db is not None:
      row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
      if row is not None:
        self._memory[key] = row[0]
        return True, row[0]
    return False, None

  # ------------------------------------------------------------------ batching
  def prepare(self, responses: Sequence[str | None], style: str,
              questions: Sequence[str | None] | None = None) -> None:
    """Asks the judge about every response not in the cache, in batches."""
    from semcal_jax import sampling  # pylint: disable=g-import-not-at-top
    questions = questions if questions is not None else [None] * len(responses)
    todo, seen = [], set()
    for text, q in zip(responses, questions):
      if text is None or not text.strip():
        continue
      key = self._key(text, style, q)
      if key in seen or self._lookup(key)[0]:
        continue
      seen.add(key)
      todo.append((key, text, q))
    if not todo:
      return
    prompts = [self.render(text, style, q) for _, text, q in todo]
    result = sampling.sample(self.loaded, prompts, num_samples=1,
                             max_new_tokens=self.max_new_tokens, greedy=True, stop=("\n",),
                             question_ids=[k for k, _, _ in todo], max_rows=self.batch_rows,
                             progress=len(todo) > self.batch_rows)
    self.model_calls += 1
    rows = [(key, result.texts[i][0].strip()) for i, (key, _, _) in enumerate(todo)]
    self._memory.update(rows)
    if self._db is not None:
      with self._db:  # one transaction: all replies of the batch or none
        self._db.executemany("INSERT OR REPLACE INTO replies VALUES (?, ?)", rows)

  # ------------------------------------------------------------------ the rule
  def reply(self, text: str | None, style: str = "concise", *,
            question: str | None = None) -> str | None:
    """The judge's raw reply for a response (None for an empty response)."""
    if text is None or not text.strip():
      return None
    key = self._key(text, style, question)
    found, reply = self._lookup(key)
    if not found:
      self.prepare([text], style, [question])
      _, reply = self._lookup(key)
    return reply

  def extract(self, text, style="concise", *, question=None):
    base.check_style(style)
    reply = self.reply(text, style, question=question)
    if reply is None or reply.strip().strip(".").lower() in NONE_REPLIES:
      return None
    return self._rule.extract(reply, "concise", question=question)

  def reference_key(self, answer, *, question=None):
    return self._rule.reference_key(answer, question=question)

  def equivalent(self, a, b):
    return self._rule.equivalent(a, b)

  def matches_reference(self, ext, references, *, question=None):
    return self._rule.matches_reference(ext, references, question=question)

  def group(self, responses, references, style="concise", *, question=None,
            merge_aliases=True):
    self.prepare(list(responses), style, [question] * len(responses))
    return super().group(responses, references, style, question=question,
                         merge_aliases=merge_aliases)
