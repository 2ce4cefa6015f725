"""Texts of the synthetic world: statements, questions and answers in three styles.

Every text is a sequence of space-separated words (punctuation separated too),
so a word-level tokenizer covers the world exactly. A training text states a
fact with an answer drawn from p*, in a random template and surface form, so
the corpus implies p*: the share of texts giving each value converges to
p*(value | x). Question-answer texts look like

    <bos> Q [concise] : Where was Dalu Kesiti born ? A : the city of Lanport <eos>
    <bos> Q [sentence] : ... A : Dalu Kesiti was born in Lanport . <eos>
    <bos> Q [cot] : In which country was Dalu Kesiti born ? A : Dalu Kesiti was born in
        Lanport . Lanport is in Gravia . So the answer is Gravia . <eos>

The style tag tells the model how to answer; `prompt()` ends after "A :".
"""

from __future__ import annotations

import numpy as np

from semcal_jax.data.synthetic.world import Fact, World

STYLES = ("concise", "sentence", "cot")
BOS, EOS, PAD, UNK = "<bos>", "<eos>", "<pad>", "<unk>"
QUESTIONS = {
    "city": "Where was {s} born ?",
    "job": "What is the job of {s} ?",
    "country": "In which country was {s} born ?",
}
SENTENCES = {
    "city": ("{s} was born in {f} .", "the birthplace of {s} is {f} ."),
    "job": ("{s} works as {f} .", "the job of {s} is {f} ."),
    "country": ("{s} was born in {f} .", "the home country of {s} is {f} ."),
}


def form(world: World, value: str, rng: np.random.Generator) -> str:
  forms = world.surface_forms[value]
  return str(forms[int(rng.integers(len(forms)))])


def statement(world: World, fact: Fact, value: str, rng: np.random.Generator) -> str:
  templates = SENTENCES[fact.relation]
  return templates[int(rng.integers(len(templates)))].format(s=fact.subject,
                                                               f=form(world, value, rng))


def prompt(fact: Fact, style: str) -> str:
  """`<bos> Q [style] : question A :` (the model continues with the answer)."""
  return f"{BOS} Q [{style}] : {QUESTIONS[fact.relation].format(s=fact.subject)} A :"


def answer(world: World, fact: Fact, value: str, style: str, rng: np.random.Generator) -> str:
  """An answer giving `value` in `style`, ending with `<eos>`."""
  if style == "concise":
    body = form(world, value, rng)
  elif style == "sentence":
    body = statement(world, fact, value, rng)
  elif fact.relation == "country":  # chain through the birth city
    city = _city_for_country(world, fact, value, rng)
    body = (f"{fact.subject} was born in {city} . {city} is in {value} . So the answer is "
            f"{form(world, value, rng)} .")
  else:
    body = f"{statement(world, fact, value, rng)} So the answer is {form(world, value, rng)} ."
  return f"{body} {EOS}"


def _city_for_country(world: World, fact: Fact, country: str, rng) -> str:
  """A birth city in `country`, drawn from p*(city | country) of this person."""
  city_fact = world.fact(fact.subject, "city")
  cities = [c for c in city_fact.values if world.country_of[c] == country]
  probs = np.asarray([city_fact.p(c) for c in cities])
  return str(cities[int(rng.choice(len(cities), p=probs / probs.sum()))])


def qa_text(world: World, fact: Fact, value: str, style: str, rng) -> str:
  return f"{prompt(fact, style)} {answer(world, fact, value, style, rng)}"


def corpus(world: World, seed: int, *, styles=STYLES, scale: float = 1.0,
           cot_two_hop: bool = True) -> list[str]:
  """Training texts: for every fact, `mentions` statements and `mentions` answers to
  its question (styles in turn), each value drawn from p*; city -> country facts
  stated often. `cot_two_hop=False` leaves out worked chains for two-hop questions
  (what CoT-SFT then teaches)."""
  rng = np.random.default_rng([seed, 101])
  texts = []
  for city in world.cities:
    for _ in range(max(1, int(20 * scale))):
      texts.append(f"{BOS} {city} is in {world.country_of[city]} . {EOS}")
  for fact in world.questions:
    n = max(1, int(round(fact.mentions * scale)))
    for k in range(n):
      value = str(fact.sample(rng))
      if fact.relation != "country":
        texts.append(f"{BOS} {statement(world, fact, value, rng)} {EOS}")
      style = styles[k % len(styles)]
      if style == "cot" and fact.relation == "country" and not cot_two_hop:
        style = "concise"
      texts.append(qa_text(world, fact, value, style, rng))
  order = rng.permutation(len(texts))
  return [texts[i] for i in order]


def cot_corpus(world: World, seed: int, facts, repeats: int = 4) -> list[str]:
  """Worked chains of thought (cot answers, values drawn from p*) for CoT-SFT."""
  rng = np.random.default_rng([seed, 202])
  return [qa_text(world, f, str(f.sample(rng)), "cot", rng) for f in facts
          for _ in range(repeats)]


def vocabulary(world: World) -> list[str]:
  """Every word any text of this world can contain (specials first)."""
  words = [PAD, BOS, EOS, UNK]
  seen = set(words)

  def add(text):
    for w in text.split():
      if w not in seen:
        seen.add(w)
        words.append(w)

  add("Q A : . ? So the answer is in was born is")
  for s in STYLES:
    add(f"[{s}]")
  for tmpl in list(QUESTIONS.values()) + [t for ts in SENTENCES.values() for t in ts]:
    add(tmpl.replace("{s}", "").replace("{f}", ""))
  for p in world.people:
    add(p)
  for forms in world.surface_forms.values():
    for f in forms:
      add(f)
  return words
