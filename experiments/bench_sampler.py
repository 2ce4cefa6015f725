"""Benchmark: our sampler vs `transformers` generate, side by side in one run.

Workload: 8 TriviaQA questions from ../shared/data as 5-shot base-model
prompts, M = 32 samples each, up to 24 new tokens, stop at newline, T = 1, for
SmolLM2-135M-Instruct and Gemma-3-270m (fp32, CPU). transformers runs
`generate(do_sample=True, num_return_sequences=32, stop_strings=["\\n"])` on the
8 prompts as one left-padded batch (its fastest use). Each system runs in its
own subprocess (separate peak RSS). Reported: generated tokens/s (tokens up to
and including the one that ends each sample), wall time, our compile time
apart, peak RSS, and achieved FLOP/s as a fraction of this machine's f32
matmul FLOP/s measured in the same run. Ours runs twice: batch-invariant
(row blocks of 64, the default: samples identical whatever the batching) and
plain (`row_chunk=None`), so the invariance's cost is printed beside it.

  python experiments/bench_sampler.py [--models=smollm2-135m-instruct,gemma-3-270m]
"""

import json
import os
import resource
import subprocess
import sys
import time

from absl import app, flags

_MODELS = flags.DEFINE_list("models", ["smollm2-135m-instruct", "gemma-3-270m"], "Models.")
_DATA = flags.DEFINE_string("data", None, "TriviaQA jsonl (default ../shared/data/triviaqa).")
_PART = flags.DEFINE_string("part", None, "Internal: run one side ('ours'/'plain'/'hf') for one "
                            "model.")
_QUESTIONS, _SHOTS, _SAMPLES, _NEW = 8, 5, 32, 24


def _data_file():
  if _DATA.value:
    return _DATA.value
  here = os.path.dirname(os.path.abspath(__file__))
  return os.path.join(here, "..", "..", "shared", "data", "triviaqa", "triviaqa_sm_sub.jsonl")


def prompts():
  """8 five-shot prompts: exemplars are the first 5 rows, questions the next 8."""
  with open(_data_file()) as fh:
    rows = [json.loads(line) for _, line in zip(range(_SHOTS + _QUESTIONS), fh)]
  shots = "".join(f"{r['context']} {r['answer']}\n\n" for r in rows[:_SHOTS])
  return [shots + r["context"] for r in rows[_SHOTS:]]


def matmul_flops():
  """Measured f32 matmul FLOP/s of this machine (JAX, 2048^3, best of 5)."""
  import jax
  import jax.numpy as jnp
  a = jax.random.normal(jax.random.key(0), (2048, 2048), jnp.float32)
  f = jax.jit(lambda x: x @ x)
  f(a).block_until_ready()
  best = min(_time(lambda: f(a).block_until_ready()) for _ in range(5))
  return 2 * 2048**3 / best


def _time(fn):
  t0 = time.perf_counter()
  fn()
  return time.perf_counter() - t0


def _flops(cfg, prompt_tokens, generated, prefill_copies):
  """Matmul FLOPs: 2 x parameters touched per token (LM head only where logits are needed)."""
  d, v = cfg.hidden_size, cfg.vocab_size
  body = cfg.num_params() - v * d - (0 if cfg.tie_embeddings else d * v)
  head = 2 * d * v
  return (2 * body * prompt_tokens * prefill_copies + head * _QUESTIONS * prefill_copies
          + (2 * body + head) * generated)


def run_ours(name, row_chunk=64):
  import semcal_jax.models as models
  from semcal_jax import sampling
  loaded = models.load(name, progress=False)
  ps = prompts()
  config = sampling.SamplerConfig.create(num_samples=_SAMPLES, max_new_tokens=_NEW,
                                         stop=("\n",), row_chunk=row_chunk)
  sampler = sampling.Sampler(loaded, config)
  first = sampler.sample(ps, seed=1, progress=False)  # compiles every shape this run needs
  res = sampler.sample(ps, seed=1, progress=False)  # the same run, compiled
  n_prompt = sum(len(loaded.tokenizer.encode(p)) for p in ps)
  return {"tokens": int(res.lengths.sum()), "seconds": res.stats["wall_seconds"],
          "compile_seconds": first.stats["wall_seconds"] - res.stats["wall_seconds"],
          "flops": _flops(loaded.config, n_prompt, int(res.lengths.sum()), 1),
          "example": res.texts[0][:3]}


def run_hf(name):
  import torch
  from transformers import AutoModelForCausalLM, AutoTokenizer
  from semcal_jax.models import gguf_loader, registry
  torch.set_num_threads(os.cpu_count())
  path = registry.resolve(name)
  tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
  tok.padding_side = "left"
  if tok.pad_token is None:
    tok.pad_token = tok.eos_token
  model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                               dtype=torch.float32).eval()
  ps = prompts()
  batch = tok(ps, return_tensors="pt", padding=True)
  gen = dict(do_sample=True, num_return_sequences=_SAMPLES, max_new_tokens=_NEW, temperature=1.0,
             top_k=0, top_p=1.0, stop_strings=["\n"], tokenizer=tok, pad_token_id=tok.pad_token_id)
  torch.manual_seed(0)
  t0 = time.perf_counter()
  with torch.no_grad():
    out = model.generate(**batch, **gen)
  seconds = time.perf_counter() - t0
  new = out[:, batch["input_ids"].shape[1]:]
  texts = tok.batch_decode(new, skip_special_tokens=True)
  tokens = 0
  for row in new.tolist():  # count up to and including the token that ended the sample
    n = len(row)
    while n and row[n - 1] == tok.pad_token_id:
      n -= 1
    tokens += n
  cfg, _, _ = gguf_loader.read(path)
  n_prompt = int(batch["attention_mask"].sum())
  return {"tokens": tokens, "seconds": seconds, "compile_seconds": 0.0,
          "flops": _flops(cfg, n_prompt, tokens, _SAMPLES), "example": texts[:3]}


def _subprocess(part, name):
  cmd = [sys.executable, os.path.abspath(__file__), f"--part={part}", f"--models={name}"]
  if _DATA.value:
    cmd.append(f"--data={_DATA.value}")
  out = subprocess.run(cmd, capture_output=True, text=True, check=False)
  if out.returncode:
    raise SystemExit(f"{part} on {name} failed:\n{out.stderr[-3000:]}")
  return json.loads(out.stdout.strip().splitlines()[-1])


def main(_):
  if _PART.value:
    name = _MODELS.value[0]
    if _PART.value == "hf":
      result = run_hf(name)
    else:
      result = run_ours(name, row_chunk=64 if _PART.value == "ours" else None)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
    return
  peak = matmul_flops()
  print(f"machine f32 matmul: {peak / 1e9:.1f} GFLOP/s (JAX, 2048^3)\n")
  print(f"{'model':<24}{'system':<14}{'tok/s':>8}{'wall s':>9}{'compile s':>11}"
        f"{'peak RSS MiB':>14}{'FLOP/s frac':>13}")
  for name in _MODELS.value:
    rows = {part: _subprocess(part, name) for part in ("ours", "plain", "hf")}
    labels = {"ours": "semcal_jax", "plain": "  plain", "hf": "transformers"}
    for part, r in rows.items():
      tps = r["tokens"] / r["seconds"]
      frac = r["flops"] / r["seconds"] / peak
      label = labels[part]
      print(f"{name:<24}{label:<14}{tps:8.1f}{r['seconds']:9.1f}{r['compile_seconds']:11.1f}"
            f"{r['peak_rss_mib']:14.0f}{frac:13.3f}")
    ratio = (rows["ours"]["tokens"] / rows["ours"]["seconds"]) / (
        rows["hf"]["tokens"] / rows["hf"]["seconds"])
    print(f"{'':<24}{'speed-up':<14}{ratio:8.2f}x   (samples e.g. {rows['ours']['example'][:2]!r})")
    cost = (rows["plain"]["tokens"] / rows["plain"]["seconds"]) / (
        rows["ours"]["tokens"] / rows["ours"]["seconds"])
    print(f"{'':<24}{'invariance':<14}{cost:8.2f}x   (plain tok/s / batch-invariant tok/s)")


if __name__ == "__main__":
  app.run(main)
