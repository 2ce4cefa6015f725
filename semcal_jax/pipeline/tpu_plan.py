"""Will a config fit a TPU slice? Per-chip memory, the mesh, a decode-speed estimate, the fix.

    plans = tpu_plan.plan(config, tpu_chips.parse_slice("v5e-16"))
    print(tpu_plan.table(plans, slice_))
    for p in plans: p.error   # None, or one line naming the setting that fixes it

A config is a sweep grid (`base` + `grid`, e.g. `configs/paper_grid.py`: every
run of `sweep.expand`, per-model overrides included), a single calibration
run (`configs/local.py`) or a fine-tuning run (`configs/finetune_tpu.py`:
optimizer state, gradients and activations too). Each model is planned over
all its cells (data set x style); the table shows its worst cell.

Mesh, as `pipeline.run.sampling_mesh` builds it: a run with `model.mesh_model = K`
uses one host's chips as a `(chips_per_host / K) x K` mesh (each host runs its
own), or, when K is more than one host has, one `(chips / K) x K` mesh over
all the slice's chips. `model.fsdp` shards the weights over 'data' too
(`tpu_memory`), which lets a model that needs all the chips keep its KV heads
split over a smaller 'model' axis.
A cell fits when its bytes per chip stay within `USABLE_FRACTION` of the
chip's HBM (the rest is left to XLA's own buffers and fragmentation).
Speeds are roofline *estimates* (`tpu_memory.decode_roofline`), not measurements.
"""

from __future__ import annotations

import dataclasses
import os

from semcal_jax.config_utils import ConfigError
from semcal_jax.models import paper_architectures, registry
from semcal_jax.models.config import ModelConfig
from semcal_jax.pipeline import run_config, tpu_chips, tpu_memory

USABLE_FRACTION = 0.9
QUESTION_TOKENS = 512  # allowance for the question itself in an estimated prompt
CHAT_TOKENS = 64  # allowance for a chat template's framing
CHARS_PER_TOKEN = 3  # conservative for English BPE vocabularies
GIB = tpu_chips.GIB
_KEYS = {v.split("/")[-1]: k for k, v in registry.PAPER_CHECKPOINTS.items()}


def model_config(spec: str) -> tuple[str, ModelConfig]:
  """`(display name, ModelConfig)` of a model spec, read without loading weights.

  A paper checkpoint (its registry key, or any folder whose last component is its
  HF name, local or gs://) comes from `paper_architectures`; otherwise a local
  HF folder's `config.json` or a `.gguf` file's metadata (named models too)."""
  base = os.path.basename(os.fspath(spec).rstrip("/"))
  if spec in registry.PAPER_CHECKPOINTS or base in paper_architectures.ARCHITECTURES:
    return _KEYS.get(base, spec), paper_architectures.config_for(base if base in _KEYS else spec)
  if "://" in spec:
    raise ConfigError(f"config key 'model.spec': {spec} is not one of the paper's checkpoints "
                      "(by its last path component); plan a local copy of it instead")
  try:
    path = registry.resolve(spec)
  except registry.ModelNotFoundError as e:
    raise ConfigError(f"config key 'model.spec': {e}") from None
  if path.is_file():
    from semcal_jax.models import gguf_metadata  # pylint: disable=g-import-not-at-top
    meta, tensors = gguf_metadata.read_header(path)
    return base, ModelConfig.from_gguf(meta, tensor_names=[t.name for t in tensors])
  config_json = path / "config.json"
  if not config_json.is_file():
    raise ConfigError(f"config key 'model.spec': {config_json} does not exist")
  from semcal_jax.models import hf_loader  # pylint: disable=g-import-not-at-top
  return base, ModelConfig.from_hf(hf_loader.read_json_object(config_json))


@dataclasses.dataclass(frozen=True)
class Mesh:
  """The mesh of one run: `data x model` chips over `hosts` hosts; `groups` such
  meshes fit the slice side by side."""
  data: int
  model: int
  hosts: int
  groups: int


def mesh_for(slice_: tpu_chips.Slice, mesh_model: int) -> Mesh | None:
  """The mesh of `model.mesh_model = mesh_model` on the slice, or None if impossible:
  this host's chips when they are enough, else all chips of the slice (the rule of
  `pipeline.run.sampling_mesh`)."""
  per_host = slice_.chips_per_host
  if mesh_model < 1:
    return None
  if mesh_model <= per_host:
    if per_host % mesh_model:
      return None
    return Mesh(per_host // mesh_model, mesh_model, 1, slice_.hosts)
  if slice_.chips % mesh_model:
    return None
  return Mesh(slice_.chips // mesh_model, mesh_model, slice_.hosts, 1)


def mesh_choices(slice_: tpu_chips.Slice) -> list[int]:
  """Every `mesh_model` the slice allows, ascending."""
  return [k for k in range(1, slice_.chips + 1) if mesh_for(slice_, k) is not None]


def prompt_tokens(cfg, override: int = 0, dataset: str = "") -> int:
  """The longest prompt (tokens) a run must hold: `override`, else an estimate from the
  rendered exemplars (characters / CHARS_PER_TOKEN) plus a question and chat allowance.
  `dataset` defaults to the run config's data set."""
  if override:
    return int(override)
  from semcal_jax.data import prompts as prompts_lib  # pylint: disable=g-import-not-at-top
  from semcal_jax.data.question import Question  # pylint: disable=g-import-not-at-top
  p = cfg.prompts.copy_and_resolve_references()
  with p.unlocked():
    p.format = "base"
  dataset = dataset or run_config.dataset_info(cfg)[0]
  text = prompts_lib.Prompter(p, dataset=dataset).render(
      Question("plan", "?", ("?",))).text
  extra = CHAT_TOKENS if cfg.prompts.format == "chat" else 0
  return -(-len(text) // CHARS_PER_TOKEN) + QUESTION_TOKENS + extra


def bucket(n: int) -> int:
  """The sampler's prompt bucket (powers of two from 16) for a prompt of n tokens."""
  return max(16, 1 << (n - 1).bit_length())


@dataclasses.dataclass(frozen=True)
class Cell:
  """One run of a model (a data set and style) at one setting."""
  label: str  # "<data set>/<style>" or "train"
  total: int  # bytes per chip
  weights: int
  kv_cache: int
  activations: int
  optimizer: int = 0  # optimizer state + gradients (+ reference copy), training only
  rows: int = 0
  step_seconds: float = 0.0  # estimated decode step
  tokens_per_second: float = 0.0  # estimated, whole slice
  hbm_fraction: float = 0.0  # estimated tokens/s / the HBM-bandwidth limit
  plain_hbm_fraction: float = 0.0  # the same without batch-invariant matmuls


@dataclasses.dataclass
class ModelPlan:
  """A model's cells at its configured setting, and the fix when one does not fit."""
  name: str
  params: int
  dtype: str
  mesh_model: int
  max_rows: int
  mesh: Mesh | None
  cells: list[Cell]
  limit: float  # usable bytes per chip
  error: str | None = None
  fsdp: bool = False  # weights sharded over 'data' too

  @property
  def worst(self) -> Cell | None:
    return max(self.cells, key=lambda c: c.total) if self.cells else None

  @property
  def fits(self) -> bool:
    return self.mesh is not None and all(c.total <= self.limit for c in self.cells)


@dataclasses.dataclass(frozen=True)
class _Run:
  """What sizing a sampling cell needs from a run config."""
  label: str
  num_samples: int
  max_new_tokens: int
  prompt_bucket: int
  row_chunk: int
  n_questions: int


def sampling_cells(mcfg: ModelConfig, runs: list[_Run], *, dtype: str, mesh: Mesh,
                   max_rows: int, chip: tpu_chips.Chip, fsdp: bool = False) -> list[Cell]:
  """One Cell per run at this mesh and `max_rows` (tokens/s over all the slice's meshes)."""
  cells = []
  for r in runs:
    mem = tpu_memory.sampling_memory(
        mcfg, dtype=dtype, data=mesh.data, model=mesh.model, num_samples=r.num_samples,
        max_rows=max_rows, max_new_tokens=r.max_new_tokens, prompt_bucket=r.prompt_bucket,
        row_chunk=r.row_chunk, n_questions=r.n_questions, fsdp=fsdp)
    roof, plain = (tpu_memory.decode_roofline(
        mcfg, mem, dtype=dtype, data=mesh.data, model=mesh.model,
        hbm_bytes_per_s=chip.hbm_bytes_per_s, peak_flops=chip.bf16_flops, row_chunk=chunk)
                   for chunk in (r.row_chunk, None))
    cells.append(Cell(r.label, mem.total, mem.weights, mem.kv_cache, mem.activations,
                      rows=mem.rows, step_seconds=roof.step_seconds,
                      tokens_per_second=roof.tokens_per_second * mesh.groups,
                      hbm_fraction=roof.hbm_fraction, plain_hbm_fraction=plain.hbm_fraction))
  return cells


def _fits_at(mcfg, runs, slice_, limit, dtype, k, rows, fsdp=False) -> bool:
  mesh = mesh_for(slice_, k)
  return mesh is not None and all(
      c.total <= limit for c in sampling_cells(mcfg, runs, dtype=dtype, mesh=mesh, max_rows=rows,
                                               chip=slice_.chip, fsdp=fsdp))


def _fsdp_fix(mcfg, runs, slice_, limit, dtype, k0, rows) -> str | None:
  """`model.fsdp=true` (with the mesh_model it needs, and the mesh) if it makes every cell
  fit: the meshes with a 'data' axis, from the configured mesh_model down, then up."""
  choices = mesh_choices(slice_)
  for k in [k for k in reversed(choices) if k <= k0] + [k for k in choices if k > k0]:
    mesh = mesh_for(slice_, k)
    if mesh.data > 1 and _fits_at(mcfg, runs, slice_, limit, dtype, k, rows, fsdp=True):
      head = "model.fsdp=true" + ("" if k == k0 else f" and model.mesh_model={k}")
      return f"{head} (a {mesh.data} x {k} mesh)"
  return None


def sampling_fix(mcfg, runs, slice_, limit, dtype, k0, rows0, fsdp0=False) -> str | None:
  """The one setting (or pair) that makes every cell fit, as `key=value` text; None if
  nothing on this slice does. Tried in order: bf16 weights, more model parallelism,
  FSDP, fewer rows per batch (powers of two) on the smallest mesh that leaves room."""
  if dtype == "float32" and _fits_at(mcfg, runs, slice_, limit, "bfloat16", k0, rows0, fsdp0):
    return "model.dtype=bfloat16"
  ks = [k for k in mesh_choices(slice_) if k >= k0]
  for k in ks:
    if k != k0 and _fits_at(mcfg, runs, slice_, limit, dtype, k, rows0, fsdp0):
      return f"model.mesh_model={k}"
  if not fsdp0:
    fix = _fsdp_fix(mcfg, runs, slice_, limit, dtype, k0, rows0)
    if fix:
      return fix
  for k in ks:
    rows = 1 << (max(rows0, 1).bit_length() - 1)
    while rows >= 1:
      if rows < rows0 and _fits_at(mcfg, runs, slice_, limit, dtype, k, rows, fsdp0):
        fix = f"sampling.max_rows={rows}"
        return fix if k == k0 else f"model.mesh_model={k} and {fix}"
      rows //= 2
  return None


def _gib(n: float) -> str:
  return f"{n / GIB:.1f}"


def larger_slice(mcfg, runs, slice_, dtype, k0, rows0, fsdp0=False) -> str:
  """`" (v5e-64 with model.mesh_model=64)"`: the smallest slice of the same chip, up to
  8x the chips, on which the model fits (with the fix it needs there), or ""."""
  limit = slice_.chip.hbm_bytes * USABLE_FRACTION
  for factor in (2, 4, 8):
    gen = slice_.name.rsplit("-", 1)[0]
    bigger = tpu_chips.parse_slice(f"{gen}-{slice_.chips * factor * slice_.chip.cores_per_chip}")
    if _fits_at(mcfg, runs, bigger, limit, dtype, k0, rows0, fsdp0):
      return f" ({bigger.name} fits it as it is)"
    fix = sampling_fix(mcfg, runs, bigger, limit, dtype, k0, rows0, fsdp0)
    if fix:
      return f" ({bigger.name} with {fix})"
  return ""


def _describe_failure(plan: ModelPlan, slice_, fix: str | None, larger: str = "") -> str:
  where = (f"{plan.name} does not fit {slice_.name} with mesh_model={plan.mesh_model}"
           + (" and fsdp" if plan.fsdp else ""))
  if plan.mesh is None:
    choices = ", ".join(map(str, mesh_choices(slice_)))
    head = (f"error: {plan.name}: model.mesh_model={plan.mesh_model} is not possible on "
            f"{slice_.name} ({slice_.chips} chips, {slice_.chips_per_host} per host; "
            f"possible: {choices})")
    return head + (f": set {fix}" if fix else f"; no setting fits it: use a larger slice{larger}")
  worst = plan.worst
  usage = (f"({_gib(worst.total)} GiB per chip of {_gib(slice_.chip.hbm_bytes)} GiB, "
           f"{worst.label})")
  if fix:
    return f"error: {where} {usage}: set {fix}"
  return (f"error: {where} {usage}: no mesh_model / fsdp / max_rows / dtype on {slice_.name} fits "
          f"it; use a larger slice{larger}")


def plan_runs(run_cfgs, slice_: tpu_chips.Slice, prompt_override: int = 0) -> list[ModelPlan]:
  """One ModelPlan per model of a list of run configs (e.g. `sweep.expand`'s)."""
  by_model: dict[str, list] = {}
  for cfg in run_cfgs:
    by_model.setdefault(cfg.model.spec, []).append(cfg)
  limit = slice_.chip.hbm_bytes * USABLE_FRACTION
  plans = []
  for spec, cfgs in by_model.items():
    name, mcfg = model_config(spec)
    first = cfgs[0]
    dtype, k, rows = first.model.dtype, first.model.mesh_model, first.sampling.max_rows
    fsdp = first.model.fsdp
    runs = [_Run(f"{c.data.name}/{c.prompts.style}", c.sampling.num_samples,
                 run_config.max_new_tokens(c), bucket(prompt_tokens(c, prompt_override)),
                 c.sampling.row_chunk, c.data.n_questions) for c in cfgs]
    mesh = mesh_for(slice_, k)
    cells = sampling_cells(mcfg, runs, dtype=dtype, mesh=mesh, max_rows=rows,
                           chip=slice_.chip, fsdp=fsdp) if mesh else []
    plan = ModelPlan(name, mcfg.num_params(), dtype, k, rows, mesh, cells, limit, fsdp=fsdp)
    if not plan.fits:
      k0 = k if mesh else 0  # an impossible mesh: any possible one is a fix
      fix = sampling_fix(mcfg, runs, slice_, limit, dtype, k0, rows, fsdp)
      larger = "" if fix else larger_slice(mcfg, runs, slice_, dtype, k0, rows, fsdp)
      plan.error = _describe_failure(plan, slice_, fix, larger)
    plans.append(plan)
  return plans


def _training_sequences(cfg) -> int:
  """Sequences of one micro-step of a fine-tuning config's objective (whole mesh)."""
  per_step = {"grpo": cfg.rl.questions_per_step * cfg.rl.group_size,
              "dpo": 2 * cfg.dpo.batch_size}.get(cfg.objective, cfg.sft.batch_size)
  return -(-per_step // max(1, cfg.train.grad_accum))


def _training_cell(cfg, mcfg: ModelConfig, data: int, k: int, t: int) -> Cell:
  """State (weights, AdamW, gradients, reference) plus the larger of a micro-step's
  activations and the sampler's cache for rollouts / evaluation, per chip."""
  styles = cfg.prompts.styles
  train_new = cfg.rl.max_new_tokens or styles[cfg.prompts.style].max_new_tokens
  objective = cfg.objective
  mem = tpu_memory.training_memory(
      mcfg, dtype=cfg.model.dtype, compute_dtype=cfg.train.compute_dtype, data=data, model=k,
      fsdp=cfg.model.fsdp, lora_rank=cfg.lora.rank, lora_targets=tuple(cfg.lora.targets),
      needs_reference=objective == "dpo" or (objective == "grpo" and cfg.rl.beta > 0),
      sequences=_training_sequences(cfg), seq_len=t + train_new,
      logit_chunk=cfg.train.logit_chunk)
  eval_style = cfg.eval.style or cfg.prompts.style
  samplers = [(cfg.eval.num_samples, cfg.eval.max_rows,
               cfg.eval.max_new_tokens or styles[eval_style].max_new_tokens)]
  if objective == "grpo":
    samplers.append((cfg.rl.group_size, cfg.rl.questions_per_step * cfg.rl.group_size,
                     train_new))
  cache = max(sum(_sampler_bytes(mcfg, cfg.train.compute_dtype, data, k, m, rows, n, t))
              for m, rows, n in samplers)
  state = mem.optimizer + mem.gradients + mem.reference
  sampling_peak = cache >= mem.activations
  return Cell("train", mem.weights + state + max(mem.activations, cache), mem.weights,
              cache if sampling_peak else 0, 0 if sampling_peak else mem.activations,
              optimizer=state)


def _training_fix(cfg, mcfg, data, k, t, limit) -> str | None:
  """The first of FSDP, more gradient accumulation (x2 .. x64) or LoRA that fits."""
  from semcal_jax import config_utils  # pylint: disable=g-import-not-at-top
  tries = [] if cfg.model.fsdp else [{"model.fsdp": True}]
  accum = max(1, cfg.train.grad_accum)
  tries += [{"train.grad_accum": accum * f} for f in (2, 4, 8, 16, 32, 64)]
  if not cfg.lora.rank:
    tries.append({"lora.rank": 16, "model.dtype": "bfloat16"})
  for overrides in tries:
    trial = config_utils.apply_overrides(cfg.copy_and_resolve_references(), overrides)
    if _training_cell(trial, mcfg, data, k, t).total <= limit:
      return " and ".join(f"{key}={value}" for key, value in overrides.items())
  return None


def plan_training(cfg, slice_: tpu_chips.Slice, prompt_override: int = 0) -> ModelPlan:
  """The plan of a fine-tuning config (`configs/finetune*.py`) on the whole slice."""
  if not cfg.model.spec:
    raise ConfigError("config key 'model.spec': empty; pass --config.model.spec=<folder>/<HF "
                      "name>, e.g. gs://b/models/Qwen2.5-7B")
  name, mcfg = model_config(cfg.model.spec)
  k = cfg.mesh.model
  data = cfg.mesh.data or slice_.chips // max(k, 1)
  mesh = Mesh(data, k, slice_.hosts, 1) if data * k == slice_.chips else None
  limit = slice_.chip.hbm_bytes * USABLE_FRACTION
  plan = ModelPlan(name, mcfg.num_params(), cfg.model.dtype, k, cfg.eval.max_rows, mesh, [],
                   limit, fsdp=cfg.model.fsdp)
  if mesh is None:
    plan.error = (f"error: {name}: mesh data={cfg.mesh.data} x model={k} does not cover the "
                  f"{slice_.chips} chips of {slice_.name}: set mesh.data=0 and a mesh.model "
                  f"that divides {slice_.chips}")
    return plan
  t = bucket(prompt_tokens(cfg, prompt_override, dataset=cfg.data.dataset))
  plan.cells.append(_training_cell(cfg, mcfg, data, k, t))
  if not plan.fits:
    fix = _training_fix(cfg, mcfg, data, k, t, limit)
    plan.error = (f"error: {name} does not fit {slice_.name} with mesh.model={k} "
                  f"({_gib(plan.worst.total)} GiB per chip of {_gib(slice_.chip.hbm_bytes)} GiB, "
                  "training): " + (f"set {fix}" if fix else "use a larger slice"))
  return plan


def _sampler_bytes(mcfg, dtype, data, model, num_samples, max_rows, max_new_tokens, t):
  mem = tpu_memory.sampling_memory(mcfg, dtype=dtype, data=data, model=model,
                                   num_samples=num_samples, max_rows=max_rows,
                                   max_new_tokens=max_new_tokens, prompt_bucket=t)
  return mem.kv_cache, mem.activations


def plan(cfg, slice_: tpu_chips.Slice) -> list[ModelPlan]:
  """Plans of a grid, single-run or fine-tuning config (module docstring)."""
  override = int(cfg.plan.prompt_tokens) if "plan" in cfg else 0
  if "grid" in cfg and "base" in cfg:
    from semcal_jax.pipeline import sweep  # pylint: disable=g-import-not-at-top
    return plan_runs([c for _, c in sweep.expand(cfg)], slice_, override)
  if "objective" in cfg and "train" in cfg:
    return [plan_training(cfg, slice_, override)]
  if "sampling" in cfg and "model" in cfg:
    run_config.validate(cfg, check_files=False)
    return plan_runs([cfg], slice_, override)
  raise ConfigError("config: expected a sweep grid (base + grid), a calibration run (model + "
                    "sampling) or a fine-tuning config (objective + train)")


def table(plans: list[ModelPlan], slice_: tpu_chips.Slice) -> str:
  """A markdown table: one row per model, its worst cell (GiB per chip)."""
  chip = slice_.chip
  head = (f"{slice_.name}: {slice_.chips} x {chip.name} chips ({slice_.chips_per_host} per "
          f"host), {_gib(chip.hbm_bytes)} GiB HBM per chip ({USABLE_FRACTION:.0%} usable), "
          f"{chip.hbm_bytes_per_s / 1e9:.0f} GB/s, {chip.bf16_flops / 1e12:.0f} bf16 TFLOP/s. "
          "GiB per chip of each model's largest cell; step and tokens/s are roofline "
          "estimates, not measurements; 'of HBM limit' is the estimated tokens/s over "
          "that of a step reading every byte once, with the run's batch-invariant row "
          "blocks (each re-reads the weights) and without.\n\n")
  cols = ("model", "params", "dtype", "mesh data x model (hosts)", "rows", "weights", "KV cache",
          "activations", "optimizer + grads", "total", "largest cell", "est. step ms",
          "est. tok/s", "of HBM limit (invariant / plain)", "fits")
  out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
  for p in plans:
    w = p.worst
    mesh = f"{p.mesh.data} x {p.mesh.model} ({p.mesh.hosts})" if p.mesh else f"? x {p.mesh_model}"
    mesh += ", fsdp" if p.fsdp else ""
    vals = [p.name, f"{p.params / 1e9:.2f}B", p.dtype, mesh]
    if w is None:
      vals += [""] * 10
    else:
      vals += [str(w.rows or ""), _gib(w.weights), _gib(w.kv_cache), _gib(w.activations),
               _gib(w.optimizer) if w.label == "train" else "", _gib(w.total), w.label,
               f"{w.step_seconds * 1e3:.1f}" if w.step_seconds else "",
               f"{w.tokens_per_second:,.0f}" if w.tokens_per_second else "",
               f"{w.hbm_fraction:.2f} / {w.plain_hbm_fraction:.2f}" if w.hbm_fraction else ""]
    out.append("| " + " | ".join(vals + ["yes" if p.fits else "NO"]) + " |")
  return head + "\n".join(out) + "\n"
