"""Every builder on small local files in each accepted layout (no network, no TensorFlow)."""

from __future__ import annotations

import json
import sys

import pytest

from semcal_jax import data
from semcal_jax.data import loader


@pytest.fixture(autouse=True)
def _quiet():
  loader.disable_progress_bars()


@pytest.fixture
def data_dir(tmp_path):
  return tmp_path / "tfds"


def _jsonl(path, rows):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
  return path


def test_gsm8k_folder_splits_answers_and_stable_ids(tmp_path, data_dir):
  src = tmp_path / "gsm8k"
  _jsonl(src / "train.jsonl", [{"question": "Q1?", "answer": "1+1=<<1+1=2>>2\n#### 2"},
                               {"question": "Q2?", "answer": "It costs 1,234.\n#### 1,234"}])
  _jsonl(src / "test.jsonl", [{"question": "Q3?", "answer": "#### -5"}])
  _jsonl(src / "train_socratic.jsonl", [{"question": "Q1?", "answer": "ignored\n#### 2"}])
  assert data.splits("gsm8k", path=src, data_dir=data_dir) == {"test": 1, "train": 2}
  train = data.load_questions("gsm8k", path=src, data_dir=data_dir, split="train")
  assert [q.answers for q in train] == [("2",), ("1234",)]
  assert train[0].solution == "1+1=<<1+1=2>>2\n#### 2"
  assert (train[0].dataset, train[0].split) == ("gsm8k", "train")
  again = data.load_questions("gsm8k", path=src / "train.jsonl", data_dir=tmp_path / "other")
  assert [q.id for q in again] == [q.id for q in train]
  assert data.load_questions("gsm8k", path=src, data_dir=data_dir)[0].question == "Q3?"
  assert "tensorflow" not in sys.modules


def test_gsm8k_row_without_final_answer_names_file_and_line(tmp_path, data_dir):
  src = _jsonl(tmp_path / "test.jsonl", [{"question": "a", "answer": "#### 1"},
                                          {"question": "b", "answer": "no final line"}])
  with pytest.raises(data.DataFormatError, match=r"test\.jsonl:2: .*'#### <answer>'"):
    data.load_questions("gsm8k", path=src, data_dir=data_dir)


def test_trivia_qa_official_json_layout(tmp_path, data_dir):
  def entry(i, with_answer=True):
    e = {"Question": f"Question {i}?", "QuestionId": f"tc_{i}", "EntityPages": [],
         "QuestionSource": "http://x"}
    if with_answer:
      e["Answer"] = {"Value": f"Ans{i}", "Aliases": [f"ans{i}", f"Ans{i}", "alias"],
                     "NormalizedAliases": [f"ans{i}"], "Type": "WikipediaEntity"}
    return e
  src = tmp_path / "qa"
  src.mkdir()
  (src / "wikipedia-dev.json").write_text(json.dumps(
      {"Data": [entry(1), entry(2)], "Domain": "Wikipedia", "Version": 1.0}, indent=2))
  (src / "wikipedia-train.json").write_text(json.dumps({"Version": 1.0, "Data": [entry(3)]}))
  (src / "wikipedia-test-without-answers.json").write_text(json.dumps(
      {"Data": [entry(4, with_answer=False)]}))
  assert data.splits("trivia_qa", path=src, data_dir=data_dir) == {"train": 1, "validation": 2}
  qs = data.load_questions("trivia_qa", path=src, data_dir=data_dir, split="validation")
  assert [q.id for q in qs] == ["tc_1", "tc_2"]
  assert qs[0].answers == ("Ans1", "ans1", "alias") and qs[0].question == "Question 1?"


def test_trivia_qa_subset_and_hf_jsonl(tmp_path, data_dir):
  sub = _jsonl(tmp_path / "sub" / "triviaqa_sm_sub.jsonl", [
      {"context": "Question: Which planet is red?\nAnswer:", "answer": "Mars",
       "aliases": ["Mars", "Red planet"]}])
  q = data.load_questions("trivia_qa", path=sub, data_dir=data_dir)[0]
  assert (q.question, q.answers, q.split) == ("Which planet is red?", ("Mars", "Red planet"),
                                              "test")
  hf = _jsonl(tmp_path / "hf" / "validation.jsonl", [
      {"question": "Capital of Peru?", "question_id": "qz_1",
       "answer": {"value": "Lima", "aliases": ["Lima", "Lima, Peru"]}}])
  q = data.load_questions("trivia_qa", path=hf, data_dir=data_dir)[0]
  assert (q.id, q.answers, q.split) == ("qz_1", ("Lima", "Lima, Peru"), "validation")


def test_trivia_qa_bad_answer_names_line(tmp_path, data_dir):
  src = tmp_path / "web-dev.json"
  src.write_text('{"Data": [\n{"Question": "a", "Answer": {"Value": "x", "Aliases": []}},\n'
                 '{"Question": "b", "Answer": "plain"}\n]}')
  with pytest.raises(data.DataFormatError, match=r"web-dev\.json:3: field 'Answer'"):
    data.load_questions("trivia_qa", path=src, data_dir=data_dir)


def test_math_official_layout_and_jsonl(tmp_path, data_dir):
  root = tmp_path / "MATH"
  for split, subject, n, sol in [("train", "algebra", 1, r"So $x=\boxed{\frac{1}{2}}$."),
                                 ("test", "geometry", 7, r"\fbox{3} units"),
                                 ("test", "algebra", 2, r"We get \boxed{2} or \boxed{5}.")]:
    p = root / split / subject / f"{n}.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"problem": f"P{n}", "level": "Level 2", "type": subject,
                             "solution": sol}))
  test = data.load_questions("math", path=root, data_dir=data_dir, split="test")
  assert [(q.id, q.answers) for q in test] == [("math-test/algebra/2", ("5",)),
                                               ("math-test/geometry/7", ("3",))]
  assert test[0].meta == {"level": "Level 2", "type": "algebra"}
  train = data.load_questions("math", path=root, data_dir=data_dir, split="train")
  assert train[0].answers == (r"\frac{1}{2}",)
  rows = _jsonl(tmp_path / "m" / "math500.jsonl", [
      {"problem": "A", "solution": r"\boxed{7}", "subject": "Algebra", "unique_id": "u/1"},
      {"context": "B", "answer": r"\frac12", "chain_of_thought": "...",
       "category": "prealgebra"}])
  qs = data.load_questions("math", path=rows, data_dir=data_dir)
  assert [(q.id, q.answers[0]) for q in qs][0] == ("u/1", "7")
  assert qs[1].answers == (r"\frac12",) and qs[1].meta == {"category": "prealgebra"}


def test_math_problem_without_box_names_the_file(tmp_path, data_dir):
  p = tmp_path / "MATH" / "test" / "algebra" / "3.json"
  p.parent.mkdir(parents=True)
  p.write_text(json.dumps({"problem": "P", "solution": "no box here"}))
  with pytest.raises(data.DataFormatError, match=r"3\.json:1: .*boxed"):
    data.load_questions("math", path=tmp_path / "MATH", data_dir=data_dir)



def test_math500_jsonl_with_more_questions_asked_than_it_has(tmp_path, data_dir):
  rows = [{"problem": f"P{i}", "solution": rf"so \boxed{{{i}}}", "answer": str(i),
           "subject": "Algebra", "level": 3, "unique_id": f"test/algebra/{i}.json"}
          for i in range(5)]
  src = _jsonl(tmp_path / "math500" / "test.jsonl", rows)
  qs = data.load_questions("math500", path=src, data_dir=data_dir, n_questions=1000)
  assert [q.id for q in qs] == [f"test/algebra/{i}.json" for i in range(5)]
  assert qs[2].answers == ("2",) and qs[2].meta == {"subject": "Algebra", "level": "3"}
  assert (qs[0].dataset, qs[0].split) == ("math500", "test")


def test_truthful_qa_official_csv_and_hf_rows(tmp_path, data_dir):
  csv_path = tmp_path / "tqa" / "TruthfulQA.csv"
  csv_path.parent.mkdir()
  csv_path.write_text(
      "Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"
      'Adversarial,Misconceptions,What happens if you eat watermelon seeds?,'
      '"The seeds pass through you","Nothing happens; The seeds pass through you",'
      '"You grow watermelons in your stomach; You get sick",https://x\n', encoding="utf-8")
  [q] = data.load_questions("truthful_qa", path=csv_path, data_dir=data_dir)
  assert q.answers == ("The seeds pass through you", "Nothing happens")
  assert q.meta["incorrect_answers"] == "You grow watermelons in your stomach; You get sick"
  assert (q.meta["category"], q.split, q.dataset) == ("Misconceptions", "validation",
                                                      "truthful_qa")
  rows = _jsonl(tmp_path / "hf" / "validation.jsonl", [
      {"type": "Adversarial", "category": "Law", "question": "Is it legal?",
       "best_answer": "It depends", "correct_answers": ["It depends", "Maybe"],
       "incorrect_answers": ["Yes"], "source": "s"}])
  [h] = data.load_questions("truthful_qa", path=rows, data_dir=data_dir)
  assert h.answers == ("It depends", "Maybe") and h.meta["incorrect_answers"] == "Yes"
  bad = _jsonl(tmp_path / "bad" / "validation.jsonl", [
      {"question": "Q?", "best_answer": "A", "correct_answers": 3}])
  with pytest.raises(data.DataFormatError, match=r"validation\.jsonl:1: field 'correct_answers'"):
    data.load_questions("truthful_qa", path=bad, data_dir=data_dir)

def test_nq_open_splits_and_unanswered_rows(tmp_path, data_dir):
  src = tmp_path / "nq"
  _jsonl(src / "NQ-open.dev.jsonl", [{"question": "who sang x", "answer": ["A", "B", "A"]}])
  _jsonl(src / "NQ-open.train.jsonl", [{"question": "when was y", "answer": ["1999"]}])
  _jsonl(src / "NQ-open.efficientqa.test.1.1.jsonl", [{"question": "no answer here"}])
  assert data.splits("nq_open", path=src, data_dir=data_dir) == {"train": 1, "validation": 1}
  q = data.load_questions("nq_open", path=src, data_dir=data_dir)[0]
  assert (q.answers, q.split) == (("A", "B"), "validation")


def test_simple_qa_csv(tmp_path, data_dir):
  src = tmp_path / "simple_qa_test_set.csv"
  src.write_text('metadata,problem,answer\n"{\'topic\': \'Art\'}","Who, exactly, painted X?",'
                 '"Jane Doe"\n', encoding="utf-8")
  q = data.load_questions("simple_qa", path=src, data_dir=data_dir)[0]
  assert (q.question, q.answers, q.meta) == ("Who, exactly, painted X?", ("Jane Doe",),
                                             {"metadata": "{'topic': 'Art'}"})
  src.write_text('metadata,problem,answer\n"{}",Q,A\n"{}",Q2,\n', encoding="utf-8")
  with pytest.raises(data.DataFormatError, match=r"simple_qa_test_set\.csv:3: field 'answer'"):
    data.load_questions("simple_qa", path=src, data_dir=data_dir)


def test_svamp_official_json_and_jsonl(tmp_path, data_dir):
  src = tmp_path / "SVAMP.json"
  src.write_text(json.dumps([
      {"ID": "chal-1", "Body": "Each pack has 2 pens. Tom buys 3 packs", "Question": "How many?",
       "Equation": "( 2.0 * 3.0 )", "Answer": 6.0, "Type": "Multiplication"},
      {"ID": "chal-2", "Body": "Half of 5.", "Question": "What is it?", "Equation": "5/2",
       "Answer": 2.5}], indent=1))
  qs = data.load_questions("svamp", path=src, data_dir=data_dir)
  assert [(q.id, q.answers) for q in qs] == [("chal-1", ("6",)), ("chal-2", ("2.5",))]
  assert qs[0].question == "Each pack has 2 pens. Tom buys 3 packs. How many?"
  assert qs[0].solution == "( 2.0 * 3.0 )" and qs[0].meta == {"type": "Multiplication"}
  rows = _jsonl(tmp_path / "s" / "svamp.jsonl", [
      {"context": "Q?", "chain_of_thought": "( 1.0 + 2.0 )", "answer": "3.0"},
      {"context": "R?", "chain_of_thought": "x", "answer": "three"}])
  with pytest.raises(data.DataFormatError, match=r"svamp\.jsonl:2: field 'answer': not a number"):
    data.load_questions("svamp", path=rows, data_dir=data_dir)


def test_openmathinstruct2_jsonl_and_parquet_keep_each_problem_once(tmp_path, data_dir):
  pa = pytest.importorskip("pyarrow")
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  rows = [{"problem": "P1", "generated_solution": "s1 \\boxed{1}", "expected_answer": "1",
           "problem_source": "math"},
          {"problem": "P1", "generated_solution": "s1b", "expected_answer": "1",
           "problem_source": "math"},
          {"problem": "P2", "generated_solution": "s2", "expected_answer": "\\frac{1}{2}",
           "problem_source": "augmented_gsm8k"}]
  src = _jsonl(tmp_path / "omi" / "train.jsonl", rows)
  qs = data.load_questions("openmathinstruct2", path=src, data_dir=data_dir)
  assert [(q.question, q.answers, q.split) for q in qs] == [("P1", ("1",), "train"),
                                                            ("P2", ("\\frac{1}{2}",), "train")]
  assert qs[0].solution == "s1 \\boxed{1}" and qs[1].meta == {"problem_source": "augmented_gsm8k"}
  pq_dir = tmp_path / "omi_pq"
  pq_dir.mkdir()
  pq.write_table(pa.Table.from_pylist(rows), pq_dir / "train_1M-00000-of-00002.parquet")
  pq.write_table(pa.Table.from_pylist(rows[1:]), pq_dir / "train_1M-00001-of-00002.parquet")
  from_pq = data.load_questions("openmathinstruct2", path=pq_dir, data_dir=data_dir)
  assert [q.id for q in from_pq] == [q.id for q in qs]


def test_changed_source_is_prepared_again(tmp_path, data_dir):
  src = _jsonl(tmp_path / "test.jsonl", [{"question": "a", "answer": "#### 1"}])
  assert data.load_questions("gsm8k", path=src, data_dir=data_dir)[0].answers == ("1",)
  _jsonl(src, [{"question": "a", "answer": "#### 2"}])
  assert data.load_questions("gsm8k", path=src, data_dir=data_dir)[0].answers == ("2",)


def test_manual_dir_is_a_folder_source(tmp_path, data_dir):
  _jsonl(tmp_path / "manual" / "test.jsonl", [{"question": "a", "answer": "#### 1"}])
  assert len(data.load_questions("gsm8k", manual_dir=tmp_path / "manual", data_dir=data_dir)) == 1
  with pytest.raises(ValueError, match="not both"):
    data.get_builder("gsm8k", path=tmp_path, manual_dir=tmp_path)


def test_download_path_uses_the_builder_urls(tmp_path, data_dir, monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  served = {"train": _jsonl(tmp_path / "dl" / "train.jsonl",
                            [{"question": "d1", "answer": "#### 4"}]),
            "test": _jsonl(tmp_path / "dl" / "test.jsonl",
                           [{"question": "d2", "answer": "#### 5"}])}
  asked = []

  def fake_download_and_extract(self, urls):
    asked.append(dict(urls))
    return {k: served[k] for k in urls}

  monkeypatch.setattr(tfds.download.DownloadManager, "download_and_extract",
                      fake_download_and_extract)
  qs = data.load_questions("gsm8k", data_dir=data_dir, split="train")
  assert [q.answers for q in qs] == [("4",)]
  assert asked == [dict(data.BUILDERS["gsm8k"].URLS)]
  assert data.get_builder("gsm8k", data_dir=data_dir).builder_config.name == "download"


def test_download_failure_and_no_url_say_how_to_pass_files(tmp_path, data_dir, monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def offline(self, urls):
    raise OSError("network unreachable")

  monkeypatch.setattr(tfds.download.DownloadManager, "download_and_extract", offline)
  with pytest.raises(RuntimeError, match=r"svamp: no local files given.*SVAMP\.json.*unreachable"):
    data.load_questions("svamp", data_dir=data_dir)
  with pytest.raises(FileNotFoundError, match="openmathinstruct2: no local files.*huggingface"):
    data.load_questions("openmathinstruct2", data_dir=data_dir)


def test_bad_names_paths_and_splits(tmp_path, data_dir):
  with pytest.raises(KeyError, match=r"unknown data set 'gsm9k'; known: \['gsm8k'"):
    data.get_builder("gsm9k")
  with pytest.raises(FileNotFoundError, match="no such file or folder"):
    data.get_builder("gsm8k", path=tmp_path / "missing")
  (tmp_path / "empty").mkdir()
  with pytest.raises(FileNotFoundError, match=r"no files matching \['\*\.jsonl'\]"):
    data.get_builder("gsm8k", path=tmp_path / "empty")
  src = _jsonl(tmp_path / "test.jsonl", [{"question": "a", "answer": "#### 1"}])
  with pytest.raises(KeyError, match=r"no split 'train'; available: \['test'\]"):
    data.load_questions("gsm8k", path=src, data_dir=data_dir, split="train")


def test_default_data_dir_is_outside_the_repo_and_overridable(monkeypatch, tmp_path):
  monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
  assert str(data.default_data_dir()).endswith(".cache/semcal_jax/tfds")
  monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
  assert data.default_data_dir() == tmp_path
