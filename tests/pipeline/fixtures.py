"""A tiny HF model folder (random weights, SmolLM2's tokenizer) and a tiny data file,
so that pipeline tests run the real code path in seconds."""

import json
import pathlib

import pytest

from semcal_jax.models import registry

from tests.conftest import require

TRIVIA = [("What is the capital of France?", "Paris", ["Paris"]),
          ("Who wrote Hamlet?", "William Shakespeare", ["Shakespeare", "William Shakespeare"]),
          ("What is the largest planet?", "Jupiter", ["Jupiter"]),
          ("Which metal is liquid at room temperature?", "Mercury", ["Mercury", "Hg"]),
          ("What colour is the sky on a clear day?", "Blue", ["Blue"]),
          ("How many legs does a spider have?", "Eight", ["Eight", "8"])]


def write_trivia(path: pathlib.Path, n: int) -> pathlib.Path:
  """`n` questions in the TriviaQA subset format of ../shared/data."""
  lines = []
  for i in range(n):
    q, a, aliases = TRIVIA[i % len(TRIVIA)]
    lines.append(json.dumps({"context": f"Question: {q} (variant {i})\nAnswer:", "answer": a,
                             "aliases": aliases}))
  path.write_text("\n".join(lines) + "\n")
  return path


def tiny_model_folder(folder: pathlib.Path, *, head_scale: float = 1.0,
                      **config) -> pathlib.Path:
  """A 2-layer random Llama with SmolLM2's tokenizer, saved as an HF folder; `config`
  overrides `LlamaConfig` fields, `head_scale` multiplies an untied LM head."""
  try:
    gguf = registry.resolve("smollm2-135m-instruct")
  except registry.ModelNotFoundError as e:
    require(False, str(e))
  import torch
  import transformers as T
  tok = T.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
  torch.manual_seed(0)
  cfg = T.LlamaConfig(**{**dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                num_hidden_layers=2, num_attention_heads=4,
                                num_key_value_heads=2, max_position_embeddings=1024,
                                tie_word_embeddings=True), **config})
  model = T.LlamaForCausalLM(cfg)
  with torch.no_grad():
    model.model.embed_tokens.weight.mul_(60.0)  # peaked enough for varied, short answers
    if not cfg.tie_word_embeddings:
      model.lm_head.weight.mul_(head_scale)
  model.save_pretrained(folder, safe_serialization=True)
  tok.save_pretrained(folder)
  return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
  return tiny_model_folder(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture
def data_env(tmp_path, monkeypatch):
  """A private prepared-data dir, and a 24-question trivia file."""
  monkeypatch.setenv("SEMCAL_DATA_DIR", str(tmp_path / "tfds"))
  return write_trivia(tmp_path / "trivia.jsonl", 24)


def assert_same_run(ref_dir: pathlib.Path, got_dir: pathlib.Path, n: int) -> None:
  """`got_dir` holds exactly the `n` questions' samples, the report (timings aside) and
  the per-question table of `ref_dir`."""
  from semcal_jax.pipeline import report as report_lib  # pylint: disable=g-import-not-at-top
  from semcal_jax.pipeline.store import Store  # pylint: disable=g-import-not-at-top
  ref, _ = Store(ref_dir).read()
  got, _ = Store(got_dir).read()
  assert ref.keys() == got.keys() and len(ref) == n
  for qid in ref:
    for key in ("texts", "token_ids", "logprobs", "finish_reasons"):
      assert ref[qid][key] == got[qid][key], (qid, key)
  a = json.loads((ref_dir / "report.json").read_text())
  b = json.loads((got_dir / "report.json").read_text())
  for key in report_lib.TIMING_KEYS + ("fingerprint",):  # the config's digest may differ
    a.pop(key), b.pop(key)                                # (mesh_model) with equal samples
  assert a == b
  assert (got_dir / "per_question.csv").read_text() == (ref_dir / "per_question.csv").read_text()
