"""The cheap probe: a linear map from the last prompt hidden state to the plurality share.

For pod-scale sweeps where training a LoRA per run is too much: one forward
pass per question gives `h [Q, D]` (the final-norm hidden state at the last
prompt token, the state from which the first answer token is predicted);
ridge regression from standardised `h` to the plurality class's share of the
M samples (the model's B-confidence), with the penalty picked by k-fold
cross-validation on the train split. Held-out R^2 says how much of the model's
own confidence is linearly readable before it answers.

    feats = prompt_features(model, prompt_ids)          # [Q, D]
    res = fit_linear_probe(feats, share, train_idx, heldout_idx)
    res["r2"], res["spearman"]
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
import scipy.stats
from flax import nnx

from semcal_jax import multihost
from semcal_jax.models.transformer import KVCache
from semcal_jax.probe import targets as targets_lib
from semcal_jax.training import batches as batches_lib

PENALTIES = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4)


def prompt_features(model, prompts: Sequence[Sequence[int]], *, batch_size: int = 64,
                    pad_id: int = 0) -> np.ndarray:
  """`[Q, D]` float32: the last real prompt token's hidden state (after the final norm).

  Prompts are left-padded to one bucketed length and run in fixed batches of
  `batch_size` (the last one padded): one compilation."""
  graphdef, state = nnx.split(model)
  length = batches_lib.bucket(max(len(p) for p in prompts))

  @jax.jit
  def feats(state, tokens, positions):
    m = nnx.merge(graphdef, state)
    h, _ = m.hidden_states(tokens, positions,
                           KVCache.empty(m.config, tokens.shape[0], tokens.shape[1], m.dtype), 0)
    return h[:, -1].astype(np.float32)

  out = []
  for start in range(0, len(prompts), batch_size):
    part = list(prompts[start:start + batch_size])
    n = len(part)
    part += [part[-1]] * (batch_size - n)
    b = batches_lib.pack(part, [[[]] for _ in part], pad_id=pad_id, prompt_len=length)
    out.append(multihost.to_host(feats(state, b["prompt"], b["prompt_positions"]))[:n])
  return np.concatenate(out, 0)


def _ridge(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
  """Weights and intercept of ridge regression on centred data."""
  xm, ym = x.mean(0), y.mean()
  xc = x - xm
  w = np.linalg.solve(xc.T @ xc + lam * np.eye(x.shape[1]), xc.T @ (y - ym))
  return w, float(ym - xm @ w)


def fit_linear_probe(features: np.ndarray, share: np.ndarray, train_idx: np.ndarray,
                     heldout_idx: np.ndarray, *, folds: int = 5, seed: int = 0,
                     penalties: Sequence[float] = PENALTIES) -> dict[str, Any]:
  """Ridge probe from `features [Q, D]` to `share [Q]`; held-out metrics.

  Returns a dict: `r2` (1 - MSE / variance of the held-out shares around the
  train mean), `mse`, `mse_constant` (predicting the train mean), `spearman`
  (predicted vs actual share), `penalty` (picked by CV), `predictions [Qh]`.
  """
  x = np.asarray(features, np.float64)
  y = np.asarray(share, np.float64)
  mu, sd = x[train_idx].mean(0), x[train_idx].std(0) + 1e-6
  z = (x - mu) / sd
  xt, yt = z[train_idx], y[train_idx]
  folds = max(2, min(folds, len(train_idx)))
  fold_of = np.random.default_rng([seed, 5]).permutation(len(train_idx)) % folds
  cv = []
  for lam in penalties:
    err = 0.0
    for f in range(folds):
      w, b = _ridge(xt[fold_of != f], yt[fold_of != f], lam)
      err += float(np.sum((xt[fold_of == f] @ w + b - yt[fold_of == f]) ** 2))
    cv.append(err / len(train_idx))
  lam = float(penalties[int(np.argmin(cv))])
  w, b = _ridge(xt, yt, lam)
  pred = np.clip(z[heldout_idx] @ w + b, 0.0, 1.0)
  yh = y[heldout_idx]
  mse = float(np.mean((pred - yh) ** 2))
  mse_const = float(np.mean((yt.mean() - yh) ** 2))
  varied = len(yh) > 2 and np.ptp(yh) > 0 and np.ptp(pred) > 0
  rho = scipy.stats.spearmanr(pred, yh).statistic if varied else float("nan")
  r2 = 1.0 - mse / mse_const if mse_const > 1e-12 else float("nan")  # constant held-out shares
  return {"r2": r2, "mse": mse, "mse_constant": mse_const,
          "spearman": float(rho), "penalty": lam, "predictions": pred}


def probe_plurality_share(model, prompts: Sequence[Sequence[int]], t: targets_lib.Targets,
                          train_idx: np.ndarray, heldout_idx: np.ndarray, *,
                          batch_size: int = 64, pad_id: int = 0, seed: int = 0) -> dict[str, Any]:
  """The linear probe end to end, JSON-able: features of `prompts [Q]`, target =
  the plurality class's share of each question's M samples (from `t`), fitted
  on `train_idx`, measured on `heldout_idx` (the predictions are left out)."""
  feats = prompt_features(model, prompts, batch_size=batch_size, pad_id=pad_id)
  out = fit_linear_probe(feats, t.counts.max(-1) / t.num_samples, train_idx, heldout_idx,
                         seed=seed)
  out.pop("predictions")
  return out


__all__ = ["PENALTIES", "fit_linear_probe", "probe_plurality_share", "prompt_features"]
