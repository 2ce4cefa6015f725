"""Fine-tuning with B-calibration tracked while training: SFT, CoT-SFT, GRPO / RLOO / REINFORCE, DPO.

Pipeline position: data · models -> **training** -> sampling -> semantic (B) -> calibration.

    from semcal_jax import training as T
    trainer = T.Trainer(loaded.model, T.objectives.PolicyGradient(beta=0.04),
                        T.optim.make(T.optim.OptimConfig(learning_rate=1e-5)),
                        lora=T.lora.LoraConfig(rank=8), mesh=loaded.mesh)
    step_fn = T.recipes.rl_steps(trainer, loaded, prompt_ids, reward_fn, questions_per_step=4,
                                 group_size=8, max_new_tokens=16, stop=("\\n",))
    T.runner.fit(trainer, step_fn, workdir, T.runner.RunConfig(num_steps=100, eval_every=10),
                 tracker=tracker, loaded=loaded)

Modules (one idea each):
- `batches`: the batch layout (prompt + S continuations), packing, data order.
- `logprobs`: per-token log-probabilities with the prompt's KV cache shared.
- `objectives`: NextToken (SFT), PolicyGradient (GRPO), DPO, SoftLabel (probe).
- `lora`: adapters as a functional delta on the stacked parameters.
- `optim`: optax optimizers and schedules from config.
- `trainer`: the jitted, donated, accumulated, sharded update.
- `rl`: rollouts through the sampler, advantages, preference pairs.
- `qa`: prompts, SFT targets and correctness rewards from questions.
- `recipes`: step functions for SFT / RL / DPO.
- `checkpoint`: orbax checkpoints (async, keep-N, best-by-metric).
- `tracking`: calibration evaluations, metrics.jsonl, TensorBoard, curves.
- `report`: the before/after `report.json`.
- `runner`: resume, step, evaluate, checkpoint, report.
- `run_config`: a fine-tuning run's config: defaults, validation, fingerprint.
- `workdir`: a workdir claimed by one config (resume only under the same fingerprint).
"""

from semcal_jax.training import (batches, checkpoint, logprobs, lora, objectives, optim, qa,
                                 recipes, report, rl, run_config, runner, tracking, workdir)
from semcal_jax.training.trainer import TrainState, Trainer, shard_model, split_params

__all__ = ["TrainState", "Trainer", "batches", "checkpoint", "logprobs", "lora", "objectives",
           "optim", "qa", "recipes", "report", "rl", "run_config", "runner", "shard_model",
           "split_params", "tracking", "workdir"]
