"""The synthetic world's generator: its corpus implies p*, labels follow p*, B is exact."""

import collections

import numpy as np
import pytest
from scipy import stats

from semcal_jax.data import synthetic
from semcal_jax.data.synthetic import corpus


@pytest.fixture(scope="module")
def world():
  return synthetic.make_world(seed=3, num_people=60, num_cities=12, num_countries=4)


def test_same_seed_same_world(world):
  again = synthetic.make_world(seed=3, num_people=60, num_cities=12, num_countries=4)
  assert again.facts == world.facts and again.two_hop == world.two_hop
  assert synthetic.make_world(seed=4, num_people=60).facts != world.facts


def test_distributions_are_valid_and_kinds_present(world):
  kinds = collections.Counter(f.kind for f in world.facts)
  assert set(kinds) == {"certain", "contested", "rare"}
  for f in world.questions:
    assert abs(sum(f.probs) - 1) < 1e-9 and all(p > 0 for p in f.probs)
    if f.relation == "country":  # two-hop: contested cities may share a country
      continue
    if f.kind == "certain":
      assert len(f.values) == 1
    elif f.kind == "contested":
      assert len(f.values) >= 2


def test_two_hop_is_the_push_forward_of_the_city(world):
  for f in world.two_hop:
    city = world.fact(f.subject, "city")
    for country in world.countries:
      mass = sum(p for c, p in zip(city.values, city.probs) if world.country_of[c] == country)
      assert abs(f.p(country) - mass) < 1e-12


def test_corpus_implies_p_star(world):
  """Answer frequencies in a large corpus match p* (chi-square per contested fact)."""
  big = synthetic.make_world(seed=3, num_people=60, num_cities=12, num_countries=4,
                             mentions=400, rare_mentions=400)
  b = synthetic.SyntheticCollapsing(big)
  counts = collections.defaultdict(collections.Counter)
  for text in corpus.corpus(big, seed=1):
    if " Q [" not in text:
      continue
    prompt, _, ans = text.partition(" A : ")
    style = prompt.split("[")[1].split("]")[0]
    relation = ("country" if "country" in prompt else "job" if "job" in prompt else "city")
    subject = prompt.split(": ", 1)[1].replace("Where was ", "").replace(
        "What is the job of ", "").replace("In which country was ", "").replace(
        " born ?", "").replace(" ?", "").strip()
    counts[(subject, relation)][b.canonical(ans, style)] += 1
  pvalues = []
  for f in big.questions:
    c = counts[(f.subject, f.relation)]
    assert None not in c, "every corpus answer is parsed by B"
    if len(f.values) > 1:
      obs = np.array([c[v] for v in f.values])
      pvalues.append(stats.chisquare(obs, np.array(f.probs) * obs.sum()).pvalue)
  # Under H0 p-values are uniform: few should be tiny.
  assert np.mean(np.array(pvalues) < 0.001) < 0.02 and len(pvalues) > 20


def test_labels_follow_p_star(world):
  facts = [f for f in world.facts if len(f.values) > 1][:5]
  draws = collections.Counter()
  for seed in range(2000):
    for f, y in zip(facts, synthetic.draw_labels(world, facts, seed)):
      draws[(f.id, y)] += 1
  for f in facts:
    for v, p in zip(f.values, f.probs):
      assert abs(draws[(f.id, v)] / 2000 - p) < 4 * np.sqrt(p * (1 - p) / 2000) + 1e-3


def test_b_recovers_values_in_every_style(world):
  rng = np.random.default_rng(0)
  b = synthetic.SyntheticCollapsing(world)
  for f in world.questions[:80]:
    for style in corpus.STYLES:
      value = str(f.sample(rng))
      text = corpus.answer(world, f, value, style, rng)
      assert b.canonical(text, style) == value, (text, style)
  assert b.canonical("gibberish words", "concise") is None
  assert b.canonical("no final answer here .", "cot") is None


def test_tokenizer_covers_every_text(world):
  tok = synthetic.make_tokenizer(world)
  unk = tok.token_to_id(corpus.UNK)
  for text in corpus.corpus(world, seed=2)[:500]:
    ids = tok.encode(text, add_bos=False)
    assert unk not in ids
    assert tok.decode(ids) == text
  assert tok.eos_id == tok.token_to_id(corpus.EOS) and tok.bos_id == tok.token_to_id(corpus.BOS)
