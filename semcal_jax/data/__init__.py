"""Data sets and prompts.

Pipeline position: **data** -> models -> sampling -> semantic (B) -> calibration.

    from semcal_jax import data
    qs = data.load_questions("trivia_qa", path="../shared/data/triviaqa", n_questions=500)
    qs[0].question, qs[0].answers          # "What type of animal is a dik-dik?", ("Antelope", ...)

Project-owned TFDS builders (`data.BUILDERS`) for trivia_qa, gsm8k, math,
nq_open, simple_qa, svamp and openmathinstruct2 read local files (or download
the canonical ones), prepare them to array_record and read them back with
`as_data_source()`: no TensorFlow. Prompts in three response styles:
`semcal_jax.data.prompts`.
"""

from semcal_jax.data.builder import DownloadError, QABuilder
from semcal_jax.data.loader import (BUILDERS, DATA_DIR_ENV, UnknownNameError, content_hash,
                                    default_data_dir, get_builder, load_questions, prepare, splits,
                                    subsample_indices)
from semcal_jax.data.question import Question, normalize_question
from semcal_jax.data.readers import DataFormatError, DataNotFoundError

__all__ = ["BUILDERS", "DATA_DIR_ENV", "DataFormatError", "DataNotFoundError", "DownloadError",
           "QABuilder", "Question", "UnknownNameError", "content_hash", "default_data_dir",
           "get_builder", "load_questions", "normalize_question", "prepare", "splits",
           "subsample_indices"]
