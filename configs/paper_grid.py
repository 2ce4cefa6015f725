"""The paper's grid on Cloud TPU: base vs tuned models x data sets x styles.

Models are Hugging Face folders copied to a bucket (nothing is downloaded at run
time): set `models_root` to the gs:// (or local) folder that holds one
sub-folder per checkpoint, named like the HF id (e.g. Qwen2.5-7B-Instruct), and
`data_root` to the folder that holds the data sets (triviaqa/, gsm8k/, math/,
simple_qa/, openmathinstruct2/), e.g. gs://my-bucket/semcal/data.

  python experiments/sweep.py --config=configs/paper_grid.py:models_root=gs://b/models,data_root=gs://b/data \
      --workdir=gs://b/semcal/paper --worker_index=$WORKER --num_workers=$WORKERS

Argument keys: models_root, data_root, family (all, qwen, llama, gemma, mistral),
n_questions (default 1000), num_samples (default 50), slice (default v5e-16).

`per_model` gives each model the tensor parallelism (`model.mesh_model`), FSDP
(`model.fsdp`) and batch (`sampling.max_rows`) of `SETTINGS[slice]`, chosen with the planner so
that every data set x style (cot: 512 new tokens) fits the slice, the fastest
setting by its roofline estimate; check a slice before launching:

  python experiments/plan_tpu.py --config=configs/paper_grid.py:slice=v4-32

On v5e-16 the 70B/72B models need all 16 chips for their weights, but a 16-way
'model' axis would replicate their 8 KV heads (too much cache in the cot style):
they run with `model.fsdp` on a 2 x 8 mesh (weights sharded 16 ways, one KV
head per chip, the rows split over 'data'). v4-32 fits them on 8-way meshes.
"""

import ml_collections

from semcal_jax import config_utils
from semcal_jax.models import registry
from semcal_jax.pipeline import run_config, sweep

FAMILIES = {
    "qwen": [k for k in registry.PAPER_CHECKPOINTS if k.startswith("qwen2.5")],
    "llama": [k for k in registry.PAPER_CHECKPOINTS if k.startswith("llama")],
    "gemma": [k for k in registry.PAPER_CHECKPOINTS if k.startswith("gemma")],
    "mistral": ["mistral-7b-v0.1", "zephyr-7b-sft-full", "zephyr-7b-dpo-full"],
}
DATASETS = ("triviaqa", "simple_qa", "gsm8k", "openmathinstruct2", "math")
STYLES = ("concise", "sentence", "cot")

# (model.mesh_model, sampling.max_rows[, model.fsdp]) per architecture and slice: the fastest
# setting by experiments/plan_tpu.py's estimate at which every cell fits (prompts <= 1024
# tokens, M = 50); FSDP only where nothing else fits, since the estimate leaves out the
# time its weight gathers take.
SETTINGS = {
    "v5e-16": {"Qwen2.5-0.5B": (2, 2048), "Qwen2.5-1.5B": (2, 1024), "Qwen2.5-3B": (2, 1024),
               "Qwen2.5-7B": (4, 512), "Qwen2.5-14B": (8, 512), "Qwen2.5-32B": (8, 256),
               "Qwen2.5-72B": (8, 200, True), "Llama-3.1-8B": (8, 1024),
               "Llama-3.1-70B": (8, 200, True),
               "gemma-3-270m": (1, 2048), "gemma-3-1b": (1, 2048), "gemma-3-4b": (4, 256),
               "gemma-3-12b": (8, 512), "gemma-3-27b": (16, 256), "Mistral-7B": (8, 1024)},
    "v4-32": {"Qwen2.5-0.5B": (2, 2048), "Qwen2.5-1.5B": (2, 2048), "Qwen2.5-3B": (2, 2048),
              "Qwen2.5-7B": (2, 1024), "Qwen2.5-14B": (8, 2048), "Qwen2.5-32B": (8, 1024),
              "Qwen2.5-72B": (8, 512), "Llama-3.1-8B": (8, 2048), "Llama-3.1-70B": (8, 512),
              "gemma-3-270m": (1, 2048), "gemma-3-1b": (1, 2048), "gemma-3-4b": (4, 512),
              "gemma-3-12b": (8, 1024), "gemma-3-27b": (16, 512), "Mistral-7B": (8, 2048)},
}
SETTINGS["v5litepod-16"] = SETTINGS["v5e-16"]
# (judge, chips of one host): v5e hosts hold 4 x 16 GB (Qwen2.5-14B-Instruct in bf16 is
# 30 GB), v4 hosts 4 x 32 GB (Qwen2.5-32B-Instruct is 66 GB).
JUDGES = {"v5e-16": ("qwen2.5-14b-instruct", 4), "v5litepod-16": ("qwen2.5-14b-instruct", 4),
          "v4-32": ("qwen2.5-32b-instruct", 4)}


def architecture(folder: str) -> str:
  """The SETTINGS key of a checkpoint folder: tuned and Math variants share their base's."""
  name = folder.replace("-Instruct", "").replace("Math-", "")
  if name.startswith("gemma-3-"):
    return name.rsplit("-", 1)[0]  # -pt / -it
  if name.startswith(("zephyr-7b", "Mistral-7B")):
    return "Mistral-7B"
  return name


def get_config(arg=None):
  arg = config_utils.parse_arg(arg, models_root="gs://YOUR_BUCKET/models",
                               data_root="gs://YOUR_BUCKET/data", family="all",
                               n_questions=1000, num_samples=50, slice="v5e-16")
  names = sum(FAMILIES.values(), []) if arg.family == "all" else FAMILIES[arg.family]
  c = ml_collections.ConfigDict()
  c.base = run_config.default_config()
  c.base.model.dtype = "bfloat16"
  c.base.data.n_questions = arg.n_questions
  c.base.sampling.num_samples = arg.num_samples
  c.base.sampling.max_rows = 2048
  c.grid = ml_collections.ConfigDict({
      "models": tuple(f"{arg.models_root}/{registry.PAPER_CHECKPOINTS[n].split('/')[-1]}"
                      for n in names),
      "datasets": DATASETS,
      "styles": STYLES,
      "seeds": (0,),
      "chat_models": ("instruct", "-it", "zephyr"),
  })
  c.data_root = arg.data_root  # each run reads <data_root>/<data set folder>
  c.slice = arg.slice  # what per_model is sized for (experiments/plan_tpu.py)
  c.plan = ml_collections.ConfigDict({"prompt_tokens": 1024})  # longest prompt planned for
  settings = SETTINGS.get(arg.slice, {})
  per_model = {}
  for folder in (m.split("/")[-1] for m in c.grid.models):
    if architecture(folder) in settings:
      mesh_model, max_rows, fsdp = (*settings[architecture(folder)], False)[:3]
      per_model[sweep.per_model_key(folder)] = {"model": {"mesh_model": mesh_model,
                                                          "fsdp": fsdp},
                                                "sampling": {"max_rows": max_rows}}
  c.per_model = ml_collections.ConfigDict(per_model)
  # The strongest instruct judge one host of the slice holds (the report, and so the
  # judge, runs on host 0's devices): bf16 weights plus the judge's KV cache.
  judge, judge_chips = JUDGES.get(arg.slice, ("qwen2.5-7b-instruct", 4))
  judge_folder = registry.PAPER_CHECKPOINTS[judge].split("/")[-1]
  c.base.collapse.judge_model = f"{arg.models_root}/{judge_folder}"
  c.base.collapse.judge_dtype = "bfloat16"
  c.base.collapse.judge_mesh_model = judge_chips
  return c
