"""What a calibration run's workdir does with edited inputs, other writers and damage.

Each test is a fault a user meets: a data file edited in place, a second process
writing the same workdir, a run that failed before its first batch, a truncated
fingerprint.json, a corrupt or duplicated part file, temporary files of a killed
writer. None may give a silently wrong report or need files deleted by hand.
"""

import json
import logging
import subprocess
import sys

import pytest

from semcal_jax import storage
from semcal_jax.config_utils import ConfigError
from semcal_jax.errors import InputError
from semcal_jax.pipeline import run, run_config, store as store_lib

from tests.pipeline.fixtures import TRIVIA, assert_same_run, data_env, tiny_model  # noqa: F401
from tests.pipeline.test_run import _cfg

pytestmark = pytest.mark.slow


def _small(model, data, **over):
  return _cfg(model, data, **{"data__n_questions": 4, "sampling__num_samples": 2,
                              "sampling__max_new_tokens": 4, "calibration__n_bootstrap": 0,
                              **over})


def test_a_data_file_edited_in_place_is_a_new_input(tiny_model, data_env, tmp_path):
  workdir = str(tmp_path / "run")
  run.run_calibration(_small(tiny_model, data_env), workdir, progress=False)
  edited = [json.loads(line) | {"answer": "Lyon", "aliases": ["Lyon"]}  # new references,
            for line in data_env.read_text().splitlines()]                # same path
  data_env.write_text("".join(json.dumps(e) + "\n" for e in edited))
  with pytest.raises(ConfigError, match=r"data\.content"):
    run.run_calibration(_small(tiny_model, data_env), workdir, progress=False)
  report = run.run_calibration(_small(tiny_model, data_env), workdir, overwrite=True,
                               progress=False)
  records, _ = store_lib.Store(workdir).read()
  assert all(r["references"] == ["Lyon"] for r in records.values())
  assert report["n_questions"] == 4


def _hold_lock(folder):
  """A process holding an flock on `folder/.lock` (another writer), until killed."""
  code = ("import fcntl, sys, time\n"
          f"f = open({str(folder / '.lock')!r}, 'a')\n"
          "fcntl.flock(f.fileno(), fcntl.LOCK_EX)\n"
          "print('locked', flush=True)\n"
          "time.sleep(120)\n")
  proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
  assert proc.stdout.readline().strip() == "locked"
  return proc


def test_a_second_writer_is_refused_and_writes_nothing(tiny_model, data_env, tmp_path):
  workdir = tmp_path / "run"
  workdir.mkdir()
  holder = _hold_lock(workdir)
  try:
    with pytest.raises(ValueError, match="in use by"):
      run.run_calibration(_small(tiny_model, data_env), str(workdir), progress=False)
    assert sorted(p.name for p in workdir.iterdir()) == [".lock"]
  finally:
    holder.kill()
    holder.wait()
  # The holder is gone (killed, as kill -9 would): its lock is no longer in the way.
  report = run.run_calibration(_small(tiny_model, data_env), str(workdir), progress=False)
  one = sum(len(t) for r in store_lib.Store(workdir).read()[0].values() for t in r["token_ids"])
  assert report["generated_tokens"] == one


def test_a_duplicated_part_does_not_double_the_token_count(tiny_model, data_env, tmp_path):
  workdir = tmp_path / "run"
  report = run.run_calibration(_small(tiny_model, data_env), str(workdir), progress=False)
  part = store_lib.Store(workdir).parts()[0]
  (part.parent / part.name.replace("-000000", "-000099")).write_text(part.read_text())
  again = run.run_calibration(_small(tiny_model, data_env), str(workdir), progress=False)
  assert again["generated_tokens"] == report["generated_tokens"]


def test_a_run_that_failed_before_sampling_does_not_block_the_fixed_command(
    tiny_model, data_env, tmp_path):
  workdir = tmp_path / "run"
  with pytest.raises(InputError, match="'dev'"):  # the file has a test split only
    run.run_calibration(_small(tiny_model, data_env, data__split="dev"), str(workdir),
                        progress=False)
  assert not (workdir / "fingerprint.json").exists()
  # A run that got as far as claiming the workdir and then died (a model that failed to
  # load) leaves a fingerprint but no samples: another config may take the workdir.
  store_lib.Store(workdir).claim(_small(tiny_model, data_env, sampling__temperature=0.5))
  report = run.run_calibration(_small(tiny_model, data_env), str(workdir), progress=False)
  assert report["n_questions"] == 4 and report["temperature"] == 1.0


def test_a_truncated_fingerprint_is_named_and_overwrite_recovers(tiny_model, data_env,
                                                                 tmp_path):
  workdir = tmp_path / "run"
  run.run_calibration(_small(tiny_model, data_env), str(workdir), progress=False)
  fp = workdir / "fingerprint.json"
  fp.write_text(fp.read_text()[:40])
  with pytest.raises(store_lib.StoreError, match="fingerprint.json: not valid JSON") as e:
    run.run_calibration(_small(tiny_model, data_env), str(workdir), progress=False)
  assert "--overwrite" in str(e.value) and "\n" not in str(e.value)
  report = run.run_calibration(_small(tiny_model, data_env), str(workdir), overwrite=True,
                               progress=False)
  assert report["n_questions"] == 4
  assert json.loads(fp.read_text()) == run_config.fingerprint(_small(tiny_model, data_env))


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "missing key"])
def test_a_damaged_part_is_named_set_aside_and_sampled_again(tiny_model, data_env, tmp_path,
                                                             caplog, damage):
  ref = tmp_path / "ref"
  cfg = _small(tiny_model, data_env, sampling__max_rows=4)  # 2 questions per part
  run.run_calibration(cfg, str(ref), progress=False)
  got = tmp_path / "got"
  run.run_calibration(cfg, str(got), progress=False)
  part = store_lib.Store(got).parts()[1]
  text = part.read_text()
  part.write_text({"truncated": text[:len(text) // 2], "empty": "",
                   "garbage": "\x00\x01 not json\n",
                   "missing key": text.replace('"logprobs"', '"log_probs"')}[damage])
  (got / "report.json").unlink()
  (got / "samples" / ".part-000-000005.jsonl.tmp-0123abcd").write_text("half")
  with caplog.at_level(logging.WARNING):
    run.run_calibration(cfg, str(got), progress=False)
  warned = [r.getMessage() for r in caplog.records if part.name in r.getMessage()]
  assert warned and "sampled again" in warned[0]
  assert (part.parent / (part.name + ".corrupt")).exists()
  assert not list((got / "samples").glob(".*.tmp-*"))
  assert_same_run(ref, got, 4)


def test_storage_reads_back_nan_when_asked(tmp_path):
  path = tmp_path / "cache.json"
  storage.write_json_atomic(path, {"r2": float("nan"), "ok": 1.0}, allow_nan=True)
  value = storage.read_json(path)
  assert value["r2"] != value["r2"] and value["ok"] == 1.0  # NaN survives the round trip
  storage.write_json_atomic(path, {"r2": float("nan")})  # strict JSON: null
  assert storage.read_json(path) == {"r2": None}


def test_a_utf8_bom_in_a_json_file_is_accepted(tmp_path):
  path = tmp_path / "x.json"
  path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"a": TRIVIA[0][1]}).encode())
  assert storage.read_json(path) == {"a": "Paris"}
  path.write_bytes(b'{"a": "caf\xe9"}')
  with pytest.raises(storage.StorageError, match=r"x\.json: not valid UTF-8 \(byte 0xe9"):
    storage.read_json(path)
