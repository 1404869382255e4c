"""Which training data each ensemble member sees (the labeled / unlabeled split is ``data.splits``).

Members draw *whole sequences* (a subject's action chunk with all its camera views), so every
training window stays inside one contiguous recording and no motion leaks between disjoint subsets.
"""

from __future__ import annotations

import numpy as np

SUBSET_MODES = ("full", "disjoint", "overlap", "bootstrap")


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
