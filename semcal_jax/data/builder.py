"""The base TFDS builder of every question-answer data set in `semcal_jax.data`.

A `QABuilder` reads local files (a file or a folder: `path=`), or downloads
its `URLS` when given none, and prepares them to `array_record`, which
`builder.as_data_source()` reads without TensorFlow (`tfds.load` and
`as_dataset` would need it). The builder config is named after the source:
`local-<sha256 of the files' bytes, 12 hex>` or `download`, so preparing from a
different file never reuses stale data.

Every example has the same features:
  id (str), question (str), answers (list of str: the reference answer first,
  then its aliases), solution (str, "" when there is none), meta (JSON object
  of other string fields).

Subclasses set `name`, `PATTERNS` (files to read in a folder), `URLS` and
`HOMEPAGE`, and implement `parse_file(path, split) -> Iterator[Question]`.
Splits come from file names ("train", "dev" / "validation", "test"), else
`DEFAULT_SPLIT`; a split with no answered question (TriviaQA's
test-without-answers) is left out. Bump `VERSION` when parsing changes.
"""

from __future__ import annotations

import collections
import hashlib
import inspect
import itertools
import json
import os
import pathlib
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from semcal_jax import errors
from semcal_jax.data import question as question_lib
from semcal_jax.data import readers

_SPLIT_WORDS = {"train": "train", "training": "train", "dev": "validation",
                "validation": "validation", "valid": "validation", "val": "validation",
                "test": "test"}


class DownloadError(readers.DataFormatError, RuntimeError):
  """No local files were given and downloading the canonical ones failed."""


def fingerprint(files: Sequence[pathlib.Path]) -> str:
  """12 hex digits of sha256 over the files' names and bytes."""
  h = hashlib.sha256()
  for f in files:
    h.update(f.name.encode() + b"\0")
    with open(f, "rb") as fh:
      for chunk in iter(lambda: fh.read(1 << 20), b""):
        h.update(chunk)
  return h.hexdigest()[:12]


def split_from_name(path: pathlib.Path, default: str) -> str:
  """"train" / "validation" / "test" from words in the file name, else `default`."""
  for word in re.split(r"[^a-z0-9]+", path.name.lower()):
    if word in _SPLIT_WORDS:
      return _SPLIT_WORDS[word]
  return default


class QABuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Question-answer data from local files (module docstring)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First version."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "Pass the data set's files with path= (a file or a folder) or manual_dir= (a folder).")
  HOMEPAGE: ClassVar[str] = ""
  URLS: ClassVar[Mapping[str, str]] = {}
  PATTERNS: ClassVar[tuple[str, ...]] = ("*.jsonl",)
  DEFAULT_SPLIT: ClassVar[str] = "test"
  SKIP_REPEATS: ClassVar[bool] = False  # repeated ids: skipped (True) or suffixed "-2", ...

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:  # pylint: disable=invalid-overridden-method
    """The builder's source file.

    TFDS's own lookup goes through `importlib_resources`, which Python 3.11
    installs lack; the source file is all it is used for (a checksums file
    beside it, which we do not ship).
    """
    return epath.Path(inspect.getfile(cls))

  def __init__(self, *, path: os.PathLike | str | None = None, **kwargs: Any):
    """Args: path: a data file or a folder of them (None: download `URLS`); kwargs: TFDS's."""
    self._files = self.find_files(path) if path is not None else None
    name = f"local-{fingerprint(self._files)}" if self._files is not None else "download"
    config = tfds.core.BuilderConfig(name=name, description=f"{self.name} from {name}")
    super().__init__(config=config, **kwargs)

  @classmethod
  def find_files(cls, path: os.PathLike | str) -> list[pathlib.Path]:
    """The data files at `path` (itself, or `PATTERNS` under the folder, sorted)."""
    path = pathlib.Path(path).expanduser()
    if path.is_file():
      return [path.resolve()]
    if not path.is_dir():
      raise readers.DataNotFoundError(path, None, f"no such file or folder (data set {cls.name})")
    files = sorted({f.resolve() for pattern in cls.PATTERNS for f in path.rglob(pattern)
                    if f.is_file() and cls.accept_file(f)})
    if not files:
      raise readers.DataNotFoundError(path, None, f"{cls.name}: no files matching "
                                      f"{list(cls.PATTERNS)} in this folder")
    return files

  @classmethod
  def accept_file(cls, path: pathlib.Path) -> bool:
    """Whether a file found in a folder belongs to the data set (default: yes)."""
    del path
    return True

  def split_of(self, path: pathlib.Path) -> str:
    """The split a file holds."""
    return split_from_name(path, self.DEFAULT_SPLIT)

  def parse_file(self, path: pathlib.Path, split: str) -> Iterator[question_lib.Question]:
    """The questions in one file (errors: `readers.DataFormatError` with file and line)."""
    raise NotImplementedError

  def _info(self) -> tfds.core.DatasetInfo:
    text, seq = tfds.features.Text(), tfds.features.Sequence(tfds.features.Text())
    return tfds.core.DatasetInfo(
        builder=self,
        description=(type(self).__doc__ or self.name).strip().splitlines()[0],
        features=tfds.features.FeaturesDict({"id": text, "question": text, "answers": seq,
                                             "solution": text, "meta": text}),
        homepage=self.HOMEPAGE or None,
        disable_shuffling=True,
    )

  def _download(self, dl_manager) -> list[pathlib.Path]:
    if not self.URLS:
      where = self.HOMEPAGE or "its homepage"
      raise readers.DataNotFoundError(None, None, f"{self.name}: no local files given and no "
                                      f"download URL; pass path= or manual_dir= (files from "
                                      f"{where})")
    try:
      got = dl_manager.download_and_extract(dict(self.URLS))
    except Exception as e:  # pylint: disable=broad-except  # network errors vary
      raise DownloadError(None, None, f"{self.name}: no local files given (path= or "
                          f"manual_dir=) and downloading {sorted(self.URLS.values())} failed: "
                          f"{errors.one_line(e)}") from e
    return [f for p in got.values() for f in self.find_files(p)]

  def _split_generators(self, dl_manager):
    files = self._files if self._files is not None else self._download(dl_manager)
    by_split: dict[str, list[pathlib.Path]] = collections.defaultdict(list)
    for f in files:
      by_split[self.split_of(f)].append(f)
    generators = {}
    for split, fs in sorted(by_split.items()):
      gen = self._generate_examples(split=split, files=fs)
      first = next(gen, None)  # TFDS cannot write an empty split: leave it out
      if first is None:
        logging.info("%s: split %r has no questions with answers; left out", self.name, split)
        continue
      generators[split] = itertools.chain([first], gen)
    if not generators:
      where = files[0] if len(files) == 1 else os.path.commonpath([str(f) for f in files])
      raise readers.DataFormatError(where, None, f"{self.name}: no questions with answers in "
                                    f"{len(files)} file(s)")
    return generators

  def _generate_examples(self, split: str, files: Sequence[pathlib.Path]):
    seen: collections.Counter[str] = collections.Counter()
    for f in files:
      for q in self.parse_file(f, split):
        seen[q.id] += 1
        if seen[q.id] > 1 and self.SKIP_REPEATS:
          continue
        key = q.id if seen[q.id] == 1 else f"{q.id}-{seen[q.id]}"
        yield key, {"id": key, "question": q.question, "answers": list(q.answers),
                    "solution": q.solution or "",
                    "meta": json.dumps(dict(q.meta), sort_keys=True, ensure_ascii=False)}
    dups = sum(n - 1 for n in seen.values())
    if dups:
      logging.info("%s/%s: %d repeated ids %s", self.name, split, dups,
                   "skipped" if self.SKIP_REPEATS else "got a -N suffix")


def decode_example(example: Mapping[str, Any], dataset: str, split: str) -> question_lib.Question:
  """A `Question` from one example of `as_data_source()` (bytes decoded)."""
  def text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)
  meta = json.loads(text(example["meta"]) or "{}")
  return question_lib.Question(
      id=text(example["id"]), question=text(example["question"]),
      answers=tuple(text(a) for a in example["answers"]),
      solution=text(example["solution"]) or None, dataset=dataset, split=split, meta=meta)
