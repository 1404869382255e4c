"""Recordings split into pieces: whole recordings grouped over their camera views, and the labeled /
unlabeled split as VideoPose3D's ``--subset`` makes it (a contiguous run of each recording, the same
frames in every view), so that no training window crosses from one part into the other.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .npz3d import Sequence


def group_sequences(sequences: list[Sequence]) -> list[list[int]]:
    """Indices of the sequences grouped by (subject, action): one group per recording."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, s in enumerate(sequences):
        groups[(s.subject, s.action)].append(i)
    return [groups[k] for k in sorted(groups)]


@dataclass
class Segment:
    """A contiguous piece [start, stop) of sequence ``index``."""

    index: int
    start: int
    stop: int


def split_labeled(sequences: list[Sequence], fraction: float, seed: int = 0) -> tuple[list[Segment], list[Segment]]:
    """Labeled and unlabeled pieces of every recording, as VideoPose3D's ``--subset`` does it:
    a contiguous run of ``fraction`` of each recording's frames (the same frames in every camera view),
    at a random position, is labeled; the frames before and after it are unlabeled.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"labeled fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    labeled, unlabeled = [], []
    for group in group_sequences(sequences):
        length = sequences[group[0]].num_frames
        n = max(1, int(round(length * fraction)))
        start = int(rng.integers(0, length - n + 1))
        for i in group:
            labeled.append(Segment(i, start, start + n))
            if start > 0:
                unlabeled.append(Segment(i, 0, start))
            if start + n < length:
                unlabeled.append(Segment(i, start + n, length))
    return labeled, unlabeled


def cut(sequences: list[Sequence], segments: list[Segment]) -> list[Sequence]:
    """The sequences the segments describe (views into the original arrays)."""
    out = []
    for seg in segments:
        s = sequences[seg.index]
        out.append(
            Sequence(
                s.subject,
                s.action,
                s.camera_index,
                s.keypoints_2d[seg.start : seg.stop],
                s.positions_3d[seg.start : seg.stop],
                s.camera,
            )
        )
    return out
