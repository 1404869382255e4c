"""Ensemble statistics: the members' mean is the prediction, their spread its uncertainty."""

from __future__ import annotations

import numpy as np


def ensemble_mean(preds: np.ndarray) -> np.ndarray:
    """Mean over members (axis 0) of (M, ..., joints, 3) predictions."""
    return preds.mean(axis=0)


def ensemble_spread(preds: np.ndarray) -> np.ndarray:
    """Per-joint standard deviation of the members around their mean (population form, 1/M):
    sqrt(mean_m ||p_m - mean||^2), shape (..., joints)."""
    mean = preds.mean(axis=0, keepdims=True)
    return np.sqrt(((preds - mean) ** 2).sum(axis=-1).mean(axis=0))
