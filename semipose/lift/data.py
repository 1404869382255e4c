"""The sequences a lifting run trains and tests on, read as its data section says."""

from __future__ import annotations

from ..data.noise2d import noisy_sequences_2d
from ..data.npz3d import Sequence, load_sequences
from ..skeletons import Skeleton, as_layout, convert_layout
from .config import DataConfig


def load_split(data: DataConfig, subjects: list[str]) -> tuple[list[Sequence], Skeleton]:
    """The sequences of ``subjects``; with ``data.noise.enabled`` their 2D made detector-like (the
    noise of each sequence depends only on the seed and the sequence, so splits and methods share it)."""
    seqs, skel = load_sequences(
        data.path(data.file_3d),
        data.path(data.file_2d),
        data.path(data.cameras),
        subjects,
        data.actions,
        allow_longer_2d=data.allow_longer_2d,
    )
    if data.noise.enabled:
        keys = [f"{s.subject}/{s.action}/{s.camera_index}" for s in seqs]
        for s, kp in zip(seqs, noisy_sequences_2d([s.keypoints_2d for s in seqs], keys, skel, data.noise)):
            s.keypoints_2d = kp
    if data.via_layout is not None:
        for s in seqs:
            s.keypoints_2d = convert_layout(as_layout(s.keypoints_2d, skel, data.via_layout), data.via_layout, skel)
    return seqs, skel
