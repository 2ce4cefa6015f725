"""TriviaQA: trivia questions with many answer aliases (Joshi et al. 2017).

Accepted files:
- the official JSON of the TriviaQA archives (`qa/wikipedia-dev.json`,
  `unfiltered-web-train.json`, ...): `{"Data": [{"Question", "QuestionId",
  "Answer": {"Value", "Aliases", ...}}, ...]}`; rows without an "Answer" (the
  `*-test-without-answers.json` files) are skipped and counted in the log;
- JSON Lines with the same fields per row, or the Hugging Face export's
  `{"question", "question_id", "answer": {"value", "aliases"}}`;
- the subset format of ../shared/data/triviaqa (llm-foundry's eval data):
  `{"context": "Question: ...\\nAnswer:", "answer", "aliases"}`.
The reference answer comes first, then its aliases. Ids: QuestionId, else a
hash of the question text. Download: the unfiltered archive (no-context
questions), about 600 MB.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from absl import logging

from semcal_jax.data import builder, question, readers

_FRAME = re.compile(r"^\s*Question:\s*(.*?)\s*(?:\n\s*Answer:\s*)?$", re.S)


def strip_frame(context: str) -> str:
  """"Question: ...\\nAnswer:" -> "..."."""
  m = _FRAME.match(context)
  return m.group(1).strip() if m else context.strip()


class TriviaQA(builder.QABuilder, skip_registration=True):
  """TriviaQA trivia questions with answer aliases."""

  name = "trivia_qa"
  HOMEPAGE = "https://nlp.cs.washington.edu/triviaqa/"
  URLS = {"unfiltered": "https://nlp.cs.washington.edu/triviaqa/data/triviaqa-unfiltered.tar.gz"}
  PATTERNS = ("*.json", "*.jsonl")

  def parse_file(self, path, split) -> Iterator[question.Question]:
    rows = (readers.iter_jsonl(path) if path.suffix == ".jsonl"
            else readers.iter_json_array(path, key="Data"))
    skipped = 0
    for line, row in rows:
      if not isinstance(row, dict):
        raise readers.DataFormatError(path, line, f"expected an object, got {type(row).__name__}")
      q = self._parse_row(row, path, line, split)
      if q is None:
        skipped += 1
        continue
      yield q
    if skipped:
      logging.info("trivia_qa: %s: skipped %d questions without answers", path, skipped)

  def _parse_row(self, row, path, line, split) -> question.Question | None:
    if "context" in row:
      text = strip_frame(readers.field(row, "context", path, line))
      answers = question.unique_answers(readers.field(row, "answer", path, line),
                                        readers.field(row, "aliases", path, line, kind=list))
      qid = question.stable_id("tqa", text)
    else:
      key = "Question" if "Question" in row else "question"
      text = readers.field(row, key, path, line).strip()
      ans = row.get("Answer", row.get("answer"))
      if ans is None:
        return None
      if not isinstance(ans, dict):
        raise readers.DataFormatError(path, line, f"field 'Answer': expected an object, got "
                                      f"{type(ans).__name__}")
      value = ans.get("Value", ans.get("value"))
      aliases = ans.get("Aliases", ans.get("aliases", []))
      if not isinstance(value, str) or not value.strip() or not isinstance(aliases, list):
        raise readers.DataFormatError(path, line, "field 'Answer' needs a 'Value' string and an "
                                      "'Aliases' list")
      answers = question.unique_answers(value, aliases)
      qid = str(row.get("QuestionId", row.get("question_id", ""))) or question.stable_id("tqa",
                                                                                         text)
    if not answers:
      raise readers.DataFormatError(path, line, "no reference answer")
    return question.Question(id=qid, question=text, answers=answers, dataset=self.name,
                             split=split)
