import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    return Path(os.environ.get("SEMIPOSE_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder; a test that needs it fails (never skips) when it is missing."""
    root = data_root()
    if not (root / "humaneva" / "data_3d_humaneva15.npz").is_file():
        pytest.fail(f"real data not found under {root}: set SEMIPOSE_DATA to the shared data folder")
    return root


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)
    yield
