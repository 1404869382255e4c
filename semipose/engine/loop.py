"""The training loop every method uses: epochs, progress, CSV log, atomic checkpoints, resume.

A method is a :class:`Recipe`; the loop asks it for batches, steps and evaluations and stores
whatever state it returns. Epoch ``e`` draws its batches from ``numpy.random.default_rng([seed, e])``
and the torch RNG state is checkpointed, so a resumed run continues exactly where it stopped.
"""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any, Iterable, Protocol

import numpy as np
import torch
from tqdm import tqdm

from ..io import atomic_torch_save, atomic_write_text

CHECKPOINT = "checkpoint.pt"


class Recipe(Protocol):
    def num_samples(self) -> int: ...  # samples in one epoch, for the progress bar
    def start_epoch(self, epoch: int, num_epochs: int) -> dict[str, float]: ...  # schedules; returns e.g. lr
    def batches(self, epoch: int, rng: np.random.Generator) -> Iterable[Any]: ...
    def train_step(self, batch: Any) -> dict[str, float]: ...  # must include 'n', the samples in the batch
    def evaluate(self) -> dict[str, float]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _write_log(path: Path, history: list[dict[str, float]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buf.getvalue())


def fit(recipe: Recipe, run_dir: str | Path, epochs: int, seed: int, eval_every: int = 0,
        resume: bool = False, progress: bool = True) -> list[dict[str, float]]:
    """Train ``recipe`` for ``epochs`` epochs, checkpointing after each; returns the per-epoch log.

    ``eval_every``: evaluate every that many epochs (0: after the last epoch only).
    """
    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT
    history: list[dict[str, float]] = []
    start, elapsed = 0, 0.0
    if resume and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path)
        recipe.load_state_dict(ckpt["recipe"])
        torch.set_rng_state(ckpt["torch_rng"])
        start, elapsed, history = ckpt["epoch"] + 1, ckpt["elapsed_s"], list(ckpt["history"])
    else:
        torch.manual_seed(seed)
    per_epoch = recipe.num_samples()
    bar = tqdm(total=per_epoch * epochs, initial=per_epoch * start, unit="sample", unit_scale=True,
               disable=not progress, dynamic_ncols=True, mininterval=1.0, desc="train")
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        row: dict[str, float] = {"epoch": epoch + 1, **recipe.start_epoch(epoch, epochs)}
        sums: dict[str, float] = {}
        n_total = 0
        for batch in recipe.batches(epoch, np.random.default_rng([seed, epoch])):
            out = recipe.train_step(batch)
            n = int(out.pop("n"))
            n_total += n
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + v * n
            bar.update(n)
            bar.set_postfix(epoch=epoch + 1, **{k: f"{v:.4g}" for k, v in out.items()}, refresh=False)
        train_s = time.perf_counter() - t0
        row.update({k: v / max(1, n_total) for k, v in sums.items()})
        row["samples_per_s"] = n_total / max(train_s, 1e-9)
        if hasattr(recipe, "end_epoch"):  # optional: per-epoch statistics of the recipe (e.g. a collapse monitor)
            row.update(recipe.end_epoch(epoch))
        stopping = getattr(recipe, "should_stop", lambda: False)()  # optional: a recipe may end training early
        last = epoch == epochs - 1 or stopping
        if last or (eval_every and (epoch + 1) % eval_every == 0):
            row.update(recipe.evaluate())
        elapsed += time.perf_counter() - t0
        row["elapsed_s"] = elapsed
        history.append(row)
        atomic_torch_save({"epoch": epoch, "recipe": recipe.state_dict(), "torch_rng": torch.get_rng_state(),
                           "elapsed_s": elapsed, "history": history}, ckpt_path)
        _write_log(run_dir / "log.csv", history)
        if progress:
            shown = {k: round(v, 3) for k, v in row.items() if k.endswith("_mm") or k in ("loss", "pck@0.2")}
            tqdm.write(f"epoch {epoch + 1}/{epochs} {shown} {row['samples_per_s']:.0f} samples/s")
        if stopping:
            break
    bar.close()
    return history
