"""The mechanism probe: can a model predict its own answer distribution?

- `targets`: empirical class shares of a run's samples, the finite-M noise floor.
- `lora_probe`: a rank-8 LoRA trained to put the target shares on the classes'
  canonical answers (soft-label cross-entropy); held-out KL, floor, gap.
- `linear_probe`: the cheap variant, ridge regression from the last prompt
  hidden state to the plurality class's share.
- `from_run`: targets, prompts and candidates from a pipeline run's workdir.
- `synthetic`: the synthetic-world experiment (base x 3 styles, GRPO, DPO, CoT-SFT).
- `compare`: KL gap vs smECE across runs, Spearman with a bootstrap CI, scatter.
"""

from semcal_jax.probe import lora_probe, targets
from semcal_jax.probe.lora_probe import ProbeConfig, ProbeResult, encode_candidates, train_probe
from semcal_jax.probe.targets import Targets, from_classes, kl, noise_floor

__all__ = ["ProbeConfig", "ProbeResult", "Targets", "encode_candidates", "from_classes", "kl",
           "lora_probe", "noise_floor", "targets", "train_probe"]
