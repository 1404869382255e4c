"""Which training data each ensemble member sees, and the labeled / unlabeled split.

Members draw *whole sequences* (a subject's action chunk with all its camera views), so every
training window stays inside one contiguous recording and no motion leaks between disjoint subsets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..data.npz3d import Sequence

SUBSET_MODES = ("full", "disjoint", "overlap", "bootstrap")


def group_sequences(sequences: list[Sequence]) -> list[list[int]]:
    """Indices of the sequences grouped by (subject, action): one group per recording."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, s in enumerate(sequences):
        groups[(s.subject, s.action)].append(i)
    return [groups[k] for k in sorted(groups)]


def draw_subsets(
    group_frames: list[int],
    members: int,
    mode: str,
    fraction: float | None = None,
    frames: int | None = None,
    seed: int = 0,
) -> list[list[int]]:
    """Group indices for each member (repeats allowed in ``bootstrap`` mode).

    Size: ``frames`` (a count) or ``fraction`` of all frames; by default 1/members for ``disjoint``,
    half the data for ``overlap`` and all of it for ``bootstrap`` (drawn with replacement).
    Each member keeps drawing groups in random order until it holds at least that many frames.
    """
    if mode not in SUBSET_MODES:
        raise ValueError(f"subset mode must be one of {SUBSET_MODES}, got {mode!r}")
    if members < 1:
        raise ValueError("an ensemble needs at least one member")
    n = len(group_frames)
    total = int(sum(group_frames))
    if mode == "full":
        return [list(range(n)) for _ in range(members)]
    default = {"disjoint": 1.0 / members, "overlap": 0.5, "bootstrap": 1.0}[mode]
    target = frames if frames is not None else int((fraction if fraction is not None else default) * total)
    if target <= 0:
        raise ValueError("subset size must be positive")
    rng = np.random.default_rng(seed)
    if mode == "disjoint":
        if members > n:
            raise ValueError(f"{members} disjoint members need at least {members} sequences, there are {n}")
        if target * members > total:
            raise ValueError(f"{members} disjoint subsets of {target} frames exceed the {total} frames available")
        order = list(rng.permutation(n))
        out: list[list[int]] = [[] for _ in range(members)]
        sizes = [0] * members
        # deal the groups to the member that holds the fewest frames, until each is full
        for g in order:
            open_members = [m for m in range(members) if sizes[m] < target]
            if not open_members:
                break
            m = min(open_members, key=lambda k: sizes[k])
            out[m].append(int(g))
            sizes[m] += group_frames[g]
        return [sorted(o) for o in out]
    out = []
    for _ in range(members):
        picked, size = [], 0
        if mode == "overlap":
            for g in rng.permutation(n):
                if size >= target:
                    break
                picked.append(int(g))
                size += group_frames[g]
        else:  # bootstrap: with replacement
            while size < target:
                g = int(rng.integers(n))
                picked.append(g)
                size += group_frames[g]
        out.append(sorted(picked))
    return out


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
