"""The TPU planner: per-chip bytes by hand, the paper grid's settings, fixes, the CLI."""

import json
import pathlib
import subprocess
import sys

import pytest
from flax import nnx

from semcal_jax import config_utils
from semcal_jax.models import paper_architectures, registry, transformer
from semcal_jax.models.config import ModelConfig
from semcal_jax.pipeline import sweep, tpu_chips, tpu_memory, tpu_plan

ROOT = pathlib.Path(__file__).resolve().parents[2]
# V=100, D=8, L=2, H=4, K=2, Dh=2, F=16, tied: 1992 parameters (counted in the tests).
TINY = ModelConfig(family="llama", vocab_size=100, hidden_size=8, num_layers=2, num_heads=4,
                   num_kv_heads=2, head_dim=2, intermediate_size=16)
BIG_SIX = {"qwen2.5-72b", "qwen2.5-72b-instruct", "qwen2.5-math-72b",
           "qwen2.5-math-72b-instruct", "llama-3.1-70b", "llama-3.1-70b-instruct"}


@pytest.mark.parametrize("cfg", [
    TINY.replace(family="qwen2", qkv_bias=True, tie_embeddings=False),
    TINY.replace(family="gemma3", qk_norm=True, num_kv_heads=1)])
def test_param_shapes_are_the_models(cfg):
  model = transformer.abstract_model(cfg)
  real = {".".join(map(str, path)): tuple(v.shape)
          for path, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}
  assert tpu_memory.param_shapes(cfg) == real


def test_weights_per_chip_by_hand():
  # One device: embed 800 + final norm 8 + 2 layers x (q 64, k 32, v 32, o 64, mlp 384, norms 16).
  assert tpu_memory.weight_elements(TINY, 1, 1) == 1992 == TINY.num_params()
  # model=2: vocab, heads, KV heads and MLP halve; norms stay whole.
  assert tpu_memory.weight_elements(TINY, 1, 2) == 400 + 8 + 2 * (32 + 16 + 16 + 32 + 192 + 16)


def test_kv_heads_the_axis_does_not_divide_are_replicated():
  # model=4: 2 KV heads do not split 4 ways, so k and v stay whole (32 each per layer).
  assert tpu_memory.weight_elements(TINY, 1, 4) == 200 + 8 + 2 * (16 + 32 + 32 + 16 + 96 + 16)
  two = tpu_memory.sampling_memory(TINY, dtype="bfloat16", data=1, model=2, num_samples=4,
                                   max_rows=8, max_new_tokens=4, prompt_bucket=16)
  four = tpu_memory.sampling_memory(TINY, dtype="bfloat16", data=1, model=4, num_samples=4,
                                    max_rows=8, max_new_tokens=4, prompt_bucket=16)
  assert (two.kv_heads_per_chip, four.kv_heads_per_chip) == (1, 2)
  assert four.prefill_kv > two.prefill_kv


def test_fsdp_shards_the_hidden_dimension_over_data_too():
  # data=2, model=2: every hidden (D) dimension halves again; norms stay whole.
  # embed 50 x 4, per layer q 4*2*2, k and v 4*1*2, o 2*2*4, mlp 3 x 4*8, norms 16.
  assert tpu_memory.weight_elements(TINY, 2, 2, fsdp=True) == (
      200 + 8 + 2 * (16 + 8 + 8 + 16 + 96 + 16))
  args = dict(dtype="bfloat16", model=2, num_samples=4, max_rows=8, max_new_tokens=4,
              prompt_bucket=16)
  plain = tpu_memory.sampling_memory(TINY, data=2, **args)
  fsdp = tpu_memory.sampling_memory(TINY, data=2, fsdp=True, **args)
  assert fsdp.weights == 528 * 2 and plain.weights == 1016 * 2
  assert fsdp.kv_cache == plain.kv_cache  # KV heads stay on 'model', rows on 'data'
  # A use gathers one layer (q 32, k 16, v 16, o 32, MLP 192, norms 16: 304 elements per
  # device, sharded over 'model' only) or the embedding (400): the larger, counted twice.
  assert tpu_memory.fsdp_gather_bytes(TINY, 2, 2, 2) == 400 * 2
  assert fsdp.activations == plain.activations + 2 * 400 * 2


def test_mesh_follows_the_pipelines_rule():
  v5e = tpu_chips.parse_slice("v5e-16")
  # mesh_model <= chips per host: each host its own mesh; more: one mesh over all chips.
  assert tpu_plan.mesh_for(v5e, 2) == tpu_plan.Mesh(data=2, model=2, hosts=1, groups=4)
  assert tpu_plan.mesh_for(v5e, 8) == tpu_plan.Mesh(data=2, model=8, hosts=4, groups=1)
  assert tpu_plan.mesh_for(v5e, 3) is None and tpu_plan.mesh_for(v5e, 6) is None


def test_kv_cache_per_chip_by_hand():
  # M=4, max_rows=8: P=2 prompts, R=8 rows; T=16, N=4, bf16, 1 KV head per chip (model=2).
  # A cache slot: 2 layers x (k, v) x 1 head x Dh 2 x 2 bytes + a 4-byte position = 20 bytes.
  mem = tpu_memory.sampling_memory(TINY, dtype="bfloat16", data=1, model=2, num_samples=4,
                                   max_rows=8, max_new_tokens=4, prompt_bucket=16, row_chunk=2)
  assert (mem.prompts, mem.rows) == (2, 8)
  rows_state = 8 * 4 * 8  # generated ids and log-probs
  # Prefill: the empty prompt cache, the scan's new one, and the rows' cache.
  assert mem.prefill_kv == 2 * 2 * 16 * 20 + 8 * 4 * 20 + rows_state
  # Decode with a compaction to 4 rows (4 >= row_chunk 2): their own prompt rows and caches too.
  assert mem.decode_kv == 2 * 16 * 20 + 8 * 4 * 20 + rows_state + 4 * ((16 + 4) * 20 + 4 * 8)
  no_compaction = tpu_memory.sampling_memory(
      TINY, dtype="bfloat16", data=1, model=2, num_samples=4, max_rows=8, max_new_tokens=4,
      prompt_bucket=16, row_chunk=64)
  assert no_compaction.decode_kv == 2 * 16 * 20 + 8 * 4 * 20 + rows_state


def test_decode_roofline_by_hand():
  # data=1, model=1, float32: P=2, R=8 rows, T=16, N=4; 2 KV heads, Dh 2, 2 layers.
  mem = tpu_memory.sampling_memory(TINY, dtype="float32", data=1, model=1, num_samples=4,
                                   max_rows=8, max_new_tokens=4, prompt_bucket=16, row_chunk=2)
  kv = (2 * 16 + 8 * 4) * 2 * 2 * 2 * 2 * 4  # slots x layers x (k, v) x heads x Dh x 4 bytes
  once = 1992 * 4 + kv + 8 * 100 * 4  # weights, KV cache, the rows' float32 logits
  matmul = tpu_memory.weight_elements(TINY, 1, 1, matmul_only=True) * 4
  kw = dict(dtype="float32", data=1, model=1, hbm_bytes_per_s=1e3, peak_flops=1e30)
  plain = tpu_memory.decode_roofline(TINY, mem, **kw)
  blocks = tpu_memory.decode_roofline(TINY, mem, row_chunk=2, **kw)
  assert plain.bytes_per_step == once and plain.hbm_fraction == pytest.approx(1.0)
  assert blocks.bytes_per_step == once + 3 * matmul  # 4 row blocks: the weights read 4 times
  assert blocks.hbm_fraction == pytest.approx(once / (once + 3 * matmul))
  assert blocks.hbm_limit_tokens_per_second == plain.hbm_limit_tokens_per_second == 8 / (
      once / 1e3)


def test_slices():
  assert tpu_chips.parse_slice("v4-32").chips == 16
  assert tpu_chips.parse_slice("v5p-64").chips == 32
  v5e = tpu_chips.parse_slice("v5litepod-16")
  assert (v5e.chip.name, v5e.chips, v5e.hosts) == ("v5e", 16, 4)
  assert tpu_chips.parse_slice("v5e-8").hosts == 1
  with pytest.raises(ValueError, match="'v5p-3'"):
    tpu_chips.parse_slice("v5p-3")
  assert set(paper_architectures.ARCHITECTURES) == {
      v.split("/")[-1] for v in registry.PAPER_CHECKPOINTS.values()}


def test_paper_grid_fits_v4_32():
  cfg = config_utils.load("configs/paper_grid.py:slice=v4-32")
  plans = tpu_plan.plan(cfg, tpu_chips.parse_slice("v4-32"))
  assert len(plans) == len(cfg.grid.models)
  assert all(p.fits and p.error is None for p in plans), [p.error for p in plans if p.error]
  by_name = {p.name: p for p in plans}
  assert (by_name["qwen2.5-72b"].mesh.data, by_name["qwen2.5-72b"].mesh.model) == (2, 8)
  assert not any(p.fsdp for p in plans)


def test_paper_grid_fits_v5e_16_with_fsdp_for_70b():
  cfg = config_utils.load("configs/paper_grid.py")
  plans = tpu_plan.plan(cfg, tpu_chips.parse_slice("v5e-16"))
  assert len(plans) == len(cfg.grid.models)
  assert all(p.fits and p.error is None for p in plans), [p.error for p in plans if p.error]
  assert {p.name for p in plans if p.fsdp} == BIG_SIX
  for p in plans:
    if p.name in BIG_SIX:  # weights over all 16 chips, one KV head per chip
      assert p.mesh == tpu_plan.Mesh(data=2, model=8, hosts=4, groups=1)
  runs = sweep.expand(cfg)
  assert {c.model.fsdp for _, c in runs if c.model.spec.endswith("/Llama-3.1-70B")} == {True}


def test_70b_without_fsdp_on_v5e_16_names_fsdp():
  # 16-way tensor parallelism replicates the 8 KV heads: the cot cache does not fit.
  cfg = config_utils.load("configs/paper_grid.py:family=llama",
                          {"per_model.Llama_3_1_70B.model.fsdp": False,
                           "per_model.Llama_3_1_70B.model.mesh_model": 16,
                           "per_model.Llama_3_1_70B.sampling.max_rows": 64})
  plans = {p.name: p for p in tpu_plan.plan(cfg, tpu_chips.parse_slice("v5e-16"))}
  plan = plans["llama-3.1-70b"]
  assert all(c.total <= plan.limit for c in plan.cells if not c.label.endswith("/cot"))
  assert plan.error == ("error: llama-3.1-70b does not fit v5e-16 with mesh_model=16 (19.1 GiB "
                        "per chip of 16.0 GiB, triviaqa/cot): set model.fsdp=true and "
                        "model.mesh_model=8 (a 2 x 8 mesh)")
  assert plans["llama-3.1-70b-instruct"].fits


def test_oversized_setting_names_the_fix():
  cfg = config_utils.load("configs/paper_grid.py:slice=v4-32,family=qwen",
                          {"per_model.Qwen2_5_72B.model.mesh_model": 4})
  plans = {p.name: p for p in tpu_plan.plan(cfg, tpu_chips.parse_slice("v4-32"))}
  assert plans["qwen2.5-72b"].error.startswith(
      "error: qwen2.5-72b does not fit v4-32 with mesh_model=4 (")
  assert plans["qwen2.5-72b"].error.endswith(": set model.mesh_model=8")
  assert plans["qwen2.5-72b-instruct"].fits  # the override is keyed by its folder only
  runs = sweep.expand(cfg)
  assert {c.model.mesh_model for _, c in runs if c.model.spec.endswith("/Qwen2.5-72B")} == {4}


def test_float32_weights_that_fit_in_bfloat16_name_the_dtype():
  cfg = config_utils.load("configs/local.py:model=gs://b/models/Qwen2.5-7B,style=concise",
                          {"model.dtype": "float32"})
  (plan,) = tpu_plan.plan(cfg, tpu_chips.parse_slice("v6e-1"))
  assert not plan.fits
  assert plan.error.endswith(": set model.dtype=bfloat16"), plan.error


def test_local_folder_is_read_from_its_config(tmp_path):
  folder = tmp_path / "my-model"
  folder.mkdir()
  (folder / "config.json").write_text(json.dumps({
      "model_type": "llama", "vocab_size": 100, "hidden_size": 8, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 16,
      "tie_word_embeddings": True}))
  cfg = config_utils.load(f"configs/local.py:model={folder}")
  (plan,) = tpu_plan.plan(cfg, tpu_chips.parse_slice("v5e-8"))
  assert (plan.name, plan.params, plan.fits) == ("my-model", 1992, True)


def test_cli_exit_codes():
  cmd = [sys.executable, "experiments/plan_tpu.py",
         "--config=configs/paper_grid.py:slice=v4-32,family=llama", "--slice=v4-32",
         "--config.per_model.Llama_3_1_70B.model.mesh_model=4"]
  out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
  assert out.returncode == 1, out.stderr[-2000:]
  errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
  assert errors == [("error: llama-3.1-70b does not fit v4-32 with mesh_model=4 (68.7 GiB per "
                     "chip of 32.0 GiB, triviaqa/cot): set model.mesh_model=8")]
  assert "| llama-3.1-8b |" in out.stdout
  bad = subprocess.run(cmd[:2] + ["--config=configs/paper_grid.py", "--slice=v9-8"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, check=False)
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines()[-1].startswith("error: slice 'v9-8': unknown TPU")
