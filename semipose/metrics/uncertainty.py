"""How well a predicted uncertainty (e.g. an ensemble's spread) tells where the errors are.

All functions take flat arrays of uncertainties ``u`` and actual errors ``e`` (one per joint and frame).

* Rank correlation (Spearman) between ``u`` and ``e``.
* Sparsification: drop the most uncertain fraction of points and average the error of the rest; the
  oracle drops the largest errors. AUSE is the area between the two curves over fractions in [0, 1),
  with both curves divided by the mean error of all points (Ilg et al., ECCV 2018).
* Calibration: read the spread as an isotropic 3D Gaussian with per-axis sigma ``u / sqrt(3)``; the
  error norm is then chi-distributed with 3 degrees of freedom, so a fraction p of errors should fall
  within ``sigma * chi3.ppf(p)``. The curve pairs p with the observed fraction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats


def _flat(u: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, e = np.asarray(u, dtype=np.float64).ravel(), np.asarray(e, dtype=np.float64).ravel()
    if u.shape != e.shape:
        raise ValueError(f"{u.size} uncertainties for {e.size} errors")
    if u.size == 0:
        raise ValueError("no points")
    return u, e


def rank_correlation(u: np.ndarray, e: np.ndarray) -> float:
    u, e = _flat(u, e)
    return float(stats.spearmanr(u, e).statistic)


def _remaining_mean(order: np.ndarray, e: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Mean error after removing the first ``fraction`` of points in ``order``."""
    sorted_e = e[order]
    suffix = np.cumsum(sorted_e[::-1])[::-1]  # suffix[k] = sum of sorted_e[k:]
    n = len(e)
    k = np.minimum((fractions * n).astype(int), n - 1)
    return suffix[k] / (n - k)


def sparsification(u: np.ndarray, e: np.ndarray, steps: int = 50) -> dict[str, Any]:
    u, e = _flat(u, e)
    fractions = np.arange(steps) / steps
    by_u = _remaining_mean(np.argsort(-u, kind="stable"), e, fractions)
    oracle = _remaining_mean(np.argsort(-e, kind="stable"), e, fractions)
    scale = e.mean() if e.mean() > 0 else 1.0
    ause = float(np.trapezoid((by_u - oracle) / scale, fractions))
    return {"fractions": fractions, "curve": by_u, "oracle": oracle, "ause": ause}


def calibration(u: np.ndarray, e: np.ndarray, levels: np.ndarray | None = None) -> dict[str, Any]:
    u, e = _flat(u, e)
    levels = np.linspace(0.05, 0.95, 19) if levels is None else np.asarray(levels)
    sigma = np.maximum(u / np.sqrt(3.0), 1e-12)
    observed = np.array([(e <= sigma * stats.chi.ppf(p, 3)).mean() for p in levels])
    return {"expected": levels, "observed": observed, "error": float(np.abs(observed - levels).mean())}
