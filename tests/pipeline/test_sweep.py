"""The sweep expands a grid, skips finished runs and writes the table and figure grid."""

import csv

import ml_collections
import pytest

from semcal_jax.config_utils import ConfigError
from semcal_jax.pipeline import analysis, model_info, run_config, sweep

from tests.pipeline.fixtures import data_env, tiny_model  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def _grid(model, data):
  c = ml_collections.ConfigDict()
  c.base = run_config.default_config()
  c.base.data.path = str(data)
  c.base.data.n_questions = 6
  c.base.prompts.k_shot = 2
  c.base.sampling.num_samples = 4
  c.base.sampling.max_new_tokens = 5
  c.base.calibration.n_bootstrap = 20
  c.grid = ml_collections.ConfigDict({"models": (str(model),), "datasets": ("triviaqa",),
                                      "styles": ("concise", "sentence"), "seeds": (0, 1)})
  return c


def test_expand_names_every_combination(tiny_model, data_env):
  runs = sweep.expand(_grid(tiny_model, data_env))
  assert len(runs) == 4
  assert {r[0].split("/", 1)[1] for r in runs} == {
      "triviaqa/concise/seed0", "triviaqa/concise/seed1", "triviaqa/sentence/seed0",
      "triviaqa/sentence/seed1"}


def test_run_skip_and_aggregate(tiny_model, data_env, tmp_path, capsys):
  grid = _grid(tiny_model, data_env)
  grid.grid.seeds = (0,)
  sweep.run_grid(grid, str(tmp_path), progress=False)
  sweep.run_grid(grid, str(tmp_path), progress=False)
  assert capsys.readouterr().out.count("finished, skipped") == 2
  out = sweep.aggregate(grid, str(tmp_path))
  table = open(out["markdown"]).read()
  assert table.count("\n") == 4 and "concise" in table and "sentence" in table
  assert (tmp_path / "reliability_grid.png").stat().st_size > 10_000
  rows = list(csv.DictReader(open(out["csv"])))
  # The tiny model: a 2-layer Llama, hidden 32, SmolLM2's vocabulary, tied embeddings.
  vocab = 49152
  params = vocab * 32 + 2 * (32 * 32 * 2 + 2 * 32 * 16 + 3 * 32 * 64 + 2 * 32) + 32
  assert {(r["family"], r["parameters"], r["kind"], r["lineage"]) for r in rows} == {
      ("llama", str(params), "base", tiny_model.name)}
  assert {r["run"] for r in rows} == {rel for rel, _ in sweep.expand(grid)}
  figures = analysis.analyze(str(tmp_path))
  for name in analysis.FIGURES:
    assert (tmp_path / name).stat().st_size > 5_000, name
  md = (tmp_path / "analysis.md").read_text()
  assert md.count("| triviaqa |") == 2 and "| b_confidence | 2 |" in md
  assert set(figures) == {*analysis.FIGURES, "analysis.md"}
  # Worker sharding: two workers split the runs between them.
  runs = sweep.expand(grid)
  assert runs[0::2] + runs[1::2] != [] and len(runs[0::2]) + len(runs[1::2]) == len(runs)


def test_model_info_kind_from_name_or_config():
  assert model_info.default_kind("gs://b/models/Qwen2.5-7B-Instruct") == "instruct"
  assert model_info.default_kind("google/gemma-3-27b-it") == "instruct"
  assert model_info.default_kind("meta-llama/Llama-3.1-8B") == "base"
  assert model_info.default_kind("gemma-3-270m") == "base"
  info = model_info.describe("gs://b/models/Qwen2.5-7B", kind="dpo", lineage="Qwen2.5-7B > dpo")
  assert info["family"] == "qwen2" and 7.0e9 < info["parameters"] < 7.8e9
  assert (info["kind"], info["lineage"]) == ("dpo", "Qwen2.5-7B > dpo")
  assert model_info.describe("/no/such/model") == {"family": "", "parameters": None,
                                                    "kind": "base", "lineage": "model"}
  with pytest.raises(ConfigError, match="'model.kind'"):
    model_info.describe("x", kind="chat")


def test_analysis_names_a_missing_table(tmp_path):
  with pytest.raises(ConfigError, match="results.csv does not exist"):
    analysis.analyze(str(tmp_path))
