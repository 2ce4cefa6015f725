"""The sampler on the real PyPI models: greedy equals transformers' greedy `generate`
token for token, and first-token draws follow softmax(logits / T) exactly."""

import json

import numpy as np
import pytest
import torch
from scipy import stats

from semcal_jax import sampling

from tests.conftest import hf_reference_model, real_model

pytestmark = pytest.mark.slow


def _prompts(shared_data, n=8):
  with open(shared_data / "triviaqa" / "triviaqa_sm_sub.jsonl") as fh:
    rows = [json.loads(line) for _, line in zip(range(n + 3), fh)]
  shots = "".join(f"{r['context']} {r['answer']}\n\n" for r in rows[:3])
  qs = [shots + r["context"] for r in rows[3:3 + n // 2]]
  with open(shared_data / "gsm8k" / "test.jsonl") as fh:
    qs += [f"Question: {json.loads(line)['question']}\nAnswer:" for _, line in
           zip(range(n - len(qs)), fh)]
  return qs


@pytest.fixture(scope="module", params=["smollm2-135m-instruct", "gemma-3-270m"])
def loaded(request):
  return real_model(request.param)  # loaded once per test process, shared with other modules


def test_greedy_equals_transformers_generate(loaded, shared_data):
  ref = hf_reference_model(loaded.name)
  eos = ref.generation_config.eos_token_id
  eos = [eos] if isinstance(eos, int) else list(eos or [])
  prompts = _prompts(shared_data)
  ours = sampling.sample(loaded, prompts, num_samples=1, max_new_tokens=32, greedy=True,
                         stop_token_ids=eos, progress=False)
  for i, p in enumerate(prompts):
    ids = loaded.tokenizer.encode(p)
    with torch.no_grad():
      out = ref.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=32,
                         eos_token_id=eos, pad_token_id=eos[0] if eos else 0)
    want = out[0, len(ids):].tolist()
    got = ours.token_ids[i][0].tolist()
    assert got == want, f"prompt {i}: ours {got} vs transformers {want}"


@pytest.mark.parametrize("kwargs", [dict(temperature=1.0), dict(temperature=0.7),
                                    dict(temperature=1.0, top_k=40),
                                    dict(temperature=1.0, top_p=0.9)],
                         ids=["T=1", "T=0.7", "top_k=40", "top_p=0.9"])
def test_first_token_frequencies_match_the_distribution(kwargs, smollm2, shared_data):
  loaded = smollm2
  prompt = _prompts(shared_data, n=2)[0]
  draws = 24_000
  res = sampling.sample(loaded, [prompt], num_samples=draws, max_new_tokens=1, seed=5,
                        stop_token_ids=[], progress=False, max_rows=draws, **kwargs)
  first = res.tokens[0, :, 0]
  ids = loaded.tokenizer.encode(prompt)
  logits = np.asarray(loaded.logits(np.asarray([ids])))[0, -1].astype(np.float64)
  x = logits / kwargs["temperature"]
  keep = np.ones_like(x, bool)
  if "top_k" in kwargs:
    keep &= x >= np.sort(x)[-kwargs["top_k"]]
  p = np.exp(x - x.max())
  p /= p.sum()
  if "top_p" in kwargs:
    order = np.argsort(p)
    cum = np.cumsum(p[order])
    drop = np.zeros_like(keep)
    drop[order] = cum <= 1 - kwargs["top_p"]
    keep &= ~drop
  p = np.where(keep, p, 0)
  p /= p.sum()
  expected = p * draws
  observed = np.bincount(first, minlength=p.size)
  big = expected >= 5
  assert big.sum() >= 10
  assert observed[~keep].sum() == 0  # nothing outside the truncated support
  obs, exp = observed[big], expected[big]
  if expected[~big].sum() > 0:  # lump the rare tokens into one bin
    obs, exp = np.r_[obs, observed[~big].sum()], np.r_[exp, expected[~big].sum()]
  chi = stats.chisquare(obs, exp * obs.sum() / exp.sum())
  print(kwargs, f"{big.sum()} tokens with expected >= 5, chi2 p = {chi.pvalue:.3f}")
  assert chi.pvalue > 0.01
