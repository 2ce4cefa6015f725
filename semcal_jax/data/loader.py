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
from absl import logging

from semcal_jax import storage
from semcal_jax.data import builder as builder_lib
from semcal_jax.data import question as question_lib
from semcal_jax.data import readers
from semcal_jax.data.builders import (gsm8k, math_dataset, nq_open, openmathinstruct2,
                                      simple_qa, svamp, trivia_qa, truthful_qa)
from semcal_jax.errors import InputError

BUILDERS: dict[str, type[builder_lib.QABuilder]] = {
    "trivia_qa": trivia_qa.TriviaQA,
    "gsm8k": gsm8k.Gsm8k,
    "math": math_dataset.Math,
    "math500": math_dataset.Math500,
    "truthful_qa": truthful_qa.TruthfulQA,
    "nq_open": nq_open.NqOpen,
    "simple_qa": simple_qa.SimpleQA,
    "svamp": svamp.Svamp,
    "openmathinstruct2": openmathinstruct2.OpenMathInstruct2,
}
DATA_DIR_ENV = "SEMCAL_DATA_DIR"
_SPLIT_PREFERENCE = ("test", "validation", "train")


class UnknownNameError(readers.DataFormatError, KeyError):
  """An unknown data set or split name (also a KeyError); the message lists the known ones."""


def _check_name(name: str) -> None:
  if name not in BUILDERS:
    raise UnknownNameError(None, None, f"unknown data set {name!r}; known: {sorted(BUILDERS)}")


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
    UnknownNameError (a KeyError): unknown name (the message lists the known ones).
    DataFormatError (a ValueError): both path and manual_dir given.
    DataNotFoundError (a FileNotFoundError): the path has no data files.
  """
  _check_name(name)
  if path is not None and manual_dir is not None:
    raise readers.DataFormatError(None, None, "give path= or manual_dir=, not both")
  source = path if path is not None else manual_dir
  if source is not None and storage.is_remote(source):
    source = storage.local_tree(source)  # a local copy, keyed by the files' identity
  return BUILDERS[name](path=source, data_dir=str(data_dir or default_data_dir()))


def content_hash(name: str, path: os.PathLike | str) -> str:
  """12 hex digits of sha256 over the names and bytes of the files data set `name`
  reads at `path` (a file or folder, local or remote): what a run's fingerprint
  records, so that a data file edited in place is a different input.

  Raises:
    UnknownNameError (a KeyError): unknown name.
    DataNotFoundError (a FileNotFoundError): `path` has no data files.
  """
  _check_name(name)
  if storage.is_remote(path):
    path = storage.local_tree(path)
  return builder_lib.fingerprint(BUILDERS[name].find_files(path))


def _input_error_in(error: BaseException) -> InputError | None:
  """The first `InputError` in `error`'s chain of causes (itself included), or None."""
  seen = set()
  while error is not None and id(error) not in seen:
    if isinstance(error, InputError):
      return error
    seen.add(id(error))
    error = error.__cause__ or error.__context__
  return None


def prepare(name: str, **kwargs) -> builder_lib.QABuilder:
  """`get_builder(name, **kwargs)`, prepared to array_record (a no-op when it already is).

  A bad data file raises its `DataFormatError` (naming file and line) itself, even
  where TFDS wraps it in an exception of its own.
  """
  b = get_builder(name, **kwargs)
  try:
    # try_download_gcs=False: never look for a TFDS-hosted copy (these builders are ours).
    b.download_and_prepare(file_format="array_record",
                           download_config=tfds.download.DownloadConfig(try_download_gcs=False))
  except Exception as e:  # pylint: disable=broad-except  # unwrapped below, else re-raised
    cause = _input_error_in(e)
    if cause is None or cause is e:
      raise
    raise cause from None
  return b


def subsample_indices(n: int, n_questions: int | None, seed: int) -> list[int]:
  """Sorted indices of `n_questions` of `n` items (module docstring); all when None."""
  if n_questions is None:
    return list(range(n))
  if not isinstance(n_questions, (int, np.integer)) or n_questions < 1:
    raise ValueError(f"n_questions: expected a positive int or None, got {n_questions!r}")
  if n_questions >= n:
    return list(range(n))
  return sorted(np.random.default_rng(seed).permutation(n)[:n_questions].tolist())


def choose_split(available: Sequence[str], split: str | None, name: str,
                 where: os.PathLike | str | None = None) -> str:
  """`split`, checked; or the first of test / validation / train the data has.

  Raises:
    UnknownNameError (a KeyError): no such split (the message names `where`, the data path).
  """
  if split is None:
    for s in _SPLIT_PREFERENCE:
      if s in available:
        return s
    return sorted(available)[0]
  if split not in available:
    raise UnknownNameError(where, None, f"{name}: no split {split!r}; available: "
                           f"{sorted(available)}")
  return split


def load_questions(name: str, *, path: os.PathLike | str | None = None,
                   manual_dir: os.PathLike | str | None = None,
                   data_dir: os.PathLike | str | None = None, split: str | None = None,
                   n_questions: int | None = None,
                   seed: int = 0) -> list[question_lib.Question]:
  """The questions of one split of a data set, prepared on first use.

  Args:
    name: a key of `BUILDERS` ("trivia_qa", "gsm8k", "math", "math500", "nq_open",
      "simple_qa", "svamp", "openmathinstruct2", "truthful_qa").
    path: a data file or a folder of them; manual_dir: a folder (TFDS's
      name for it). Neither: download the canonical files.
    data_dir: where prepared data lives (default `default_data_dir()`).
    split: "train", "validation", "test", ...; None: test, else validation,
      else train.
    n_questions: how many to keep (deterministic subsample); None: all. More than
      the split has takes all of it, with one warning line.
    seed: subsampling seed.

  Returns:
    `Question`s in file order.

  Raises:
    InputError subclasses with one line naming the data path: `DataFormatError`
    (a bad file, naming file and line),
    `DataNotFoundError` (also a FileNotFoundError: no data files),
    `UnknownNameError` (also a KeyError: unknown data set or split).
  """
  b = prepare(name, path=path, manual_dir=manual_dir, data_dir=data_dir)
  where = path if path is not None else manual_dir
  split = choose_split(list(b.info.splits.keys()), split, name, where)
  source = b.as_data_source(split=split)
  if isinstance(n_questions, (int, np.integer)) and n_questions > len(source):
    logging.warning("n_questions=%d but split %r of %s (%s) has only %d questions: taking all %d",
                    n_questions, split, name, where or "download", len(source), len(source))
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
