"""Real models from their PyPI GGUF files vs `transformers` loading the same file (fp32).

On 8 prompts of 20-600 tokens built from ../shared/data: the top-1 token agrees at
every position, max |Δlogit| <= 2e-3, mean KL(reference || ours) <= 1e-5; the same
with the parameters tensor-parallel on 8 fake CPU devices (loaded onto the mesh), on
the prompts of 128 and 200 tokens (one compilation). Two prompts are longer than
Gemma 3's 512-token sliding window; sliding-window attention on sharded parameters is
checked on a tiny Gemma 3 in test_sharding.py.
"""

import json

import numpy as np
import pytest
import torch

import semcal_jax.models as models

from tests.conftest import hf_reference_model, real_model

pytestmark = pytest.mark.slow

LENGTHS = (20, 40, 64, 100, 128, 200, 520, 600)
# Our side right-pads each prompt to one of two widths (two compilations): most
# prompts are short, so padding all to 600 would double the work.
WIDTHS = (200, 600)
# The prompts checked tensor-parallel: on 8 fake devices a forward at width 600 takes
# 3-4x one at width 200, and sharding the heads and MLP does not depend on the length.
TP_PROMPTS = (LENGTHS.index(128), LENGTHS.index(200))


def _texts(shared_data):
  out = []
  for rel, field in (("triviaqa/triviaqa_sm_sub.jsonl", "context"),
                     ("gsm8k/test.jsonl", "question"), ("math/math.jsonl", "context")):
    with open(shared_data / rel) as fh:
      for i, line in enumerate(fh):
        if i >= 40:
          break
        out.append(json.loads(line)[field])
  return out


def _prompts(tokenizer, texts):
  """Token ids of exactly LENGTHS[i] tokens, cut from concatenated real text."""
  ids = tokenizer.encode("\n\n".join(texts))
  assert len(ids) >= max(LENGTHS) * 2
  return [np.asarray(ids[i * 37: i * 37 + n]) for i, n in enumerate(LENGTHS)]


def _log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.fixture(scope="module", params=["smollm2-135m-instruct", "gemma-3-270m"])
def reference(request, shared_data):
  # Our tokenizer (identical to transformers' on every question: tests/models/test_tokenizer.py):
  # transformers builds Gemma's from the GGUF file in ~50 s; ours comes with the shared model.
  prompts = _prompts(real_model(request.param).tokenizer, _texts(shared_data))
  model = hf_reference_model(request.param)
  with torch.no_grad():
    logits = [model(torch.tensor(p[None])).logits[0].numpy() for p in prompts]
  del model
  return request.param, prompts, logits


def _compare(loaded, prompts, ref_logits):
  stats = []
  for p, ref in zip(prompts, ref_logits):
    width = min(w for w in WIDTHS if w >= len(p))
    padded = np.zeros((1, width), np.int32)
    padded[0, :len(p)] = p  # right padding: causal, so real positions are unaffected
    ours = np.asarray(loaded.logits(padded))[0, :len(p)]
    kl = (np.exp(_log_softmax(ref)) * (_log_softmax(ref) - _log_softmax(ours))).sum(-1)
    stats.append((np.abs(ours - ref).max(), kl.mean(), (ours.argmax(-1) == ref.argmax(-1)).all()))
  return stats


@pytest.mark.parametrize("mesh_shape", [None, (2, 4)], ids=["1-device", "8-devices-tp"])
def test_logits_match_transformers(reference, mesh_shape):
  name, prompts, ref_logits = reference
  if mesh_shape:
    prompts, ref_logits = [prompts[i] for i in TP_PROMPTS], [ref_logits[i] for i in TP_PROMPTS]
    loaded = models.load(name, mesh=models.make_mesh(*mesh_shape), with_tokenizer=False,
                         progress=False)
  else:
    loaded = real_model(name)  # the one-device model the other real-model tests share
  stats = _compare(loaded, prompts, ref_logits)
  max_diff = max(s[0] for s in stats)
  mean_kl = float(np.mean([s[1] for s in stats]))
  print(f"{name} {mesh_shape}: max|dlogit| {max_diff:.2e}, mean KL {mean_kl:.2e}")
  assert all(s[2] for s in stats), f"top-1 differs somewhere ({name})"
  assert max_diff <= 2e-3
  assert mean_kl <= 1e-5
