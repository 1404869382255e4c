"""Small builders shared by several test modules (tests/ is on sys.path: pyproject's pythonpath)."""

import numpy as np
from PIL import Image

from semipose.data.coco import PersonInstance
from semipose.data.npz3d import load_sequences
from semipose.data.synthetic import write_synthetic_humaneva
from semipose.lift.config import load_ensemble_config
from semipose.lift.ensemble.runner import training_data


def tiny_sequences(tmp_path):
    """One synthetic subject's training recordings, 40 frames each."""
    root = write_synthetic_humaneva(tmp_path / "data", frames=40, seed=1, subjects=("S1",), splits=("Train",))
    seqs, _ = load_sequences(
        root / "data_3d_humaneva15.npz", root / "data_2d_humaneva15_gt.npz", root / "cameras.json", ["Train/S1"]
    )
    return seqs


def tiny_ensemble(tmp_path, *overrides):
    """A 3-member ensemble config of tiny networks and its training data."""
    from semipose.skeletons import HUMANEVA15

    cfg = load_ensemble_config(
        None,
        [
            "model.channels=16",
            "model.filter_widths=[3,3]",
            "train.epochs=1",
            "train.batch_size=64",
            "ensemble.members=3",
            "ensemble.subset=disjoint",
            *overrides,
        ],
    )
    return cfg, training_data(tiny_sequences(tmp_path), HUMANEVA15)


def lift_train(run, data, *overrides: str) -> int:
    """``semipose lift train`` of the synthetic config on ``data`` into ``run`` (fp32, no progress bar)."""
    from semipose.cli import main

    args = ["lift", "train", "-c", "synthetic", "-o", str(run), f"data.root={data}"]
    return main([*args, "train.progress=false", "train.precision=fp32", *overrides])


def person_crops(tmp_path, n: int, right_ankle_visible: bool = False) -> list[PersonInstance]:
    """``n`` COCO people on one white 100x80 image, each cropped 64x64 around (50, 40): the nose at
    (50, 20), the left ankle at (40 + i, 60), the right ankle at (60, 60) (unlabeled unless asked)."""
    path = tmp_path / "white.png"
    Image.new("RGB", (100, 80), (255, 255, 255)).save(path)
    out = []
    for i in range(n):
        kp = np.zeros((17, 3), np.float32)
        kp[0] = (50, 20, 2)
        kp[15] = (40 + i, 60, 2)
        kp[16] = (60, 60, 2 if right_ankle_visible else 0)
        box = np.array([30, 10, 40, 60], np.float32)
        center, scale = np.array([50, 40], np.float32), np.array([64, 64], np.float32)
        out.append(PersonInstance(path, i, i, kp, box, center, scale, 2400.0, False))
    return out
