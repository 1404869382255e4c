"""A killed ``semipose ensemble train`` leaves no worker behind and resumes to the same members."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from semipose.cli import main

ARGS = [
    "-c",
    "synthetic",
    "ensemble.members=2",
    "ensemble.workers=2",
    "ensemble.subset=full",
    "model.channels=32",
    "train.epochs=40",
    "train.progress=false",
    "train.precision=fp32",
    "train.eval_every=0",
]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _weights(run: Path) -> list[dict]:
    return [torch.load(run / "members" / f"member_{i:02d}.pt", weights_only=True)["model"] for i in range(2)]


def test_sigkill_of_the_parent_ends_the_workers_and_resume_matches_an_uninterrupted_run(tmp_path):
    data = tmp_path / "data"
    assert main(["data", "synth3d", "-o", str(data), "--frames", "60"]) == 0
    args = ARGS + [f"data.root={data}"]
    run = tmp_path / "killed"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "semipose.cli", "ensemble", "train", "-o", str(run), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    work = [run / "members" / f"member_{i:02d}.work" / "checkpoint.pt" for i in range(2)]
    deadline = time.time() + 120
    while not all(w.is_file() for w in work):  # both members checkpointed, neither finished
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "the members never checkpointed"
        time.sleep(0.2)
    workers = _children(proc.pid)
    assert workers, "no worker processes found"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(10)
    survivors = [p for p in workers if _alive(p)]
    for p in survivors:
        os.kill(p, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived their killed parent"
    assert not any((run / "members" / f"member_{i:02d}.pt").is_file() for i in range(2))

    assert main(["ensemble", "train", "-o", str(run), "--resume"]) == 0
    status = json.loads((run / "ensemble.json").read_text())
    assert all(0 < m["resumed_after_epoch"] < 40 for m in status["members"])  # picked up mid-training
    assert not any(p.name.endswith(".work") for p in (run / "members").iterdir())  # checkpoints cleaned up
    reference = tmp_path / "uninterrupted"
    assert main(["ensemble", "train", "-o", str(reference), *args]) == 0
    for a, b in zip(_weights(run), _weights(reference)):
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), k
