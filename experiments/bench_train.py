"""Benchmark: training throughput of semcal_jax.training for SFT on SmolLM2-135M.

Workload: next-token SFT on sequences of 512 tokens (1 prompt token
+ 511 target tokens, all in the loss), fp32, AdamW, batch of `--batch`
sequences, on this machine's CPU (or whatever JAX runs on). Two rows: full
fine-tuning and LoRA (rank 8 on every projection). Reported per row: the
compile time, training tokens/s over `--steps` timed steps (after the
compiling one), and achieved FLOP/s as a fraction of this machine's matmul
FLOP/s, measured in the same run (f32, 2048^3, best of 5):

- model FLOPs: `6 N` per token for full fine-tuning (`4 N` with LoRA: no weight
  gradients of the frozen base), N = the matmul parameters (projections and
  LM head), plus attention `12 L H Dh T` per token (`8 ...` under LoRA) with
  the causal mask executed densely, as XLA runs it;
- XLA FLOPs: the step's own count (`jax.jit(...).lower(...).cost_analysis()`),
  which also includes the softmaxes, norms, the optimizer and the logits
  recomputed by the chunked log-softmax in the backward pass.

  python experiments/bench_train.py [--batch=4 --steps=3 --seq_len=512 --model=smollm2-135m-instruct]
"""

import time

from absl import app, flags

_MODEL = flags.DEFINE_string("model", "smollm2-135m-instruct", "Model spec.")
_BATCH = flags.DEFINE_integer("batch", 4, "Sequences per step.")
_SEQ = flags.DEFINE_integer("seq_len", 512, "Tokens per sequence.")
_STEPS = flags.DEFINE_integer("steps", 3, "Timed steps per row (after one compiling step).")
_ROWS = flags.DEFINE_list("rows", ["full", "lora"], "Which rows: full, lora.")


def matmul_flops() -> float:
  """Measured f32 matmul FLOP/s of this machine (JAX, 2048^3, best of 5)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  a = jax.random.normal(jax.random.key(0), (2048, 2048), jnp.float32)
  f = jax.jit(lambda x: x @ x)
  f(a).block_until_ready()
  best = float("inf")
  for _ in range(5):
    t0 = time.perf_counter()
    f(a).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return 2 * 2048**3 / best


def model_flops_per_token(cfg, seq_len: int, lora: bool) -> float:
  """Analytical training FLOPs per token (module docstring)."""
  d, h, k, dh, f, layers = (cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim,
                            cfg.intermediate_size, cfg.num_layers)
  per_layer = d * dh * (2 * h + 2 * k) + 3 * d * f
  n = layers * per_layer + d * cfg.vocab_size
  attention = 4 * layers * h * dh * seq_len  # QK^T and AV, forward, dense causal
  factor = 2 if lora else 3  # forward + input gradients (+ weight gradients)
  return factor * (2 * n + attention)


def bench_row(loaded, kind: str, batch: int, seq_len: int, steps: int) -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from semcal_jax.training import batches, lora, objectives, optim, trainer  # pylint: disable=g-import-not-at-top
  lcfg = lora.LoraConfig(rank=8, alpha=16.0, targets=lora.ALL) if kind == "lora" else None
  tr = trainer.Trainer(loaded.model, objectives.NextToken(), optim.make(optim.OptimConfig(
      learning_rate=1e-5)), lora=lcfg, logit_chunk=1024)
  rng = np.random.default_rng(0)
  vocab = loaded.tokenizer.vocab_size if loaded.tokenizer else loaded.config.vocab_size
  b = batches.pack([[int(loaded.tokenizer.bos_id or 1)]] * batch,
                   [[rng.integers(0, vocab, seq_len - 1).tolist()] for _ in range(batch)],
                   prompt_len=1, continuation_len=seq_len - 1)
  t0 = time.perf_counter()
  tr.train_step(b)
  compile_s = time.perf_counter() - t0
  mbs = batches.microbatches(b, 1)
  lowered = tr._step.lower(tr.state, tr.frozen, tr.reference, mbs)  # pylint: disable=protected-access
  cost = lowered.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  xla_flops = float(cost.get("flops", float("nan"))) if cost else float("nan")
  times = []
  for _ in range(steps):
    t0 = time.perf_counter()
    out = tr.train_step(b)
    times.append(time.perf_counter() - t0)
  step_s = float(np.median(times))
  tokens = batch * seq_len
  del jax
  return {"row": kind, "compile_s": compile_s - step_s, "step_s": step_s,
          "tokens_per_s": tokens / step_s,
          "model_flops_per_s": model_flops_per_token(loaded.config, seq_len, lcfg is not None)
                               * tokens / step_s,
          "xla_flops_per_s": xla_flops / step_s, "loss": out["loss"],
          "trainable": tr.num_trainable()}


def main(argv):
  del argv
  from semcal_jax import models  # pylint: disable=g-import-not-at-top
  peak = matmul_flops()
  loaded = models.load(_MODEL.value, progress=False)
  print(f"{_MODEL.value}: {loaded.config.num_params() / 1e6:.1f}M params; SFT at sequence "
        f"length {_SEQ.value}, batch {_BATCH.value}, fp32; measured matmul peak "
        f"{peak / 1e9:.1f} GFLOP/s (f32 2048^3)")
  head = (f"{'row':<6} {'trainable':>11} {'compile s':>9} {'step s':>7} {'tokens/s':>9} "
          f"{'model GFLOP/s':>13} {'of peak':>7} {'XLA GFLOP/s':>11} {'of peak':>7}")
  rows = [bench_row(loaded, kind, _BATCH.value, _SEQ.value, _STEPS.value) for kind in _ROWS.value]
  print(head)
  print("-" * len(head))
  for r in rows:
    print(f"{r['row']:<6} {r['trainable']:>11,} {r['compile_s']:9.1f} {r['step_s']:7.2f} "
          f"{r['tokens_per_s']:9.1f} {r['model_flops_per_s'] / 1e9:13.1f} "
          f"{r['model_flops_per_s'] / peak:7.1%} {r['xla_flops_per_s'] / 1e9:11.1f} "
          f"{r['xla_flops_per_s'] / peak:7.1%}")


if __name__ == "__main__":
  app.run(main)
