"""The sweep expands a grid, skips finished runs and writes the table and figure grid."""

import ml_collections
import pytest

from semcal_jax.pipeline import run_config, sweep

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
  # Worker sharding: two workers split the runs between them.
  runs = sweep.expand(grid)
  assert runs[0::2] + runs[1::2] != [] and len(runs[0::2]) + len(runs[1::2]) == len(runs)
