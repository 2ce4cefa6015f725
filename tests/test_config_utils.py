"""Config loading: big_vision-style args, overrides, and one-line errors."""

import subprocess
import sys
import textwrap

import ml_collections
import pytest

from semcal_jax import config_utils

from tests.conftest import REPO

CONFIG = textwrap.dedent("""
    import ml_collections
    from semcal_jax import config_utils

    def get_config(arg=None):
      arg = config_utils.parse_arg(arg, size=3, name="a", flag=False, rate=0.5)
      c = ml_collections.ConfigDict()
      c.size = arg.size
      c.name = arg.name
      c.flag = arg.flag
      c.train = ml_collections.ConfigDict({"lr": arg.rate, "steps": 10, "tags": ("x",)})
      c.maybe = config_utils.placeholder(int)
      return c
""")


@pytest.fixture
def cfg_file(tmp_path):
  path = tmp_path / "cfg.py"
  path.write_text(CONFIG)
  return path


def test_parse_arg_types_and_unknown():
  arg = config_utils.parse_arg("size=5,flag,rate=0.1,name=b", size=1, flag=False, rate=1.0,
                               name="a")
  assert (arg.size, arg.flag, arg.rate, arg.name) == (5, True, 0.1, "b")
  with pytest.raises(config_utils.ConfigError, match="unknown config argument 'colour'"):
    config_utils.parse_arg("colour=red", size=1)
  with pytest.raises(config_utils.ConfigError, match="'size': expected int"):
    config_utils.parse_arg("size=big", size=1)


def test_load_with_arg_and_overrides(cfg_file):
  cfg = config_utils.load(f"{cfg_file}:size=7", {"train.lr": "0.01", "maybe": 4})
  assert isinstance(cfg, ml_collections.ConfigDict)
  assert cfg.size == 7 and cfg.train.lr == 0.01 and cfg.maybe == 4
  cfg = config_utils.load(str(cfg_file), ["train.steps=20", "train.tags=('a', 'b')", "flag=true"])
  assert cfg.train.steps == 20 and cfg.train.tags == ("a", "b") and cfg.flag is True


@pytest.mark.parametrize("overrides,message", [
    ({"train.nope": 1}, "unknown config key 'train.nope'"),
    ({"nope.lr": 1}, "unknown config key 'nope.lr'"),
    ({"size": "many"}, "'size': expected int"),
    ({"size": 1.5}, "config key 'size'"),
    ({"flag": "maybe"}, "expected a boolean"),
])
def test_bad_overrides_name_the_key(cfg_file, overrides, message):
  with pytest.raises(config_utils.ConfigError, match=message):
    config_utils.load(str(cfg_file), overrides)


def test_missing_or_broken_file(tmp_path):
  with pytest.raises(config_utils.ConfigError, match="not found"):
    config_utils.load(str(tmp_path / "none.py"))
  broken = tmp_path / "broken.py"
  broken.write_text("def get_config(:\n")
  with pytest.raises(config_utils.ConfigError, match="failed to import"):
    config_utils.load(str(broken))


@pytest.mark.parametrize("flag,message", [
    ("--config.calibration.n_bootstrap=lots", "n_bootstrap"),
    ("--config.calibration.nonexistent=1", "unknown config key 'calibration.nonexistent'"),
    ("--config.num_samplez=3", "unknown config key 'num_samplez'"),
])
def test_cli_errors_are_one_line(tmp_path, flag, message):
  proc = subprocess.run(
      [sys.executable, "experiments/calibration_demo.py", "--config=configs/calibration_demo.py",
       f"--workdir={tmp_path}", flag], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert proc.returncode != 0
  lines = [l for l in proc.stderr.strip().splitlines() if l.startswith("error")]
  assert len(lines) == 1 and message in lines[0], proc.stderr
  assert "Traceback" not in proc.stderr


def test_every_cli_turns_on_the_persistent_compilation_cache(tmp_path, monkeypatch):
  import jax
  seen = {}
  monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "cache"))
  before = jax.config.jax_compilation_cache_dir

  def main(_):
    seen["dir"] = jax.config.jax_compilation_cache_dir

  try:
    with pytest.raises(SystemExit) as exit_info:
      config_utils.run(main, argv=["prog"])
  finally:
    jax.config.update("jax_compilation_cache_dir", before)
  assert exit_info.value.code in (0, None)
  assert seen["dir"] == str(tmp_path / "cache")
