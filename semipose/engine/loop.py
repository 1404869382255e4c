"""The training loop every method uses: epochs, progress, CSV log, atomic checkpoints, resume.

A method is a :class:`Recipe`; the loop asks it for batches, steps and evaluations and stores
whatever state it returns. Epoch ``e`` draws its batches from ``numpy.random.default_rng([seed, e])``
and the torch RNG state is checkpointed, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from ..io import atomic_torch_save, atomic_write_text

CHECKPOINT = "checkpoint.pt"


class Recipe(Protocol):
    """What the loop asks of a method (``methods.base.RecipeBase`` implements the hooks as no-ops)."""

    last_metrics: dict[str, Any] | None  # the full report of the latest evaluation (None before the first)

    def num_samples(self) -> int: ...  # samples in one epoch, for the progress bar
    def start_epoch(self, epoch: int, num_epochs: int) -> dict[str, float]: ...  # schedules; returns e.g. lr
    def batches(self, epoch: int, rng: np.random.Generator) -> Iterable[Any]: ...
    def train_step(self, batch: Any) -> dict[str, float]: ...  # must include 'n', the samples in the batch
    def evaluate(self) -> dict[str, float]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
    # hooks: after each epoch's steps, statistics for the log (validation, a collapse monitor) ...
    def end_epoch(self, epoch: int) -> dict[str, float]: ...
    # ... then whether to end training early (early stopping, a collapse) ...
    def should_stop(self) -> bool: ...
    # ... and once, before the final evaluation (e.g. the best-validated weights replace the last)
    def end_training(self) -> None: ...
    # Needed only under a time budget: schedules at a fraction of it; returns e.g. lr for the log.
    def set_progress(self, fraction: float) -> dict[str, float]: ...


class CheckpointError(ValueError):
    """A model or checkpoint file that cannot be read, or is not of the kind asked for."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint or model file's contents (tensors and plain data only: ``weights_only``), or a
    CheckpointError naming the file when it is missing, truncated or not a semipose file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: model or checkpoint file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, random bytes, a pickle with code in it: all refused alike
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path}: not a readable model or checkpoint file (truncated or corrupt?): {first[:200]}"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a semipose model or checkpoint (a dict), got {type(state).__name__}")
    return state


def _write_log(path: Path, history: list[dict[str, float]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buf.getvalue())


def fit(
    recipe: Recipe,
    run_dir: str | Path,
    epochs: int,
    seed: int,
    eval_every: int = 0,
    resume: bool = False,
    progress: bool = True,
    minutes: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
    checkpoint_every_s: float = 30.0,
) -> list[dict[str, float]]:
    """Train ``recipe`` for ``epochs`` epochs, checkpointing as it goes; returns the per-epoch log.

    ``eval_every``: evaluate every that many epochs (0: after the last epoch only).
    ``minutes``: a wall-clock budget of training time instead of an epoch count. Training stops when
    it is spent (mid-epoch if need be); before each step the recipe's ``set_progress`` gets the
    elapsed fraction of the budget, so its schedules run whole on any machine, compressed or
    stretched. ``epochs`` is then the planned count the schedules were made for. Evaluation time is
    not counted against the budget; a resumed run continues with the training time it had spent.
    ``checkpoint_every_s``: the checkpoint is written after the first epoch, after the last, and
    otherwise after an epoch that ends at least that many seconds after the last write, so that
    many short epochs (a small labeled set) do not spend their time saving; an interrupted run
    loses at most that much training. 0 writes one after every epoch.
    """
    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT
    budget_s = None if minutes is None else float(minutes) * 60.0
    history: list[dict[str, float]] = []
    start, train_s, eval_s, finished = 0, 0.0, 0.0, False
    if resume and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path)
        recipe.load_state_dict(ckpt["recipe"])
        torch.set_rng_state(ckpt["torch_rng"])
        if ckpt.get("cuda_rng") is not None and torch.cuda.is_available():  # dropout on a GPU draws from here
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        start, history = ckpt["epoch"] + 1, list(ckpt["history"])
        train_s = ckpt.get("train_s", ckpt["elapsed_s"])
        eval_s = ckpt.get("eval_s", 0.0)
        stopped = bool(ckpt.get("stopped", False))  # the recipe asked to end (e.g. a collapse)
        finished = stopped or (start >= epochs if budget_s is None else train_s >= budget_s)
    else:
        torch.manual_seed(seed)
    if budget_s is not None and not callable(getattr(recipe, "set_progress", None)):
        raise TypeError(f"{type(recipe).__name__} has no set_progress: it cannot train under a time budget")
    per_epoch = recipe.num_samples()
    if budget_s is None:
        bar = tqdm(
            total=per_epoch * epochs,
            initial=per_epoch * start,
            unit="sample",
            unit_scale=True,
            disable=not progress or finished,
            dynamic_ncols=True,
            mininterval=1.0,
            desc="train",
        )
    else:  # the bar counts seconds of the budget; the rate in samples/s goes with the postfix
        bar = tqdm(
            total=round(budget_s),
            initial=min(train_s, budget_s),
            unit="s",
            disable=not progress or finished,
            dynamic_ncols=True,
            mininterval=1.0,
            desc=f"train ({minutes:g} min budget)",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total_fmt} s [{elapsed}<{remaining}{postfix}]",
        )
    epoch, last_save = start, -math.inf
    while not finished:
        t0 = clock()
        row: dict[str, float] = {"epoch": epoch + 1, **recipe.start_epoch(epoch, epochs)}
        sums: dict[str, float] = {}
        n_total, out_of_time = 0, False
        for batch in recipe.batches(epoch, np.random.default_rng([seed, epoch])):
            if budget_s is not None:  # under a time budget
                spent = train_s + clock() - t0
                if spent >= budget_s:
                    out_of_time = True
                    if not n_total:  # no time left for this epoch's first step: log the schedules' end
                        row.update(recipe.set_progress(1.0))
                    break
                row.update(recipe.set_progress(spent / budget_s))
                bar.update(min(spent, budget_s) - bar.n)
            out = recipe.train_step(batch)
            n = int(out.pop("n"))
            n_total += n
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + v * n
            if budget_s is None:
                bar.update(n)
            bar.set_postfix(epoch=epoch + 1, **{k: f"{v:.4g}" for k, v in out.items()}, refresh=False)
        epoch_train_s = clock() - t0
        train_s += epoch_train_s
        row.update({k: v / max(1, n_total) for k, v in sums.items()})
        row["samples_per_s"] = n_total / max(epoch_train_s, 1e-9)
        v0 = clock()
        row.update(recipe.end_epoch(epoch))  # per-epoch statistics (validation, a collapse monitor)
        eval_s += clock() - v0  # validation is evaluation: not charged to a time budget
        stopping = recipe.should_stop()
        if budget_s is None:
            finished = epoch == epochs - 1 or stopping
        else:
            finished = out_of_time or train_s >= budget_s or stopping
            row["budget_fraction"] = min(1.0, train_s / budget_s)
        if finished:
            recipe.end_training()
        if finished or (eval_every and (epoch + 1) % eval_every == 0):
            e0 = clock()
            row.update(recipe.evaluate())
            eval_s += clock() - e0
        row.update(train_s=train_s, eval_s=eval_s, elapsed_s=train_s + eval_s)
        history.append(row)
        if finished or clock() - last_save >= checkpoint_every_s:
            atomic_torch_save(
                {
                    "epoch": epoch,
                    "recipe": recipe.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
                    "elapsed_s": train_s + eval_s,
                    "train_s": train_s,
                    "eval_s": eval_s,
                    "finished": finished,
                    "stopped": stopping,
                    "history": history,
                },
                ckpt_path,
            )
            _write_log(run_dir / "log.csv", history)
            last_save = clock()
        if progress:
            shown = {k: round(v, 3) for k, v in row.items() if k.endswith("_mm") or k in ("loss", "pck@0.2")}
            total = f"/{epochs}" if budget_s is None else f" ({100 * row['budget_fraction']:.0f}% of budget)"
            tqdm.write(f"epoch {epoch + 1}{total} {shown} {row['samples_per_s']:.0f} samples/s")
        epoch += 1
    bar.close()
    return history
