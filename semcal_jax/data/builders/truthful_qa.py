"""TruthfulQA, generation task (Lin et al. 2022, Apache-2.0).

Accepted files:
- the official `TruthfulQA.csv`: columns `Type`, `Category`, `Question`,
  `Best Answer`, `Correct Answers` and `Incorrect Answers` (each a list
  separated by "; "), `Source`;
- the Hugging Face `truthful_qa` "generation" config, as Parquet or JSON Lines:
  `{"type", "category", "question", "best_answer", "correct_answers": [...],
  "incorrect_answers": [...], "source"}`.
References: the best answer first, then the other correct answers. The
incorrect answers are kept in `meta["incorrect_answers"]` (joined by "; "),
with the category and type. Split: validation (the only one TruthfulQA has).
Ids hash the question.
"""

from __future__ import annotations

from collections.abc import Iterator

from semcal_jax.data import builder, question, readers

_CSV = ("Type", "Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers")
_ROW = ("question", "best_answer", "correct_answers", "incorrect_answers")


def _listed(value, name, path, line) -> list[str]:
  """A list field: a list of strings, or one string separated by ';'."""
  if isinstance(value, str):
    return [v.strip() for v in value.split(";") if v.strip()]
  if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
    return [v.strip() for v in value if v.strip()]
  raise readers.DataFormatError(path, line, f"field {name!r}: expected a list of strings or a "
                                f"';'-separated string, got {type(value).__name__}")


class TruthfulQA(builder.QABuilder, skip_registration=True):
  """TruthfulQA questions with their true and false reference answers."""

  name = "truthful_qa"
  HOMEPAGE = "https://github.com/sylinrl/TruthfulQA"
  URLS = {"validation": "https://raw.githubusercontent.com/sylinrl/TruthfulQA/main/TruthfulQA.csv"}
  PATTERNS = ("*.csv", "*.jsonl", "*.parquet")
  DEFAULT_SPLIT = "validation"

  def parse_file(self, path, split) -> Iterator[question.Question]:
    if path.suffix == ".csv":
      rows = ((line, {"question": r["Question"], "best_answer": r["Best Answer"],
                      "correct_answers": r["Correct Answers"],
                      "incorrect_answers": r["Incorrect Answers"], "category": r["Category"],
                      "type": r["Type"]})
              for line, r in readers.iter_csv(path, required=_CSV))
    elif path.suffix == ".parquet":
      rows = readers.iter_parquet(path, columns=_ROW + ("category", "type"))
    else:
      rows = readers.iter_jsonl(path)
    for line, row in rows:
      yield self._question(row, path, line, split)

  def _question(self, row, path, line, split) -> question.Question:
    text = readers.field(row, "question", path, line)
    best = readers.field(row, "best_answer", path, line)
    correct = _listed(row.get("correct_answers", []), "correct_answers", path, line)
    incorrect = _listed(row.get("incorrect_answers", []), "incorrect_answers", path, line)
    meta = {"incorrect_answers": "; ".join(incorrect)}
    meta.update({k: str(row[k]) for k in ("category", "type") if row.get(k)})
    return question.Question(id=question.stable_id("tqa", text), question=text.strip(),
                             answers=question.unique_answers([best.strip(), *correct]),
                             dataset=self.name, split=split, meta=meta)
