"""The synthetic world: known answer distributions p*(.|x), a corpus that implies
them, a word-level tokenizer and the exact collapsing function B.

    world = make_world(seed=0)
    texts = corpus.corpus(world, seed=0)          # training texts (values drawn from p*)
    tok = make_tokenizer(world)
    B = SyntheticCollapsing(world)
"""

from semcal_jax.data.synthetic import corpus
from semcal_jax.data.synthetic.tokenization import (SyntheticCollapsing, first_token_targets,
                                                    make_tokenizer)
from semcal_jax.data.synthetic.world import Fact, World, draw_labels, make_world

__all__ = ["Fact", "SyntheticCollapsing", "World", "corpus", "draw_labels",
           "first_token_targets", "make_tokenizer", "make_world"]
