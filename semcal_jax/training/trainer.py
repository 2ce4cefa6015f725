"""The training loop's step: one jitted update for any objective, full or LoRA.

    trainer = Trainer(loaded.model, objectives.NextToken(), optim.make(optim.OptimConfig(...)),
                      lora=lora.LoraConfig(rank=8), mesh=mesh, grad_accum=4)
    metrics = trainer.train_step(batch)          # batch: batches.pack(...) (+ objective fields)
    policy = trainer.policy_loaded(loaded)       # a LoadedModel for the sampler
    lp = trainer.logprobs(batch)                 # [E, S, T] under the current policy

What it does:
- The model is split once into its graph and a plain dict of parameters
  (`nnx.split` / `nnx.to_pure_dict`); a step merges them back inside `jit`.
- Trainable parameters are the LoRA adapters (`lora.py`: merged functionally
  into the frozen base before each forward) or a copy of the whole tree.
  The frozen base is the reference model of RL / DPO (no second copy under
  LoRA; full fine-tuning keeps the initial tree as reference only when the
  objective needs one).
- `TrainState(step, params, opt_state)` is donated to the step (updated in
  place), with fixed output shardings: parameters keep the model's
  (tensor-parallel / FSDP) shardings, LoRA adapters are replicated, batches
  have their example axis on the mesh's 'data' axis.
- Gradient accumulation: the batch is split into `grad_accum` microbatches,
  scanned; the objective's loss sums and unit counts are summed, so the
  update equals the one of the whole batch.
- `compute_dtype="bfloat16"`: parameters are cast to bf16 for the forward and
  backward, gradients and the optimizer stay float32 (master weights).

All randomness of training lives outside the step (data order, rollout
seeds: functions of `(seed, step)`), so a resumed run repeats the
uninterrupted one exactly.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec as P

from semcal_jax import multihost
from semcal_jax.models.transformer import Transformer
from semcal_jax.training import batches as batches_lib
from semcal_jax.training import lora as lora_lib
from semcal_jax.training import objectives as objectives_lib
from semcal_jax.training.logprobs import continuation_logprobs

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


class TrainState(NamedTuple):
  """What a checkpoint holds: `step` (int32 scalar, optimizer updates done),
  trainable `params` (LoRA adapters or the full tree) and `opt_state`."""
  step: jax.Array
  params: Any
  opt_state: Any


def _is_float(x) -> bool:
  return jnp.issubdtype(x.dtype, jnp.floating)


def _cast(tree, dtype):
  return jax.tree.map(lambda x: x.astype(dtype) if _is_float(x) and x.dtype != dtype else x, tree)


def _combine(a: objectives_lib.LossOut, b: objectives_lib.LossOut) -> objectives_lib.LossOut:
  return objectives_lib.LossOut(
      a.total + b.total, a.weight + b.weight,
      {k: a.sums[k] + b.sums[k] for k in a.sums}, {k: a.counts[k] + b.counts[k] for k in a.counts},
      {k: jnp.maximum(a.maxima[k], b.maxima[k]) for k in a.maxima})


def _as_f32(out: objectives_lib.LossOut) -> objectives_lib.LossOut:
  f = lambda d: {k: jnp.asarray(v, jnp.float32) for k, v in d.items()}
  return objectives_lib.LossOut(jnp.asarray(out.total, jnp.float32),
                                jnp.asarray(out.weight, jnp.float32), f(out.sums), f(out.counts),
                                f(out.maxima))


@dataclasses.dataclass(frozen=True)
class _Static:
  """Everything static of the compiled step (hashable)."""
  graphdef: Any
  objective: objectives_lib.Objective
  optimizer: Any
  lora: lora_lib.LoraConfig | None
  compute_dtype: Any
  temperature: float
  logit_chunk: int | None


def _model(static: _Static, params) -> Transformer:
  return nnx.merge(static.graphdef, _cast(params, static.compute_dtype))


def _full_params(static: _Static, trainable, frozen):
  return trainable if static.lora is None else lora_lib.merge(frozen, trainable, static.lora)


def _logprobs(static: _Static, params, batch):
  return continuation_logprobs(_model(static, params), batch, temperature=static.temperature,
                               logit_chunk=static.logit_chunk)


def _micro_loss(static: _Static, trainable, frozen, reference, mb):
  """One microbatch: `(total, LossOut)` of the objective (reference log-probs
  computed here, without gradient, unless the batch carries `ref_logprobs`)."""
  ref_lp = None
  if static.objective.needs_reference:
    ref_lp = mb.get("ref_logprobs")
    if ref_lp is None:
      ref_lp = jax.lax.stop_gradient(_logprobs(static, reference, mb))

  def loss_fn(p):
    lp = _logprobs(static, _full_params(static, p, frozen), mb)
    out = _as_f32(static.objective(lp, mb, ref_lp))
    return out.total, out

  return jax.value_and_grad(loss_fn, has_aux=True)(trainable)


def _train_step(static: _Static, state: TrainState, frozen, reference, mbs):
  """One update (jitted per trainer, state donated). `mbs`: the batch as
  `[A, E/A, ...]` microbatches. Returns `(state, metrics)`."""
  first = jax.tree.map(lambda x: x[0], mbs)
  zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(
      lambda: _micro_loss(static, state.params, frozen, reference, first)))
  (_, out0), g0 = zeros
  out0 = out0._replace(maxima={k: jnp.full_like(v, -jnp.inf) for k, v in out0.maxima.items()})

  def body(carry, mb):
    grads, acc = carry
    (_, out), g = _micro_loss(static, state.params, frozen, reference, mb)
    return (jax.tree.map(jnp.add, grads, g), _combine(acc, out)), None

  (grads, out), _ = jax.lax.scan(body, (g0, out0), mbs)
  weight = jnp.maximum(out.weight, 1e-9)
  grads = jax.tree.map(lambda g: g / weight, grads)
  updates, opt_state = static.optimizer.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = {"loss": out.total / weight, "grad_norm": optax.tree.norm(grads),
             "update_norm": optax.tree.norm(updates), "units": out.weight}
  for k in out.sums:
    metrics[k] = out.sums[k] / jnp.maximum(out.counts[k], 1e-9)
  metrics.update(out.maxima)
  return TrainState(state.step + 1, params, opt_state), metrics


@functools.partial(jax.jit, static_argnums=0)
def _eval_logprobs(static: _Static, params, batch):
  return _logprobs(static, params, batch)


@functools.partial(jax.jit, static_argnums=0)
def _merged(static: _Static, trainable, frozen):
  return _full_params(static, trainable, frozen)


def shard_model(model: Transformer, mesh, fsdp: bool = False) -> Transformer:
  """`model` with every parameter placed by the model zoo's sharding rules on
  `mesh` (for models built in memory, e.g. randomly initialised; `models.load`
  already places what it loads). No-op without a mesh."""
  if mesh is None:
    return model
  from semcal_jax.models import sharding  # pylint: disable=g-import-not-at-top
  graphdef, params = split_params(model)

  def place(path, value):
    name = ".".join(str(getattr(k, "key", k)) for k in path)
    return multihost.put(value, sharding.sharding_for(name, value.shape, mesh, fsdp))

  placed = jax.tree_util.tree_map_with_path(place, params)
  return nnx.merge(graphdef, placed)


def split_params(model: Transformer):
  """`(graphdef, params)`: the model's graph and its parameters as a plain dict.

  Raises ValueError when the model holds state other than `nnx.Param`s (the
  trainer would not carry it)."""
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  if jax.tree.leaves(rest):
    raise ValueError("Trainer: the model has non-parameter state; only nnx.Param is trained")
  return graphdef, nnx.to_pure_dict(params)


class Trainer:
  """Jitted training steps for one model and objective (module docstring).

  Args:
    model: the `Transformer` (its parameters are the frozen base / reference).
    objective: an `objectives.Objective`.
    optimizer: an optax transformation (`optim.make`).
    lora: a `LoraConfig` (train adapters only) or None (full fine-tuning).
    mesh: the `('data', 'model')` mesh the model was loaded on (None: one device).
    compute_dtype: "float32" or "bfloat16" (forward/backward; masters stay float32).
    grad_accum: microbatches per update.
    temperature: the temperature of the policy's distribution (the sampler's).
    logit_chunk: rows per chunk of the vocabulary projection.
    seed: initialises the LoRA adapters.
  """

  def __init__(self, model: Transformer, objective: objectives_lib.Objective,
               optimizer: optax.GradientTransformation, *, lora: lora_lib.LoraConfig | None = None,
               mesh=None, compute_dtype: str = "float32", grad_accum: int = 1,
               temperature: float = 1.0, logit_chunk: int | None = 512, seed: int = 0):
    if compute_dtype not in COMPUTE_DTYPES:
      raise ValueError(f"compute_dtype: expected one of {sorted(COMPUTE_DTYPES)}, got "
                       f"{compute_dtype!r}")
    if not isinstance(grad_accum, int) or grad_accum < 1:
      raise ValueError(f"grad_accum: expected an int >= 1, got {grad_accum!r}")
    if not temperature > 0:
      raise ValueError(f"temperature: expected > 0, got {temperature!r}")
    graphdef, base = split_params(model)
    self.config = model.config
    self.mesh = mesh
    self.grad_accum = grad_accum
    self.objective = objective
    self.static = _Static(graphdef, objective, optimizer, lora, COMPUTE_DTYPES[compute_dtype],
                          float(temperature), logit_chunk)
    if lora is not None:
      adapters = lora_lib.init(base, lora, jax.random.key(seed))
      if mesh is not None:
        adapters = jax.tree.map(lambda a: multihost.put(a, NamedSharding(mesh, P())), adapters)
      self.frozen, self.reference, trainable = base, base, adapters
    else:
      trainable = jax.tree.map(jnp.copy, base)  # donated each step: never the model's own buffers
      self.frozen = None
      self.reference = base if objective.needs_reference else None
    opt_state = jax.jit(optimizer.init)(trainable)
    state = TrainState(jnp.zeros((), jnp.int32), trainable, opt_state)
    # Committed to their devices, as the step's outputs are: otherwise the second
    # step would see different input shardings and compile again. Arrays made
    # outside any mesh (the step counter) are replicated over it.
    rep = (NamedSharding(mesh, P()) if mesh is not None
           else jax.sharding.SingleDeviceSharding(jax.local_devices()[0]))
    self.state = jax.tree.map(
        lambda x: x if x.committed else multihost.put(x, rep), state)
    # The state is donated and comes back with exactly its own shardings.
    self._step = jax.jit(functools.partial(_train_step, self.static), donate_argnums=0,
                         out_shardings=(jax.tree.map(lambda x: x.sharding, self.state), None))

  # ------------------------------------------------------------------ state

  @property
  def step(self) -> int:
    """Optimizer updates done."""
    return int(self.state.step)

  @property
  def is_lora(self) -> bool:
    return self.static.lora is not None

  def set_state(self, state: TrainState) -> None:
    """Replaces the state (e.g. restored from a checkpoint); shapes must match."""
    sig = lambda t: jax.tree.map(lambda x: (tuple(np.shape(x)), jnp.dtype(x.dtype)), t)
    if (jax.tree.structure(self.state) != jax.tree.structure(TrainState(*state))
        or sig(self.state) != sig(TrainState(*state))):
      raise ValueError("Trainer.set_state: the state does not match this trainer's "
                       "(different model, LoRA config or optimizer?)")
    self.state = TrainState(*state)

  # ------------------------------------------------------------------ steps

  def train_step(self, batch: Mapping[str, Any]) -> dict[str, float]:
    """One optimizer update on `batch` (`batches.pack` layout plus the objective's
    fields); returns the step's metrics as floats (loss, grad_norm, the objective's).
    A batch that does not split evenly over `grad_accum` x the data-parallel devices
    is padded with masked-out examples (`batches.pad_examples`): same update."""
    missing = [f for f in self.objective.fields if f not in batch]
    if missing:
      raise KeyError(f"batch lacks field(s) {missing} needed by objective "
                     f"{self.objective.name!r}; has {sorted(batch)}")
    mbs = batches_lib.microbatches(batch, self.grad_accum, self.mesh)
    self.state, metrics = self._step(self.state, self.frozen, self.reference, mbs)
    out = {k: float(v) for k, v in multihost.to_host(metrics).items()}
    out["learning_step"] = float(self.step)
    return out

  def params(self) -> dict:
    """The current full parameter tree (LoRA merged into a new tree; full: the
    trainable tree itself, which the next `train_step` overwrites)."""
    if self.is_lora:
      return _merged(self.static, self.state.params, self.frozen)
    return self.state.params

  def policy_model(self, copy: bool = True) -> Transformer:
    """The current policy as a `Transformer` (parameter dtype; for the sampler).
    Full fine-tuning: `copy=False` shares the buffers, valid until the next step."""
    params = self.params()
    if copy and not self.is_lora:
      params = jax.tree.map(jnp.copy, params)
    return nnx.merge(self.static.graphdef, params)

  def policy_loaded(self, loaded, copy: bool = True):
    """`loaded` (a `LoadedModel`) with the current policy as its model."""
    return dataclasses.replace(loaded, model=self.policy_model(copy=copy))

  def logprobs(self, batch: Mapping[str, Any], which: str = "policy") -> np.ndarray:
    """Token log-probabilities `[E, S, T]` of the policy or the frozen reference."""
    if which == "policy":
      params = self.params()
    elif which == "reference":
      params = self.frozen if self.is_lora else self.reference
      if params is None:
        raise ValueError("Trainer.logprobs(which='reference'): full fine-tuning keeps no "
                         "reference for an objective that needs none")
    else:
      raise ValueError(f"which: expected 'policy' or 'reference', got {which!r}")
    e = np.shape(batch["loss_mask"])[0]
    mbs = batches_lib.microbatches(batch, 1, self.mesh)
    single = jax.tree.map(lambda x: x[0], mbs)
    return multihost.to_host(_eval_logprobs(self.static, params, single))[:e]

  def num_trainable(self) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(self.state.params)))


__all__ = ["COMPUTE_DTYPES", "TrainState", "Trainer", "shard_model", "split_params"]
