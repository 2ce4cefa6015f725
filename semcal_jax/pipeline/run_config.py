"""The calibration run's config: defaults, validation, and what fixes its samples.

A run is `model x data set x prompt style x sampling settings`. `default_config()`
gives every field; config files in `configs/` start from it. `validate` checks
a config before anything heavy happens and raises `config_utils.ConfigError`
with one line naming the bad key. `fingerprint` is the part of the config that
determines the samples (model, data, prompts, sampling) plus a hash of the data
files' names and bytes (`data.content`), so that a data file edited in place is
a new input; a workdir refuses a config whose fingerprint differs from the one
it was started with. Batch sizes
are not part of it: the sampler is batch-invariant, so a run may resume with
other batch sizes and still give the same samples.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import pathlib

import ml_collections

from semcal_jax import config_utils
from semcal_jax.config_utils import ConfigError
from semcal_jax.data import prompts as prompts_lib

# Data set names accepted in configs -> (builder name, folder under ../shared/data,
# default collapsing function).
DATASETS = {
    "triviaqa": ("trivia_qa", "triviaqa", "normalized"),
    "trivia_qa": ("trivia_qa", "triviaqa", "normalized"),
    "gsm8k": ("gsm8k", "gsm8k", "numeric"),
    "svamp": ("svamp", "svamp", "numeric"),
    "math": ("math", "math", "math"),
    "math500": ("math500", "math500", "math"),
    # TruthfulQA's references are sentences: equivalence is the judge's call.
    "truthfulqa": ("truthful_qa", "truthfulqa", "judge"),
    "truthful_qa": ("truthful_qa", "truthfulqa", "judge"),
    "nq_open": ("nq_open", "nq_open", "normalized"),
    "simple_qa": ("simple_qa", "simple_qa", "normalized"),
    "simpleqa": ("simple_qa", "simple_qa", "normalized"),
    "openmathinstruct2": ("openmathinstruct2", "openmathinstruct2", "math"),
}
RULES = ("", "normalized", "numeric", "math", "judge")
ESTIMATORS = ("plurality", "heldout")
UNPARSED = ("class", "exclude")
DTYPES = ("float32", "bfloat16")
MODEL_KINDS = ("base", "instruct", "sft", "dpo", "rl")
# Fields that do not change the samples (excluded from the fingerprint).
_NOT_FINGERPRINTED = {"sampling": ("max_rows",), "model": ("kind", "lineage")}
# Fields that change the samples only when set: FSDP splits the hidden-dimension
# contractions over 'data', which changes their summation order (log-probs move in the
# last bits, and a draw that falls that close to a CDF boundary takes the other token).
# Off, they are left out, so runs recorded before the field existed still match.
_RECORDED_WHEN_SET = (("model", "fsdp"),)


def shared_data_dir() -> str:
  """`../shared/data` next to the repository (overridable: $SEMCAL_SHARED_DATA)."""
  env = os.environ.get("SEMCAL_SHARED_DATA")
  if env:
    return env
  return os.fspath(pathlib.Path(__file__).resolve().parents[3] / "shared" / "data")


def default_config() -> ml_collections.ConfigDict:
  """Every field of a calibration run, with defaults."""
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict({
      "spec": "gemma-3-270m",  # named model, HF folder, .gguf file (local or gs://)
      "dtype": "float32",
      "mesh_model": 1,  # tensor-parallel devices; data parallel over the rest
      "fsdp": False,  # also shard the hidden dimension over the 'data' axis
      # For the tables only (not in the fingerprint): what made the checkpoint, one of
      # base / instruct / sft / dpo / rl ("" = from its name), and where it comes from.
      "kind": "",
      "lineage": "",
  })
  c.data = ml_collections.ConfigDict({
      "name": "triviaqa",
      "path": "",  # "" = ../shared/data/<folder>; a file or folder, local or gs://
      "split": "",  # "" = test, else validation, else train
      "n_questions": 100,  # 0 = all
      "seed": 0,  # subsampling seed
  })
  c.prompts = prompts_lib.default_config()
  c.sampling = ml_collections.ConfigDict({
      "num_samples": 20,
      "max_new_tokens": 0,  # 0 = the style's budget (prompts.styles.<style>.max_new_tokens)
      "temperature": 1.0,
      "top_k": 0,  # 0 = off (the paper samples the full distribution)
      "top_p": 1.0,  # 1.0 = off
      "seed": 0,
      "row_chunk": 64,  # batch-invariant matmul block (0 = plain, not batch-invariant)
      "max_rows": 256,  # questions x samples per compiled batch (not in the fingerprint)
  })
  c.collapse = ml_collections.ConfigDict({
      "rule": "",  # "" = the data set's default (normalized / numeric / math); or "judge"
      "judge_model": "smollm2-135m-instruct",  # any model spec: named, HF folder, .gguf, gs://
      "judge_dtype": "float32",
      "judge_mesh_model": 1,  # the judge sharded over this many of host 0's devices
  })
  c.calibration = ml_collections.ConfigDict({
      "estimator": "plurality",
      "unparsed": "class",
      "n_bootstrap": 1000,
      "n_bins": 15,
      "top_k": 3,
      "seed": 0,
  })
  # The uncertainty methods that need the model again (p_true, verbalized); the
  # sample-based ones are always in the report.
  c.uncertainty = ml_collections.ConfigDict({
      "self_assessment": False,
      "p_true_shots": 4,  # few-shot examples in the p(True) prompt
      "verbalized_tokens": 6,  # greedy tokens in which a stated confidence is looked for
      "min_parsed": 0.5,  # share of questions with a stated number, else 'verbalized' is skipped
  })
  return c


def dataset_info(cfg) -> tuple[str, str, str]:
  return DATASETS[cfg.data.name]


def data_path(cfg) -> str:
  return cfg.data.path or os.path.join(shared_data_dir(), dataset_info(cfg)[1])


def rule(cfg) -> str:
  return cfg.collapse.rule or dataset_info(cfg)[2]


def max_new_tokens(cfg) -> int:
  return cfg.sampling.max_new_tokens or cfg.prompts.styles[cfg.prompts.style].max_new_tokens


def stop_strings(cfg) -> tuple[str, ...]:
  style = cfg.prompts.styles[cfg.prompts.style]
  return tuple(style.stop if cfg.prompts.format == "base" else style.chat_stop)


def _fail(key, message):
  raise ConfigError(f"config key {key!r}: {message}")


def validate(cfg, *, check_files: bool = True) -> None:
  """Raises ConfigError (one line, naming the key) for any bad value."""
  if cfg.data.name not in DATASETS:
    _fail("data.name", f"unknown data set {cfg.data.name!r}; known: "
          f"{', '.join(sorted(DATASETS))}")
  try:
    prompts_lib.validate(cfg.prompts)
  except ValueError as e:
    raise ConfigError(f"config key {e}") from None
  s = cfg.sampling
  for key, value, ok, what in (
      ("sampling.num_samples", s.num_samples, s.num_samples >= 1, "an int >= 1"),
      ("sampling.max_new_tokens", s.max_new_tokens, s.max_new_tokens >= 0, "an int >= 0"),
      ("sampling.temperature", s.temperature, s.temperature > 0, "a number > 0"),
      ("sampling.top_k", s.top_k, s.top_k >= 0, "an int >= 0 (0 = off)"),
      ("sampling.top_p", s.top_p, 0 < s.top_p <= 1, "a number in (0, 1]"),
      ("sampling.row_chunk", s.row_chunk, s.row_chunk >= 0, "an int >= 0"),
      ("sampling.max_rows", s.max_rows, s.max_rows >= 1, "an int >= 1"),
      ("data.n_questions", cfg.data.n_questions, cfg.data.n_questions >= 0, "an int >= 0"),
      ("model.mesh_model", cfg.model.mesh_model, cfg.model.mesh_model >= 1, "an int >= 1"),
      ("collapse.judge_mesh_model", cfg.collapse.judge_mesh_model,
       cfg.collapse.judge_mesh_model >= 1, "an int >= 1"),
      ("calibration.n_bootstrap", cfg.calibration.n_bootstrap, cfg.calibration.n_bootstrap >= 0,
       "an int >= 0"),
      ("calibration.n_bins", cfg.calibration.n_bins, cfg.calibration.n_bins >= 1, "an int >= 1"),
      ("calibration.top_k", cfg.calibration.top_k, cfg.calibration.top_k >= 1, "an int >= 1"),
      ("uncertainty.p_true_shots", cfg.uncertainty.p_true_shots,
       cfg.uncertainty.p_true_shots >= 0, "an int >= 0"),
      ("uncertainty.verbalized_tokens", cfg.uncertainty.verbalized_tokens,
       cfg.uncertainty.verbalized_tokens >= 1, "an int >= 1"),
      ("uncertainty.min_parsed", cfg.uncertainty.min_parsed,
       0 <= cfg.uncertainty.min_parsed <= 1, "a share in [0, 1]"),
  ):
    if not ok:
      _fail(key, f"expected {what}, got {value!r}")
  for key, value in (("model.fsdp", cfg.model.fsdp),
                     ("uncertainty.self_assessment", cfg.uncertainty.self_assessment)):
    if not isinstance(value, bool):
      _fail(key, f"expected true or false, got {value!r}")
  for key, value, allowed in (("model.dtype", cfg.model.dtype, DTYPES),
                              ("model.kind", cfg.model.kind, ("",) + MODEL_KINDS),
                              ("collapse.rule", cfg.collapse.rule, RULES),
                              ("collapse.judge_dtype", cfg.collapse.judge_dtype, DTYPES),
                              ("calibration.estimator", cfg.calibration.estimator, ESTIMATORS),
                              ("calibration.unparsed", cfg.calibration.unparsed, UNPARSED)):
    if value not in allowed:
      _fail(key, f"expected one of {allowed}, got {value!r}")
  if check_files:
    _check_files(cfg)


def _check_files(cfg) -> None:
  """The data path and model spec exist, local or remote (nothing is downloaded)."""
  from semcal_jax import storage  # pylint: disable=g-import-not-at-top
  from semcal_jax.models import registry  # pylint: disable=g-import-not-at-top
  path = data_path(cfg)
  try:
    found = storage.exists(path)
  except OSError as e:  # StorageError included: an unsupported URL, no access
    _fail("data.path", f"{path}: {e}")
  if not found:
    _fail("data.path", f"{path} does not exist (data set {cfg.data.name!r})")
  try:
    registry.resolve(cfg.model.spec, fetch=False)
  except registry.ModelNotFoundError as e:
    _fail("model.spec", str(e))


def fingerprint(cfg) -> dict:
  """The config fields that determine the samples, as a JSON-able dict, with
  `data.content`: the data files' hash (`data.content_hash`).

  Raises:
    ConfigError: the data path has no data files (naming `data.path`).
  """
  from semcal_jax import data as data_lib  # pylint: disable=g-import-not-at-top
  d = {k: copy.deepcopy(cfg[k].to_dict()) for k in ("model", "data", "prompts", "sampling")}
  for section, keys in _NOT_FINGERPRINTED.items():
    for key in keys:
      d[section].pop(key, None)
  for section, key in _RECORDED_WHEN_SET:
    if not d[section].get(key):
      d[section].pop(key, None)
  d["data"]["path"] = data_path(cfg)
  try:
    d["data"]["content"] = data_lib.content_hash(dataset_info(cfg)[0], data_path(cfg))
  except FileNotFoundError as e:
    _fail("data.path", str(e))
  d["sampling"]["max_new_tokens"] = max_new_tokens(cfg)
  return json.loads(json.dumps(d))


def digest(fp: dict) -> str:
  """12 hex digits identifying a fingerprint (recorded in report.json)."""
  return hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:12]


differences = config_utils.differences  # dotted keys whose values differ
