"""`Tokenizer` on the two real GGUF models, against `transformers` (a test dependency).

Fast tests compare with ids recorded from transformers 5.24
(`AutoTokenizer.from_pretrained(dir, gguf_file=name)`) and with SmolLM2's
transformers tokenizer (4 s to load); the `slow` ones load Gemma's in
transformers (16 s) and compare every question of ../shared/data.
"""

import json

import numpy as np
import pytest

from semcal_jax.models import chat_template, gguf_tokenizer, registry
from semcal_jax.models.tokenizer import Tokenizer

try:  # the conftest module's name depends on how pytest was started
  from tests.conftest import require
except ImportError:
  from conftest import require

SMOL, GEMMA = "smollm2-135m-instruct", "gemma-3-270m"
TEXTS = [
    "Question: Who wrote Hamlet?\nAnswer:",
    ("Natalia sold clips to 48 of her friends in April, and then  she sold half as many clips "
     "in May."),
    "  leading spaces, tabs\tand\n\nnewlines  ",
    "Unicode: café, naïve, 北京, 😀, ∑_{i=1}^n x_i",
    "<|im_start|>user\nspecial tokens inline<|im_end|> <end_of_turn> <bos>",
]
# transformers 5.24, AutoTokenizer(..., gguf_file=...)(TEXTS).input_ids
GOLDEN = {
    SMOL: [[17872, 42, 6244, 4150, 24630, 47, 198, 21350, 42],
           [62, 6927, 542, 3459, 23026, 288, 216, 36, 40, 282, 874, 2428, 281, 4124, 28, 284, 965,
            216, 1041, 3459, 2745, 347, 800, 23026, 281, 2405, 30],
           [216, 2899, 5600, 28, 29416, 197, 397, 198, 198, 2241, 5110, 256],
           [3706, 15817, 42, 37366, 28, 15486, 46494, 28, 13223, 230, 241, 16736, 122, 28, 40303,
            218, 28, 19995, 235, 11300, 89, 45, 33, 109, 78, 94, 1792, 79, 89],
           [1, 4093, 198, 19159, 17837, 32127, 2, 2067, 486, 79, 1714, 79, 20589, 46, 2067, 34761,
            46]],
    GEMMA: [[2, 14977, 236787, 11063, 7971, 124600, 236881, 107, 7925, 236787],
            [2, 91516, 722, 5463, 35381, 531, 236743, 236812, 236828, 529, 1116, 4690, 528, 5365,
             236764, 532, 1299, 138, 12053, 5463, 3746, 618, 1551, 35381, 528, 3353, 236761],
            [2, 138, 26016, 9952, 236764, 42364, 255968, 624, 108, 208697, 138],
            [2, 123540, 236787, 33443, 236764, 120362, 236764, 169418, 236764, 163543, 236764,
             76689, 681, 236747, 236784, 236770, 9914, 236749, 1123, 236779, 236747],
            [2, 236820, 236909, 548, 236779, 3041, 111038, 2364, 107, 18146, 21739, 28265, 236820,
             236909, 548, 236779, 643, 111038, 236743, 106, 236743, 2]],
}
# name -> (bos, eos, pad, stop ids, adds BOS, vocab size)
SPECIALS = {SMOL: (1, 2, 2, (2, 0), False, 49152), GEMMA: (2, 1, 0, (1, 106), True, 262144)}
DATA_FIELDS = {"gsm8k/test.jsonl": "question", "gsm8k/train.jsonl": "question",
               "triviaqa/triviaqa_sm_sub.jsonl": "context", "math/math.jsonl": "context",
               "svamp/svamp.jsonl": "context"}
CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "Answer tersely."},
     {"role": "user", "content": "Capital of France?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Name a prime number, please. 😀"}],
    [{"role": "user", "content": "  spaces\n\nand newlines  "},
     {"role": "assistant", "content": "ok"}],
]


def _path(name):
  try:
    return registry.resolve(name)
  except registry.ModelNotFoundError as e:
    require(False, str(e))


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
  return tmp_path_factory.mktemp("tokenizer_cache")


def _ours(name, cache_root):
  path = _path(name)  # resolved first: Gemma is assembled in the real cache folder
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("SEMCAL_CACHE", str(cache_root))
    return Tokenizer.from_gguf(path)


def _transformers(name):
  transformers = pytest.importorskip("transformers")
  path = _path(name)
  return transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


@pytest.fixture(scope="module")
def smol(cache_root):
  return _ours(SMOL, cache_root)


@pytest.fixture(scope="module")
def gemma(cache_root):
  return _ours(GEMMA, cache_root)


@pytest.fixture(scope="module")
def hf_smol():
  return _transformers(SMOL)


@pytest.fixture(scope="module")
def hf_gemma():
  return _transformers(GEMMA)


@pytest.fixture
def both(smol, gemma):
  return {SMOL: smol, GEMMA: gemma}


def _questions(shared_data):
  texts = []
  for rel, field in DATA_FIELDS.items():
    path = shared_data / rel
    require(path.is_file(), f"{path} is missing")
    with open(path, encoding="utf-8") as fh:
      rows = [json.loads(line) for line in fh if line.strip()]
    assert rows and all(isinstance(r.get(field), str) for r in rows), f"{path}: field {field}"
    texts += [r[field] for r in rows]
  return texts


# ------------------------------------------------------------------ fast


@pytest.mark.parametrize("name", [SMOL, GEMMA])
def test_smoke_ids_match_transformers(both, name):
  tok = both[name]
  assert [tok.encode(t) for t in TEXTS] == GOLDEN[name]
  assert tok.encode_batch(TEXTS) == GOLDEN[name]
  for text in TEXTS:
    assert tok.decode(tok.encode(text, add_bos=False)) == text
  for text in TEXTS[:4]:  # no special tokens in the text
    assert tok.decode(tok.encode(text), skip_special_tokens=True) == text


@pytest.mark.parametrize("name", [SMOL, GEMMA])
def test_special_ids_and_vocab(both, name):
  tok = both[name]
  bos, eos, pad, stops, adds_bos, size = SPECIALS[name]
  assert (tok.bos_id, tok.eos_id, tok.pad_id, tok.stop_ids) == (bos, eos, pad, stops)
  assert tok.add_bos_by_default is adds_bos and tok.vocab_size == size
  assert tok.token_to_id(tok.id_to_token(eos)) == eos and tok.eos_token == tok.id_to_token(eos)
  assert tok.id_to_token(size) is None and tok.token_to_id("no such token ⊥⊥") is None


@pytest.mark.parametrize("name", [SMOL, GEMMA])
def test_add_bos_override(both, name):
  tok = both[name]
  plain = tok.encode("Hello world", add_bos=False)
  assert plain and plain[0] != tok.bos_id
  assert tok.encode("Hello world", add_bos=True) == [tok.bos_id, *plain]
  assert tok.encode("Hello world") == ([tok.bos_id] if tok.add_bos_by_default else []) + plain
  assert tok.encode_batch(["a b", "Hello world"], add_bos=False)[1] == plain
  assert tok.encode_batch(["Hello world"], add_bos=True) == [[tok.bos_id, *plain]]


def test_decode_accepts_arrays_and_checks_ids(smol):
  ids = smol.encode("Hello world")
  assert smol.decode(np.asarray(ids, np.int32)) == "Hello world"
  assert smol.decode_batch(np.asarray([ids, ids])) == ["Hello world"] * 2
  assert smol.decode([2, 19556], skip_special_tokens=True) == "Hello"
  with pytest.raises(ValueError, match=r"token ids \[49152\] are outside the vocabulary"):
    smol.decode([19556, 49152])
  with pytest.raises(TypeError, match="expects a str"):
    smol.encode(["not", "a", "str"])
  with pytest.raises(TypeError, match="one str"):
    smol.encode_batch("abc")


@pytest.mark.parametrize("add_generation_prompt", [True, False])
@pytest.mark.parametrize("conversation", range(len(CONVERSATIONS)))
def test_smollm_chat_template_matches_transformers(smol, hf_smol, conversation,
                                                   add_generation_prompt):
  messages = CONVERSATIONS[conversation]
  want = hf_smol.apply_chat_template(messages, tokenize=False,
                                     add_generation_prompt=add_generation_prompt)
  got = smol.apply_chat_template(messages, add_generation_prompt=add_generation_prompt)
  assert got == want
  assert smol.encode(got, add_bos=False) == hf_smol(got, add_special_tokens=False).input_ids


FEATURE_TEMPLATE = """{{ bos_token }}{% set ns = namespace(n=0) %}
{% for m in messages %}
  {% if m.role == 'system' %}{% continue %}{% endif %}
  {% set ns.n = ns.n + 1 %}
  {% if ns.n > 2 %}{% break %}{% endif %}
  [{{ m.role | upper }}] {{ m.content | tojson }}{% generation %}{{ eos_token }}{% endgeneration %}
{% endfor %}
{{ {'k': 'ü', 'n': [1, 2]} | tojson(indent=2) }} {{ pad_token }} {{ unk_token }}
{% if add_generation_prompt %}<go>{% endif %}"""


@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_template_environment_matches_transformers(smol, hf_smol, add_generation_prompt):
  for messages in CONVERSATIONS:
    want = hf_smol.apply_chat_template(messages, chat_template=FEATURE_TEMPLATE, tokenize=False,
                                       add_generation_prompt=add_generation_prompt)
    got = chat_template.render(FEATURE_TEMPLATE, messages, special_tokens=smol.special_tokens,
                               add_generation_prompt=add_generation_prompt)
    assert got == want


def test_template_errors(smol):
  bad_role = ("{% for m in messages %}{% if m.role == 'tool' %}"
              "{{ raise_exception('no tools: ' + m.role) }}{% endif %}{% endfor %}")
  with pytest.raises(chat_template.ChatTemplateError, match="no tools: tool"):
    chat_template.render(bad_role, [{"role": "tool", "content": "x"}])
  with pytest.raises(chat_template.ChatTemplateError, match="does not compile"):
    chat_template.render("{% for %}", [])
  with pytest.raises(chat_template.ChatTemplateError, match="underscore"):
    chat_template.render("{% set ns = namespace() %}{% set ns._x = 1 %}", [])
  with pytest.raises(chat_template.ChatTemplateError, match="unsafe|access"):
    chat_template.render("{{ messages.__class__.__mro__ }}", [])
  with pytest.raises(TypeError, match=r"messages\[0\]"):
    smol.apply_chat_template(["hi"])
  assert chat_template.render("{{ strftime_now('%Y') }}", []).isdigit()


def test_gemma_gguf_has_no_template(gemma):
  assert gemma.chat_template is None
  with pytest.raises(ValueError, match=r"gemma-3-270m.*has no chat template"):
    gemma.apply_chat_template([{"role": "user", "content": "hi"}])


def test_hf_folder_from_save_pretrained(smol, hf_smol, tmp_path):
  hf_smol.save_pretrained(tmp_path)
  tok = Tokenizer.from_hf_folder(tmp_path)
  assert tok.encode_batch(TEXTS) == hf_smol(TEXTS).input_ids == GOLDEN[SMOL]
  assert (tok.bos_id, tok.eos_id, tok.pad_id, tok.stop_ids) == (1, 2, 2, (2, 0))
  assert tok.chat_template == hf_smol.chat_template
  for messages in CONVERSATIONS:
    assert tok.apply_chat_template(messages) == hf_smol.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True)


def test_hf_folder_configs(hf_smol, tmp_path):
  hf_smol.save_pretrained(tmp_path)
  template = (tmp_path / "chat_template.jinja").read_text()
  (tmp_path / "chat_template.jinja").unlink()
  config = json.loads((tmp_path / "tokenizer_config.json").read_text())
  config["chat_template"] = [{"name": "tool_use", "template": "x"},
                             {"name": "default", "template": template}]
  config.pop("added_tokens_decoder", None)  # so special_tokens_map.json is read
  (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
  (tmp_path / "special_tokens_map.json").write_text(json.dumps(
      {"pad_token": {"content": "<|endoftext|>", "lstrip": False}}))
  (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [2, 4]}))
  tok = Tokenizer.from_hf_folder(tmp_path)
  assert tok.chat_template == template
  assert tok.pad_id == 0 and tok.stop_ids == (2, 0, 4)
  (tmp_path / "generation_config.json").write_text("{not json")
  with pytest.raises(ValueError, match=r"generation_config\.json is not valid JSON"):
    Tokenizer.from_hf_folder(tmp_path)


def test_hf_folder_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="missing_dir"):
    Tokenizer.from_hf_folder(tmp_path / "missing_dir")
  with pytest.raises(FileNotFoundError, match=r"tokenizer\.json not found"):
    Tokenizer.from_hf_folder(tmp_path)
  (tmp_path / "tokenizer.json").write_text("{}")
  with pytest.raises(ValueError, match=r"tokenizer\.json is not a valid tokenizer\.json"):
    Tokenizer.from_hf_folder(tmp_path)


def test_from_spec_and_errors(tmp_path, monkeypatch):
  _path(SMOL)
  monkeypatch.setenv("SEMCAL_CACHE", str(tmp_path / "cache"))
  assert Tokenizer.from_spec(SMOL).eos_id == 2
  with pytest.raises(FileNotFoundError, match="nothing.gguf"):
    Tokenizer.from_gguf(tmp_path / "nothing.gguf")
  (tmp_path / "text.gguf").write_text("plain text, not a model " * 4)
  with pytest.raises(ValueError, match=r"text\.gguf is not a GGUF file"):
    Tokenizer.from_gguf(tmp_path / "text.gguf")


# ------------------------------------------------------------------ slow: everything


@pytest.mark.slow
@pytest.mark.parametrize("name", [SMOL, GEMMA])
def test_every_question_matches_transformers(request, shared_data, name):
  tok = request.getfixturevalue("smol" if name == SMOL else "gemma")
  hf = request.getfixturevalue("hf_smol" if name == SMOL else "hf_gemma")
  texts = _questions(shared_data)
  want = hf(texts).input_ids
  got = tok.encode_batch(texts)
  mismatches = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
  assert not mismatches, (f"{len(mismatches)} of {len(texts)} differ, first: "
                          f"{texts[mismatches[0]]!r}")
  assert all(tok.decode(ids, skip_special_tokens=True) == t for ids, t in zip(got, texts))
  assert tok.decode_batch(got) == hf.batch_decode(got)
  print(f"{name}: {len(texts)} questions, 0 mismatches")


@pytest.mark.slow
@pytest.mark.parametrize("name", [SMOL, GEMMA])
def test_backend_equals_transformers(request, name):
  tok = request.getfixturevalue("smol" if name == SMOL else "gemma")
  hf = request.getfixturevalue("hf_smol" if name == SMOL else "hf_gemma")
  ours, theirs = json.loads(tok.backend.to_str()), json.loads(hf.backend_tokenizer.to_str())
  key = lambda t: t["id"]  # noqa: E731
  assert sorted(ours.pop("added_tokens"), key=key) == sorted(theirs.pop("added_tokens"), key=key)
  assert ours == theirs
  assert tok.chat_template == hf.chat_template
  assert (tok.bos_token, tok.eos_token) == (hf.bos_token, hf.eos_token)
  assert tok.pad_id == hf.pad_token_id and tok.vocab_size == len(hf)


@pytest.mark.slow
def test_gemma_hf_folder_every_question(hf_gemma, shared_data, tmp_path):
  hf_gemma.save_pretrained(tmp_path)
  tok = Tokenizer.from_hf_folder(tmp_path)
  texts = _questions(shared_data)
  assert tok.add_bos_by_default and tok.bos_id == 2 and tok.stop_ids == (1, 106)
  assert tok.encode_batch(texts) == hf_gemma(texts).input_ids


@pytest.mark.slow
def test_gemma_cache_is_reused(cache_root, gemma):
  path = _path(GEMMA)
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("SEMCAL_CACHE", str(cache_root))
    cached = gguf_tokenizer.cache_path(path)
    assert cached.is_file() and cached.parent.parent == cache_root
    mp.setattr(gguf_tokenizer, "build", lambda *a, **k: pytest.fail("cache not used"))
    again = Tokenizer.from_gguf(path)
  assert again.encode_batch(TEXTS) == GOLDEN[GEMMA]
