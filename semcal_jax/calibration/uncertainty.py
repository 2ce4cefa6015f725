"""Confidences of the common uncertainty measures, from the same M samples.

Every method turns a question's samples into one confidence in [0, 1] that the
*plurality answer* is right (the held-out estimator predicts its own answer),
so that all methods are judged on the same prediction by the same metrics.

Inputs, per question and sample (`[Q, M]`):
- `class_ids`: B's class of each sample (-1 unparsed; the unparsed samples form
  one more class, as `confidence`'s "class" policy);
- `logprob`: the sum of the sample's token log-probabilities under the model
  (at temperature 1 these are the model's own probabilities);
- `num_tokens`: the sample's length in tokens (>= 1 counts; 0 is read as 1);
- `first_logprob`: the log-probability of the sample's first answer token.

Methods (the keys of `METHODS`):
- `b_confidence`: share of the plurality class.
- `b_confidence_heldout`: share of the class chosen on the first half among
  the second half (`confidence.heldout_confidence`).
- `semantic_entropy`: discrete semantic entropy over B's classes,
  `H = -sum_c p_c log p_c`, `p_c` the class's share of the samples.
- `semantic_entropy_weighted`: the same with likelihood-weighted classes: each
  sample weighs `exp(mean token log-prob)`, normalised over the M samples, and
  `p_c` sums its members' weights (Kuhn et al., 2023; Farquhar et al., 2024).
- `predictive_entropy`: the Monte Carlo estimate of the length-normalised
  sequence entropy, `PE = -(1/M) sum_m logprob_m / num_tokens_m`.
- `sequence_likelihood`: the mean over the plurality class's members of their
  length-normalised likelihood `exp(logprob / num_tokens)`.
- `first_token`: the mean over the plurality class's members of the
  probability of their first answer token (the token-level baseline).

Entropies become confidences by `exp(-H)`: monotone decreasing, 1 at H = 0,
and `1/K` for samples spread evenly over K classes, where it equals the
B-confidence. `p_true` and `verbalized` need the model again and are computed
by the pipeline; they join the table through `methods_table`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from semcal_jax.calibration import confidence as confidence_lib
from semcal_jax.calibration import validation

METHODS = ("b_confidence", "b_confidence_heldout", "semantic_entropy",
           "semantic_entropy_weighted", "predictive_entropy", "sequence_likelihood",
           "first_token")


def entropy_to_confidence(h):
  """The monotone map from an entropy (nats, >= 0) to a confidence: `exp(-h)`."""
  return jnp.exp(-jnp.maximum(h, 0.0))


def _same_class(ids):
  return ids[..., :, None] == ids[..., None, :]


def class_entropy(ids, weights):
  """Entropy (nats) of the classes `ids [Q, M]` with sample weights `[Q, M]`
  (each row normalised to sum 1 first)."""
  w = weights / jnp.sum(weights, axis=-1, keepdims=True)
  mass = jnp.sum(jnp.where(_same_class(ids), w[..., None, :], 0.0), axis=-1)  # p of own class
  # Each class's -p log p, spread over its members by their weight share p_m / p_c.
  return -jnp.sum(w * jnp.log(jnp.where(mass > 0, mass, 1.0)), axis=-1)


def _member_mean(values, members):
  count = jnp.sum(members, axis=-1)
  return jnp.where(count > 0, jnp.sum(jnp.where(members, values, 0.0), axis=-1)
                   / jnp.maximum(count, 1), 0.0)


@jax.jit
def _sample_methods(ids, logprob, num_tokens, first_logprob):
  dtype = confidence_lib.float_dtype()
  logprob, first_logprob = logprob.astype(dtype), first_logprob.astype(dtype)
  per_token = logprob / jnp.maximum(num_tokens, 1).astype(dtype)
  counted = jnp.ones_like(ids, bool)
  prediction, top = confidence_lib._plurality(ids, counted)  # pylint: disable=protected-access
  members = (ids == prediction[..., None]) & (prediction[..., None] != confidence_lib.UNPARSED)
  m = ids.shape[-1]
  likelihood_weights = jax.nn.softmax(per_token, axis=-1)
  return prediction, {
      "b_confidence": top.astype(dtype) / m,
      "semantic_entropy": entropy_to_confidence(class_entropy(ids, jnp.ones_like(per_token))),
      "semantic_entropy_weighted": entropy_to_confidence(class_entropy(ids, likelihood_weights)),
      "predictive_entropy": entropy_to_confidence(-jnp.mean(per_token, axis=-1)),
      "sequence_likelihood": _member_mean(jnp.exp(per_token), members),
      "first_token": _member_mean(jnp.exp(first_logprob), members),
  }


def sample_confidences(class_ids, logprob, num_tokens, first_logprob, *, matches,
                       select_fraction: float = 0.5) -> tuple[dict, dict]:
  """Every sample-based method's confidence and the correctness it is judged on.

  Args:
    class_ids: `[Q, M]` int class ids (-1 unparsed).
    logprob: `[Q, M]` summed token log-probabilities of each sample.
    num_tokens: `[Q, M]` tokens per sample.
    first_logprob: `[Q, M]` log-probability of each sample's first answer token.
    matches: `[Q, M]` bool, the sample matches a reference.
    select_fraction: the held-out estimator's selection share.

  Returns:
    `(confidences, correct)`: dicts keyed by `METHODS`, each `[Q]` (numpy-ready
    jax arrays); `correct` is the plurality's correctness, except for
    `b_confidence_heldout`, whose prediction is chosen on the first samples.
  """
  ids, _, matches = confidence_lib._validate(class_ids, None, matches)  # pylint: disable=protected-access
  arrays = {"logprob": logprob, "num_tokens": num_tokens, "first_logprob": first_logprob}
  for name, a in arrays.items():
    a = validation.as_array(name, a)
    validation.check_same_shape("class_ids", ids, name, a)
    arrays[name] = jnp.asarray(a)
  _, conf = _sample_methods(ids, arrays["logprob"], arrays["num_tokens"],
                            arrays["first_logprob"])
  plurality = confidence_lib.semantic_confidence(ids, matches=matches)
  heldout = confidence_lib.heldout_confidence(ids, matches=matches,
                                              select_fraction=select_fraction)
  conf["b_confidence_heldout"] = heldout.confidence
  correct = {k: plurality.correct for k in conf}
  correct["b_confidence_heldout"] = heldout.correct
  order = {k: i for i, k in enumerate(METHODS)}
  return (dict(sorted(conf.items(), key=lambda kv: order[kv[0]])),
          dict(sorted(correct.items(), key=lambda kv: order[kv[0]])))

