"""OpenMathInstruct-2: synthetic math problems with solutions (NVIDIA, CC BY 4.0).

Files: JSON Lines or Parquet (the hub's `data/*.parquet`) with columns
`problem`, `generated_solution`, `expected_answer`, `problem_source`. The
data set has many solutions per problem; each problem is kept once (its first
row), so questions are unique. Split: from the file name ("train_1M-..." ->
train), else train. Ids hash the problem. No download: fetch the files from
the hub page and pass path=.
"""

from __future__ import annotations

from collections.abc import Iterator

from semcal_jax.data import builder, question, readers

_COLUMNS = ("problem", "generated_solution", "expected_answer", "problem_source")


class OpenMathInstruct2(builder.QABuilder, skip_registration=True):
  """OpenMathInstruct-2 math problems (one row per distinct problem)."""

  name = "openmathinstruct2"
  HOMEPAGE = "https://huggingface.co/datasets/nvidia/OpenMathInstruct-2"
  PATTERNS = ("*.jsonl", "*.parquet")
  DEFAULT_SPLIT = "train"
  SKIP_REPEATS = True

  def parse_file(self, path, split) -> Iterator[question.Question]:
    rows = (readers.iter_parquet(path, _COLUMNS) if path.suffix == ".parquet"
            else readers.iter_jsonl(path))
    for line, row in rows:
      text = readers.field(row, "problem", path, line)
      answer = readers.field(row, "expected_answer", path, line)
      solution = readers.field(row, "generated_solution", path, line, optional=True)
      source = readers.field(row, "problem_source", path, line, optional=True)
      yield question.Question(id=question.stable_id("omi2", text), question=text.strip(),
                              answers=(answer.strip(),), solution=solution or None,
                              dataset=self.name, split=split,
                              meta={"problem_source": source} if source else {})
