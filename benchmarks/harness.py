"""What every timing script shares: its command line (``--out``, ``--threads``, ``--device``, ``--smoke``),
timing with warm-up, repeats and device synchronisation, and the JSON it writes (its figures, the
arguments and the machine: CPU, package versions, git commit).

``--smoke`` runs a script on tiny inputs in seconds, to show that it still runs (CI does it for every
script); its figures mean nothing and it writes them only where ``--out`` says."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from semipose.engine.runtime import environment_info
from semipose.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"


def parser(doc: str | None, name: str, threads: int | None = 2, device: bool = False) -> argparse.ArgumentParser:
    """The script's argument parser with the common options; ``name`` gives the default output file."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(RESULTS / f"{name}.json"), help="the JSON to write")
    ap.add_argument("--smoke", action="store_true", help="tiny inputs, a few steps: does the script still run")
    if threads is not None:
        ap.add_argument("--threads", type=int, default=threads, help="torch threads")
    if device:
        ap.add_argument("--device", default="cpu", help="cpu or cuda")
    return ap


def start(args: argparse.Namespace) -> None:
    """Apply the common options (threads) before anything is timed."""
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)


def synchronize(device: str | torch.device = "cpu") -> None:
    """Wait for queued GPU work, so that a timer measures it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(
    fn: Callable[[], Any],
    repeats: int = 5,
    warmup: int = 1,
    device: str | torch.device = "cpu",
    min_seconds: float = 0.0,
) -> dict[str, float]:
    """Seconds per call of ``fn`` after ``warmup`` untimed calls: at least ``repeats`` calls, and more until
    ``min_seconds`` have passed; the median, the best and how many calls were timed."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - began < min_seconds:
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "best_s": min(times), "calls": len(times)}


def write(args: argparse.Namespace, payload: dict[str, Any]) -> Path:
    """``payload`` with the arguments and the environment, written atomically to ``args.out``."""
    out = Path(args.out)
    atomic_write_json(out, {**payload, "arguments": vars(args), "environment": environment_info()})
    print(f"wrote {out}")
    return out
