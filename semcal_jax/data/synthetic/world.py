"""A seeded synthetic world whose answer distributions p*(.|x) are known.

People have a birth city and a job. Each such fact x has a known distribution
p*(.|x) over answer values:

- certain facts: one answer (p* = 1);
- contested facts: two or three answers with Dirichlet weights (the world's
  sources disagree);
- rare facts: either of the above, but mentioned only a couple of times in the
  corpus, so a model trained on it has little evidence.

Cities lie in countries (certain, often mentioned), which gives two-hop
questions ("In which country was X born?") whose p* is the push-forward of the
birth-city distribution, and whose worked chain of thought goes through the
city. Every answer value has several surface forms ("Lanport", "the city of
Lanport"), so the token-level and the semantic (B) distributions differ.

Everything is drawn from `numpy.random.default_rng(seed)`: the same seed gives
the same world, corpus and evaluation labels.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

# Syllables for invented names (no real-world knowledge needed or used).
_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "gr",
           "tr", "dr", "kl")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")
_CITY_ENDS = ("port", "ford", "ville", "stead", "mouth", "wick", "burg", "dale")
_COUNTRY_ENDS = ("ia", "land", "stan", "onia", "ar")
JOBS = ("baker", "doctor", "farmer", "pilot", "teacher", "lawyer", "painter", "sailor", "miner",
        "weaver", "singer", "tailor", "potter", "judge", "cook", "nurse", "smith", "poet",
        "clerk", "guard")
KINDS = ("certain", "contested", "rare")


@dataclasses.dataclass(frozen=True)
class Fact:
  """One question x with its known answer distribution p*(.|x)."""
  id: str
  subject: str  # person name
  relation: str  # "city", "job" or "country" (two-hop through the city)
  values: tuple[str, ...]  # answer values with positive probability
  probs: tuple[float, ...]  # p*(value), sums to 1
  kind: str  # certain / contested / rare (of the underlying fact)
  mentions: int  # how many times the corpus states it

  def p(self, value: str) -> float:
    return dict(zip(self.values, self.probs)).get(value, 0.0)

  def sample(self, rng: np.random.Generator, size=None):
    return rng.choice(np.asarray(self.values, dtype=object), size=size, p=self.probs)


@dataclasses.dataclass(frozen=True)
class World:
  """All entities and facts; `facts` are single-hop, `two_hop` derived."""
  seed: int
  cities: tuple[str, ...]
  countries: tuple[str, ...]
  country_of: dict  # city -> country
  people: tuple[str, ...]
  facts: tuple[Fact, ...]
  two_hop: tuple[Fact, ...]
  surface_forms: dict  # value -> tuple of surface forms (first = the plain value)

  @property
  def questions(self) -> tuple[Fact, ...]:
    return self.facts + self.two_hop

  def fact(self, subject: str, relation: str) -> Fact:
    for f in self.questions:
      if f.subject == subject and f.relation == relation:
        return f
    raise KeyError((subject, relation))

  def value_of(self, surface: str) -> str | None:
    """The answer value a surface form names (the exact B of this world)."""
    return _SURFACE_INDEX(self).get(surface.strip().lower())


def _name(rng, parts, ends=()):
  word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(parts))
  return (word + (rng.choice(ends) if ends else "")).capitalize()


def _unique_names(rng, n, make):
  out, seen = [], set()
  while len(out) < n:
    name = make()
    if name.lower() not in seen:
      seen.add(name.lower())
      out.append(name)
  return out


def _distribution(rng, kind, values, contested_alpha):
  if kind == "certain":
    return (str(rng.choice(values)),), (1.0,)
  k = int(rng.integers(2, 4))
  chosen = [str(v) for v in rng.choice(values, size=k, replace=False)]
  probs = rng.dirichlet(np.full(k, contested_alpha))
  probs = np.maximum(probs, 0.05)
  probs = probs / probs.sum()
  order = np.argsort(-probs)
  return tuple(chosen[i] for i in order), tuple(float(probs[i]) for i in order)


def make_world(seed: int = 0, *, num_people: int = 400, num_cities: int = 40,
               num_countries: int = 8, certain_share: float = 0.4, rare_share: float = 0.2,
               contested_alpha: float = 1.5, mentions: int = 12, rare_mentions: int = 2) -> World:
  """Draws a world. Kinds: certain / contested (each fact), and a `rare_share` of
  the facts (of either kind) mentioned only `rare_mentions` times instead of
  `mentions`."""
  rng = np.random.default_rng(seed)
  countries = _unique_names(rng, num_countries, lambda: _name(rng, 1, _COUNTRY_ENDS))
  cities = _unique_names(rng, num_cities, lambda: _name(rng, 1, _CITY_ENDS))
  country_of = {c: countries[i % num_countries] for i, c in enumerate(cities)}
  people = _unique_names(rng, num_people, lambda: f"{_name(rng, 1)} {_name(rng, 2)}")
  facts, two_hop = [], []
  for i, person in enumerate(people):
    for relation, values in (("city", cities), ("job", JOBS)):
      certain = rng.uniform() < certain_share
      rare = rng.uniform() < rare_share
      vals, probs = _distribution(rng, "certain" if certain else "contested", values,
                                  contested_alpha)
      kind = "rare" if rare else ("certain" if certain else "contested")
      fact = Fact(id=f"{relation}-{i:04d}", subject=person, relation=relation, values=vals,
                  probs=probs, kind=kind, mentions=rare_mentions if rare else mentions)
      facts.append(fact)
      if relation == "city":
        mass: dict[str, float] = {}
        for v, p in zip(vals, probs):
          mass[country_of[v]] = mass.get(country_of[v], 0.0) + p
        order = sorted(mass, key=lambda c: -mass[c])
        two_hop.append(Fact(id=f"country-{i:04d}", subject=person, relation="country",
                            values=tuple(order), probs=tuple(mass[c] for c in order), kind=kind,
                            mentions=fact.mentions))
  forms = {}
  for c in cities:
    forms[c] = (c, f"the city of {c}")
  for c in countries:
    forms[c] = (c, f"the country of {c}")
  for j in JOBS:
    forms[j] = (j, f"a {j}")
  return World(seed=seed, cities=tuple(cities), countries=tuple(countries),
               country_of=country_of, people=tuple(people), facts=tuple(facts),
               two_hop=tuple(two_hop), surface_forms=forms)


_INDEX_CACHE: dict = {}


def _SURFACE_INDEX(world: World) -> dict:  # pylint: disable=invalid-name
  key = id(world)
  if key not in _INDEX_CACHE:
    _INDEX_CACHE[key] = {f.lower(): v for v, fs in world.surface_forms.items() for f in fs}
  return _INDEX_CACHE[key]


def draw_labels(world: World, facts: Sequence[Fact], seed: int) -> list[str]:
  """One evaluation label per question, drawn from p* (seeded)."""
  rng = np.random.default_rng([seed, 7919])
  return [str(f.sample(rng)) for f in facts]
