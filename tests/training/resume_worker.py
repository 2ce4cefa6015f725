"""A small GRPO run with calibration tracking, for the kill -9 / resume test.

  python -m tests.training.resume_worker WORKDIR NUM_STEPS

Everything that could break bit-identical resumption is in it: rollouts
sampled with step-derived seeds, Adam state, LoRA adapters, async
checkpoints every step, evaluations with the sampler every 4 steps.
"""

import sys

from semcal_jax import semantic
from semcal_jax.training import lora, objectives, optim, recipes, runner, tracking
from semcal_jax.training.trainer import Trainer, shard_model

from tests.training import toy


def build(workdir: str, num_steps: int, mesh=None):
  """`(trainer, step_fn, run_config, tracker, loaded)` of the run (on `mesh`, if given)."""
  m = shard_model(toy.model(), mesh)
  tok = toy.DigitTokenizer()
  loaded = toy.loaded(m, tok, mesh)
  tr = Trainer(m, objectives.PolicyGradient(beta=0.02), optim.make(optim.OptimConfig(
      learning_rate=2e-2)), lora=lora.LoraConfig(rank=4, alpha=8.0, targets=lora.ALL), seed=3,
      mesh=mesh)
  step_fn = recipes.rl_steps(tr, loaded, toy.RL_PROMPTS, toy.rl_reward, questions_per_step=4,
                             group_size=4, max_new_tokens=3, stop_token_ids=(), seed=5)
  qs = toy.qa_questions(6)
  es = tracking.EvalSet("toy", "concise", qs, [toy.qa_prompt(q) for q in qs], (), 3)
  tracker = tracking.CalibrationTracker(es, semantic.get("numeric"), num_samples=4,
                                        n_bootstrap=10)
  cfg = runner.RunConfig(num_steps=num_steps, eval_every=4, save_every=1, keep=2, keep_best=1,
                         progress=False, diagram_bootstrap=0)
  del workdir
  return tr, step_fn, cfg, tracker, loaded


def main(argv):
  workdir, num_steps = argv[1], int(argv[2])
  tr, step_fn, cfg, tracker, loaded = build(workdir, num_steps)
  runner.fit(tr, step_fn, workdir, cfg, tracker=tracker, loaded=loaded)


if __name__ == "__main__":
  main(sys.argv)
