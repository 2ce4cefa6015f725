"""Generated ids to answer texts: the stop token dropped, stop strings cut."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from semcal_jax.sampling import decode, stopping


def answer_texts(tok, tokens: np.ndarray, lengths: np.ndarray, reason_codes: np.ndarray,
                 stop: Sequence[str], stop_ids: set[int]):
  """`(texts [Q][M], finish reasons [Q][M])` from `tokens [Q, M, N]`,
  `lengths [Q, M]` and `reason_codes [Q, M]` (`decode.FINISH_REASONS`).

  A sample that ended on a stop token loses that token; one that ended on a
  stop string is cut at its first stop string. Without a tokenizer the texts
  are empty."""
  texts, reasons = [], []
  for q in range(tokens.shape[0]):
    row_texts, row_reasons = [], []
    for m in range(tokens.shape[1]):
      code = int(reason_codes[q, m])
      ids = tokens[q, m, :lengths[q, m]].tolist()
      if code == decode.STOP_TOKEN and ids and ids[-1] in stop_ids:
        ids = ids[:-1]
      text = tok.decode(ids) if tok is not None else ""
      if code == decode.STOP_STRING:
        text, _ = stopping.cut_at_stop(text, stop)
      row_texts.append(text)
      row_reasons.append(decode.FINISH_REASONS[code])
    texts.append(row_texts)
    reasons.append(row_reasons)
  return texts, reasons
