"""The stop-string automaton finds every occurrence, across token boundaries."""

import numpy as np
import pytest

from semcal_jax.sampling import stopping


def _brute(pieces, seq, patterns):
  """First token index at which a stop string is complete (or None)."""
  text = b""
  for i, t in enumerate(seq):
    text += pieces[t]
    if any(p in text for p in patterns):
      return i
  return None


@pytest.mark.parametrize("seed", range(5))
def test_tables_match_brute_force(seed):
  rng = np.random.default_rng(seed)
  alphabet = b"ab\nQ:"
  pieces = [bytes(rng.choice(list(alphabet), size=rng.integers(0, 4))) for _ in range(60)]
  patterns = [b"\n", b"ab\nQ", b"QQ:"] if seed % 2 else [b"\n\nQ:", b"ba"]
  next_state, hit = stopping.transition_tables(pieces, patterns)
  for _ in range(200):
    seq = rng.integers(0, len(pieces), size=12)
    state, found = 0, None
    for i, t in enumerate(seq):
      if hit[t, state]:
        found = i
        break
      state = next_state[t, state]
    assert found == _brute(pieces, seq, patterns)


def test_cut_at_stop():
  assert stopping.cut_at_stop(" Paris.\n\nQuestion: x", ["\n\nQuestion:", "\n"]) == (" Paris.", True)
  assert stopping.cut_at_stop(" Paris", ["\n"]) == (" Paris", False)


def test_empty_stop_string_is_rejected():
  with pytest.raises(ValueError, match="empty"):
    stopping.build_automaton([b""])
