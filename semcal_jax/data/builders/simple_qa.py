"""SimpleQA: short fact-seeking questions (OpenAI simple-evals, MIT).

File: the official `simple_qa_test_set.csv` with columns `metadata` (a
Python-literal dict: topic, answer_type, urls), `problem`, `answer`
(4,326 rows). `metadata` is kept verbatim in `meta["metadata"]`. Split:
test. Ids hash the problem.
"""

from __future__ import annotations

from collections.abc import Iterator

from semcal_jax.data import builder, question, readers


class SimpleQA(builder.QABuilder, skip_registration=True):
  """SimpleQA fact-seeking questions."""

  name = "simple_qa"
  HOMEPAGE = "https://github.com/openai/simple-evals"
  URLS = {"test": "https://openaipublic.blob.core.windows.net/simple-evals/simple_qa_test_set.csv"}
  PATTERNS = ("*.csv",)

  def parse_file(self, path, split) -> Iterator[question.Question]:
    for line, row in readers.iter_csv(path, required=("metadata", "problem", "answer")):
      text = readers.field(row, "problem", path, line)
      answer = readers.field(row, "answer", path, line)
      yield question.Question(id=question.stable_id("sqa", text), question=text.strip(),
                              answers=(answer.strip(),), dataset=self.name, split=split,
                              meta={"metadata": row["metadata"]})
