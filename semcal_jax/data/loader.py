"""Loading questions by data set name: prepare once (array_record), read, subsample.

    qs = load_questions("gsm8k", path="../shared/data/gsm8k", split="test",
                        n_questions=200, seed=0)          # list[Question]

Prepared data lives in `data_dir` (default `$SEMCAL_DATA_DIR`, else
`~/.cache/semcal_jax/tfds`), never in the repository; the second call reads it
back without touching the source. Subsampling is deterministic: the first
`n_questions` of a seeded permutation, returned in file order, so a larger
`n_questions` with the same seed is a superset.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from semcal_jax import storage
from semcal_jax.data import builder as builder_lib
from semcal_jax.data import question as question_lib
from semcal_jax.data.builders import (gsm8k, math_dataset, nq_open, openmathinstruct2,
                                      simple_qa, svamp, trivia_qa)

BUILDERS: dict[str, type[builder_lib.QABuilder]] = {
    "trivia_qa": trivia_qa.TriviaQA,
    "gsm8k": gsm8k.Gsm8k,
    "math": math_dataset.Math,
    "nq_open": nq_open.NqOpen,
    "simple_qa": simple_qa.SimpleQA,
    "svamp": svamp.Svamp,
    "openmathinstruct2": openmathinstruct2.OpenMathInstruct2,
}
DATA_DIR_ENV = "SEMCAL_DATA_DIR"
_SPLIT_PREFERENCE = ("test", "validation", "train")


def default_data_dir() -> pathlib.Path:
  """`$SEMCAL_DATA_DIR`, else `~/.cache/semcal_jax/tfds`."""
  env = os.environ.get(DATA_DIR_ENV)
  return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache/semcal_jax/tfds"


def get_builder(name: str, *, path: os.PathLike | str | None = None,
                manual_dir: os.PathLike | str | None = None,
                data_dir: os.PathLike | str | None = None) -> builder_lib.QABuilder:
  """The builder of data set `name` reading `path` (a file or folder) or `manual_dir`.

  With neither, the builder downloads its canonical files when it is prepared.

  Raises:
    KeyError: unknown name (the message lists the known ones).
    ValueError: both path and manual_dir given.
    FileNotFoundError: the path has no data files.
  """
  if name not in BUILDERS:
    raise KeyError(f"unknown data set {name!r}; known: {sorted(BUILDERS)}")
  if path is not None and manual_dir is not None:
    raise ValueError("give path= or manual_dir=, not both")
  source = path if path is not None else manual_dir
  if source is not None and storage.is_remote(source):
    source = storage.local_tree(source)  # a local copy, keyed by the files' identity
  return BUILDERS[name](path=source, data_dir=str(data_dir or default_data_dir()))


def prepare(name: str, **kwargs) -> builder_lib.QABuilder:
  """`get_builder(name, **kwargs)`, prepared to array_record (a no-op when it already is)."""
  b = get_builder(name, **kwargs)
  # try_download_gcs=False: never look for a TFDS-hosted copy (these builders are ours).
  b.download_and_prepare(file_format="array_record",
                         download_config=tfds.download.DownloadConfig(try_download_gcs=False))
  return b


def subsample_indices(n: int, n_questions: int | None, seed: int) -> list[int]:
  """Sorted indices of `n_questions` of `n` items (module docstring); all when None."""
  if n_questions is None:
    return list(range(n))
  if not isinstance(n_questions, (int, np.integer)) or n_questions < 1:
    raise ValueError(f"n_questions: expected a positive int or None, got {n_questions!r}")
  if n_questions > n:
    raise ValueError(f"n_questions={n_questions} but the split has only {n} questions")
  return sorted(np.random.default_rng(seed).permutation(n)[:n_questions].tolist())


def choose_split(available: Sequence[str], split: str | None, name: str) -> str:
  """`split`, checked; or the first of test / validation / train the data has."""
  if split is None:
    for s in _SPLIT_PREFERENCE:
      if s in available:
        return s
    return sorted(available)[0]
  if split not in available:
    raise KeyError(f"{name}: no split {split!r}; available: {sorted(available)}")
  return split


def load_questions(name: str, *, path: os.PathLike | str | None = None,
                   manual_dir: os.PathLike | str | None = None,
                   data_dir: os.PathLike | str | None = None, split: str | None = None,
                   n_questions: int | None = None,
                   seed: int = 0) -> list[question_lib.Question]:
  """The questions of one split of a data set, prepared on first use.

  Args:
    name: a key of `BUILDERS` ("trivia_qa", "gsm8k", "math", "nq_open",
      "simple_qa", "svamp", "openmathinstruct2").
    path: a data file or a folder of them; manual_dir: a folder (TFDS's
      name for it). Neither: download the canonical files.
    data_dir: where prepared data lives (default `default_data_dir()`).
    split: "train", "validation", "test", ...; None: test, else validation,
      else train.
    n_questions: how many to keep (deterministic subsample); None: all.
    seed: subsampling seed.

  Returns:
    `Question`s in file order.
  """
  b = prepare(name, path=path, manual_dir=manual_dir, data_dir=data_dir)
  split = choose_split(list(b.info.splits.keys()), split, name)
  source = b.as_data_source(split=split)
  idx = subsample_indices(len(source), n_questions, seed)
  examples = source.__getitems__(idx) if idx else []
  return [builder_lib.decode_example(e, name, split) for e in examples]


def splits(name: str, **kwargs) -> dict[str, int]:
  """Split name -> number of questions, preparing the data if needed."""
  b = prepare(name, **kwargs)
  return {s: info.num_examples for s, info in b.info.splits.items()}


def disable_progress_bars() -> None:
  """Silences TFDS's progress bars (e.g. in tests)."""
  tfds.disable_progress_bar()
