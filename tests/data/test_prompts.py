"""One prompt per style x data set; the exemplars never include the question asked."""

from __future__ import annotations

import dataclasses

import pytest

from semcal_jax import data
from semcal_jax.data import loader, prompts
from semcal_jax.data.prompts import exemplars

SHARED_FOLDERS = {"gsm8k": "gsm8k", "trivia_qa": "triviaqa", "math": "math", "svamp": "svamp"}


def _cfg(**overrides):
  cfg = prompts.default_config()
  for key, value in overrides.items():
    node = cfg
    *path, last = key.split(".")
    for p in path:
      node = node[p]
    node[last] = value
  return cfg


def _check_prompt(p: prompts.Prompt, q: data.Question, prompter: prompts.Prompter, k: int):
  assert q.id not in p.exemplar_ids
  asked = data.normalize_question(q.question)
  pool = {e.id: e for e in prompter.pool}
  assert len(p.exemplar_ids) == k == len(set(p.exemplar_ids))
  for eid in p.exemplar_ids:
    assert data.normalize_question(pool[eid].question) != asked, (eid, q.question)
  assert p.text.count(q.question) == 1


@pytest.mark.parametrize("style", prompts.STYLES)
@pytest.mark.parametrize("dataset", sorted(prompts.FAMILIES))
def test_one_prompt_per_style_and_data_set_never_shows_the_question(dataset, style):
  """The question asked is itself a fixed exemplar: it must be skipped, and 5 others shown."""
  fam = prompts.FIXED[prompts.family(dataset)]
  prompter = prompts.Prompter(_cfg(style=style), dataset=dataset)
  for asked in (fam[0], fam[3]):
    q = data.Question(f"{dataset}-q", "  " + asked.question.upper() + " ", (asked.concise,),
                      dataset=dataset)
    p = prompter.render(q)
    _check_prompt(p, q, prompter, 5)
    assert asked.id not in p.exemplar_ids
    shown = [e for e in prompter.pool if e.id in p.exemplar_ids]
    assert all(e.answer(style) in p.text for e in shown)
    assert p.text.endswith("Question: " + q.question + "\nAnswer:")
    assert p.stop == tuple(prompts.default_config().styles[style].stop)
    assert p.max_new_tokens == prompts.default_config().styles[style].max_new_tokens
  same_id = dataclasses.replace(q, id=fam[1].id, question="A question no exemplar has.")
  assert fam[1].id not in prompter.render(same_id).exemplar_ids


@pytest.mark.parametrize("style", prompts.STYLES)
@pytest.mark.parametrize("dataset", sorted(SHARED_FOLDERS))
def test_real_questions_with_train_split_or_fixed_exemplars(shared_data, tmp_path_factory,
                                                            dataset, style):
  loader.disable_progress_bars()
  path = shared_data / SHARED_FOLDERS[dataset]
  data_dir = tmp_path_factory.getbasetemp() / "prompt_tfds"
  qs = data.load_questions(dataset, path=path, data_dir=data_dir, n_questions=3, seed=0)
  prompter = prompts.Prompter(_cfg(style=style), dataset=dataset)
  for q in qs:
    _check_prompt(prompter.render(q), q, prompter, 5)
  if dataset != "gsm8k":
    return
  train = data.load_questions(dataset, path=path, data_dir=data_dir, split="train")
  cfg = _cfg(style=style, **{"exemplars.source": "train", "exemplars.per_question": True})
  prompter = prompts.Prompter(cfg, dataset=dataset, pool=train[:50])
  for q in train[:10]:  # questions that are in the pool
    p = prompter.render(q)
    _check_prompt(p, q, prompter, 5)
    if style == "cot":
      assert "<<" not in p.text and "####" not in p.text and "The answer is" in p.text


def test_base_format_layout_and_k_shot():
  q = data.Question("q1", "How many legs does a spider have?", ("8",), dataset="trivia_qa")
  p = prompts.render(q, _cfg(style="sentence", k_shot=2))
  assert p.text == (
      "Answer each question in one complete sentence.\n\n"
      "Question: What is the capital of Australia?\n"
      "Answer: The capital of Australia is Canberra.\n\n"
      "Question: Who wrote the novel Pride and Prejudice?\n"
      "Answer: Pride and Prejudice was written by Jane Austen.\n\n"
      "Question: How many legs does a spider have?\nAnswer:")
  assert (p.stop, p.max_new_tokens, p.style, p.format) == (("\n",), 64, "sentence", "base")
  zero = prompts.render(q, _cfg(k_shot=0, **{"base.instruction": False}))
  assert zero.text == "Question: How many legs does a spider have?\nAnswer:"
  assert zero.exemplar_ids == ()


def test_chat_format_goes_through_the_template():
  seen = []

  def template(messages):
    seen.append(messages)
    return "|".join(f"{m['role']}:{m['content']}" for m in messages) + "|assistant:"

  q = data.Question("q1", "What is 2 + 2?", ("4",), dataset="gsm8k")
  p = prompts.render(q, _cfg(format="chat", style="cot", k_shot=1), apply_chat_template=template)
  roles = [m["role"] for m in seen[0]]
  assert roles == ["system", "user", "assistant", "user"]
  assert seen[0][1]["content"].startswith("Question: Tom has 3 boxes")
  assert seen[0][2]["content"].endswith("The answer is 26.")
  assert p.text.endswith("user:Question: What is 2 + 2?|assistant:") and p.stop == ()
  prompts.render(q, _cfg(format="chat", **{"chat.system": False}, k_shot=1),
                 apply_chat_template=template)
  assert [m["role"] for m in seen[1]] == ["user", "assistant", "user"]
  assert seen[1][0]["content"].startswith("Answer each question with a short answer")


def test_chat_format_with_a_real_chat_template():
  from semcal_jax.models import chat_template  # pylint: disable=g-import-not-at-top
  chatml = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
            "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
  q = data.Question("q1", "Simplify $\\sqrt{8}$.", ("2\\sqrt{2}",), dataset="math")
  p = prompts.render(q, _cfg(format="chat", k_shot=2), apply_chat_template=lambda m: (
      chat_template.render(chatml, m, add_generation_prompt=True)))
  assert p.text.startswith("<|im_start|>system\nAnswer each question")
  assert p.text.endswith("<|im_start|>user\nQuestion: Simplify $\\sqrt{8}$.<|im_end|>\n"
                         "<|im_start|>assistant\n")


def test_config_errors_name_the_field():
  q = data.Question("q1", "Q?", ("A",), dataset="trivia_qa")
  for overrides, field in [({"style": "poem"}, "prompts.style"),
                           ({"format": "xml"}, "prompts.format"),
                           ({"k_shot": -1}, "prompts.k_shot"),
                           ({"exemplars.source": "web"}, "prompts.exemplars.source"),
                           ({"styles.cot.max_new_tokens": 0}, "prompts.styles.cot.max_new_tokens"),
                           ({"styles.concise.stop": ("",)}, "prompts.styles.concise.stop")]:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
      prompts.render(q, _cfg(**overrides))
  with pytest.raises(ValueError, match="needs apply_chat_template"):
    prompts.render(q, _cfg(format="chat"))
  with pytest.raises(ValueError, match="needs pool="):
    prompts.render(q, _cfg(**{"exemplars.source": "train"}))
  with pytest.raises(ValueError, match="k_shot=9 needs more"):
    prompts.render(q, _cfg(k_shot=9))
  with pytest.raises(KeyError, match="no exemplar family for data set 'quiz'"):
    prompts.render(q, dataset="quiz")


def test_train_pool_without_solutions_cannot_give_cot_exemplars():
  pool = [data.Question(f"t{i}", f"Trivia {i}?", (f"A{i}",), dataset="trivia_qa")
          for i in range(6)]
  q = data.Question("q", "Other?", ("B",), dataset="trivia_qa")
  cfg = _cfg(**{"exemplars.source": "train"})
  p = prompts.Prompter(cfg, dataset="trivia_qa", pool=pool).render(q)
  assert len(p.exemplar_ids) == 5
  cfg.style = "sentence"
  assert "Answer: The answer is A" in prompts.Prompter(cfg, dataset="trivia_qa",
                                                       pool=pool).render(q).text
  cfg.style = "cot"
  with pytest.raises(ValueError, match="no 'cot' answer"):
    prompts.Prompter(cfg, dataset="trivia_qa", pool=pool).render(q)


def test_stop_and_budget_follow_the_format():
  cfg = _cfg(style="cot")
  assert prompts.stop_and_budget(cfg) == {"stop": ("\nQuestion:",), "max_new_tokens": 512}
  cfg.format = "chat"
  assert prompts.stop_and_budget(cfg) == {"stop": (), "max_new_tokens": 512}


def test_fixed_exemplars_answer_in_every_style_under_the_rules():
  """The fixed cot / sentence exemplars end in answers the collapsing rules read back."""
  from semcal_jax import semantic  # pylint: disable=g-import-not-at-top
  rule = {"trivia": "normalized", "arithmetic": "numeric", "math": "math"}
  for fam, exs in exemplars.FIXED.items():
    assert len(exs) >= 8 and len({e.id for e in exs}) == len(exs)
    fn = semantic.get(rule[fam])
    for e in exs:
      for style in prompts.STYLES:
        g = fn.group([e.answer(style)], [e.concise], style, question=e.question)
        assert g.matches[0], (fam, e.id, style, g.keys, g.reference_keys)
