"""The one runner of a study's runs. A study declares its arms as data (:class:`Arm`: a name, the config
overrides of its runs, the row it fills, the arm whose model teaches it) and how one run trains (a
module-level function of the study's config as a plain dict, the overrides and the run's folder); the
runner trains every arm once per seed in ``<out>/<arm>/seed<k>`` on the shared pool
(:mod:`semipose.pool`), reads a finished run back, resumes an interrupted one, and hands each arm's
metrics by seed to the study's tables, which may be declared too (:class:`Row`, :class:`Column`,
:func:`table_rows`)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tqdm import tqdm

from ..config import ConfigError, dump_yaml, load_config
from ..io import atomic_write_text
from ..pool import LocalPool, RunsFailed
from ..pose2d.config import Pose2DConfig
from ..pose2d.ssl import SSL2DConfig, train_ssl
from ..pose2d.train import train

TrainRun = Callable[[dict[str, Any], list[str], Path, bool], dict[str, Any]]


@dataclass(frozen=True)
class Arm:
    """One arm of a study: its folder name, what its runs change in the study's config, its label in the
    tables (default: its name), and an initialisation rule: ``teacher`` names another arm whose run of the
    same seed, once finished, teaches this one (its ``model.pt`` as ``method.teacher``), so that a
    pseudo-label run does not train again the supervised model the study already has."""

    name: str
    overrides: tuple[str, ...] = ()
    label: str = ""
    teacher: str | None = None

    @property
    def row(self) -> str:
        return self.label or self.name


def as_arms(arms: dict[str, list[str]] | list[Arm]) -> list[Arm]:
    """Arms given as ``{name: overrides}`` (the short form) or as :class:`Arm`."""
    if isinstance(arms, dict):
        return [Arm(name, tuple(overrides)) for name, overrides in arms.items()]
    return list(arms)


def run_base(cfg: Any) -> dict[str, Any]:
    """A study config as the plain dict its runs start from: without its study section."""
    return {k: v for k, v in yaml.safe_load(dump_yaml(cfg)).items() if k != "study"}


def train_ssl_run(base: dict[str, Any], overrides: list[str], run_dir: Path, progress: bool) -> dict[str, Any]:
    """A semi-supervised 2D run (``pose2d ssl``) of the study's config with ``overrides``."""
    run_cfg = load_config(SSL2DConfig, None, overrides, base=base)
    return train_ssl(run_cfg, run_dir, resume=True, progress=progress)


def train_pose2d_run(base: dict[str, Any], overrides: list[str], run_dir: Path, progress: bool) -> dict[str, Any]:
    """A supervised 2D run (``pose2d train``) of the study's config with ``overrides``."""
    run_cfg = load_config(Pose2DConfig, None, [*overrides, f"train.progress={str(progress).lower()}"], base=base)
    return train(run_cfg, run_dir, resume=True)


def pool_threads(threads: int, workers: int) -> int:
    """Threads for each of ``workers`` runs at once: ``threads`` when set, else the cores shared out."""
    return threads or max(1, (os.cpu_count() or 1) // workers)


def _with_teacher(arm: Arm, overrides: list[str], run_dir: Path, out_dir: Path) -> list[str]:
    """The run's overrides as it starts: its teacher arm's model of the same seed when that has finished and
    the run has no teacher of its own yet."""
    if arm.teacher is None or (run_dir / "teacher" / "model.pt").is_file():
        return overrides
    model = out_dir / arm.teacher / run_dir.name / "model.pt"
    return [*overrides, f"method.teacher={model}"] if model.is_file() else overrides


def run_arms(
    arms: dict[str, list[str]] | list[Arm],
    seeds: list[int],
    out_dir: Path,
    cfg: Any,
    progress: bool = True,
    train_run: TrainRun = train_ssl_run,
) -> dict[str, list[dict[str, Any]]]:
    """Train every arm once per seed in ``<out>/<arm>/seed<k>`` with ``train_run`` and return each arm's
    metrics by seed. A run whose ``metrics.json`` exists is read back, an interrupted one resumes; arms
    with identical overrides share their runs (the first name's folder).

    ``cfg.study.workers`` > 1 trains that many runs at once in spawned processes, each with the cores
    shared out (``train.threads``, unless set); a failing run does not stop the others, and the study fails
    at the end naming every failed run (its traceback in ``<run>/failed.txt``). ``cfg.study.report_only``
    trains nothing: the runs finished so far make the tables (a long study's partial results). Each
    returned metrics dict carries its ``seed``, so that partial arms pair by seed."""
    declared = as_arms(arms)
    base = run_base(cfg)
    results: dict[str, list[dict[str, Any] | None]] = {}
    first: dict[tuple, str] = {}
    todo: list[tuple[Arm, int, list[str], Path]] = []
    for arm in declared:
        key = tuple(sorted(arm.overrides))
        if key in first:
            results[arm.name] = results[first[key]]  # the same list: filled in once
            continue
        first[key], results[arm.name] = arm.name, []
        for i, seed in enumerate(seeds):
            run_dir = out_dir / arm.name / f"seed{seed}"
            metrics_file = run_dir / "metrics.json"
            results[arm.name].append(json.loads(metrics_file.read_text()) if metrics_file.is_file() else None)
            if results[arm.name][i] is None:
                todo.append((arm, i, [*arm.overrides, f"train.seed={seed}"], run_dir))

    if getattr(cfg.study, "report_only", False):
        if todo:
            print(f"study.report_only: {len(todo)} runs not finished, left out: "
                  + ", ".join(f"{arm.name}/seed{seeds[i]}" for arm, i, _, _ in todo), file=sys.stderr)  # fmt: skip
        todo = []
        if not any(r is not None for runs in results.values() for r in runs):
            example = out_dir / (declared[0].name if declared else "ARM") / f"seed{seeds[0]}"
            raise ConfigError(
                f"{out_dir}: study.report_only, but no run of the study has finished there (expected "
                f"<arm>/seed<k>/metrics.json, e.g. {example})"
            )
    workers = min(cfg.study.workers, len(todo))
    if workers <= 1:  # one after the other, here: a failure stops the study at once, with its own error
        for arm, i, overrides, run_dir in todo:
            results[arm.name][i] = train_run(base, _with_teacher(arm, overrides, run_dir, out_dir), run_dir, progress)
            (run_dir / "failed.txt").unlink(missing_ok=True)  # an earlier attempt's
    else:
        threads = pool_threads(cfg.train.threads, workers)

        def call(i: int) -> tuple[Callable[..., dict[str, Any]], tuple]:
            arm, _, overrides, run_dir = todo[i]
            start = [*_with_teacher(arm, overrides, run_dir, out_dir), f"train.threads={threads}"]
            return train_run, (base, start, run_dir, False)

        done = run_in_pool([job[3] for job in todo], call, workers, progress)
        for i, metrics in done.items():
            arm, k, _, _ = todo[i]
            results[arm.name][k] = metrics
    return {
        name: [{**r, "seed": seeds[i]} for i, r in enumerate(runs) if r is not None] for name, runs in results.items()
    }


def run_in_pool(
    run_dirs: list[Path],
    call: Callable[[int], tuple[Callable[..., dict[str, Any]], tuple]],
    workers: int,
    progress: bool,
) -> dict[int, dict[str, Any]]:
    """Run job ``i`` (its folder ``run_dirs[i]``) as ``fn(*args)`` with ``fn, args = call(i)`` on the shared
    pool, at most ``workers`` at once; ``call`` is made only when a worker is free, so it sees the runs
    finished before it (``fn`` must be a module-level function). Returns each finished job's result by
    index. A failing run does not stop the others: its traceback goes to ``<run>/failed.txt`` and, once
    every run has ended, ``RunsFailed`` names each failed run (the finished ones are on disk)."""
    results: dict[int, dict[str, Any]] = {}
    bar = tqdm(total=len(run_dirs), desc=f"runs ({workers} at once)", unit="run", disable=not progress)

    def done(i: int, metrics: dict[str, Any]) -> None:
        results[i] = metrics
        (run_dirs[i] / "failed.txt").unlink(missing_ok=True)  # an earlier attempt's
        if progress:
            bar.write(f"{run_dirs[i]}: done")
        bar.update()

    failures = LocalPool(workers).run(len(run_dirs), lambda i, attempt: call(i), done)
    bar.close()
    failed = []
    for f in failures:
        run_dir = run_dirs[f.index]
        atomic_write_text(run_dir / "failed.txt", f.traceback)
        failed.append(f"{run_dir}: {f.error.splitlines()[0]}")
        if progress:
            print(
                f"{run_dir}: failed ({f.error.split(':')[0]}; traceback in {run_dir / 'failed.txt'})", file=sys.stderr
            )
    if failed:
        raise RunsFailed(
            f"{len(failed)} of {len(run_dirs)} runs failed (the others are kept; --resume retries the failed): "
            + "; ".join(failed)
        )
    return results


@dataclass(frozen=True)
class Column:
    """One column of a study's table, declared as data: a cell kind (:data:`CELLS`) over the metric ``key``
    of a row's runs, one per seed; a ``paired`` cell also reads the runs of the row's reference named
    ``against`` (the same seeds), and is empty where the row has none; a ``reference`` cell is that
    reference's name."""

    header: str
    key: str = ""
    cell: str = "mean_std"
    digits: int = 3
    against: str = ""


@dataclass(frozen=True)
class Row:
    """One row of a study's table: its leading cells as given (a label, a budget), the arm whose runs fill
    the columns, and the arms its paired columns compare against, by name (``None``: no comparison)."""

    fields: dict[str, Any]
    arm: str
    references: dict[str, str | None]


def _values(runs: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([float(r[key]) for r in runs if r.get(key) is not None], dtype=float)


def mean_std(runs: list[dict[str, Any]], key: str) -> tuple[float, float]:
    """Mean and standard deviation of ``key`` over the runs that have it (NaN for none)."""
    v = _values(runs, key)
    return (float(v.mean()), float(v.std())) if len(v) else (float("nan"), float("nan"))


def paired_delta(runs: list[dict[str, Any]], baseline: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Per-seed differences ``runs - baseline`` of ``key`` (the runs of one seed share their first
    network's initialisation, so pairing removes most of the seeds' spread): mean, std and how many
    seeds came out ahead. Runs pair by their ``seed`` (by position without one); unpaired runs are left out."""
    by_seed = {b.get("seed", i): b for i, b in enumerate(baseline)}
    pairs = [(r, by_seed[r.get("seed", i)]) for i, r in enumerate(runs) if r.get("seed", i) in by_seed]
    if not pairs:
        return {f"{key}_mean": float("nan"), f"{key}_std": float("nan"), "ahead": 0, "seeds": 0}
    d = np.array([float(r[key]) - float(b[key]) for r, b in pairs])
    return {f"{key}_mean": float(d.mean()), f"{key}_std": float(d.std()), "ahead": int((d > 0).sum()), "seeds": len(d)}


def _mean_std(runs: list[dict[str, Any]], c: Column, _: list[dict[str, Any]] | None) -> str:
    m, s = mean_std(runs, c.key)
    return f"{m:.{c.digits}f} ± {s:.{c.digits}f}"


def _paired(runs: list[dict[str, Any]], c: Column, reference: list[dict[str, Any]] | None) -> str:
    """``mean ± std (k/n ahead)`` of the per-seed differences from the reference's runs of the same seed."""
    d = paired_delta(runs, reference, c.key) if reference else {"seeds": 0}
    if not d["seeds"]:
        return ""
    return f"{d[f'{c.key}_mean']:+.{c.digits}f} ± {d[f'{c.key}_std']:.{c.digits}f} ({d['ahead']}/{d['seeds']} ahead)"


def _paired_mean(runs: list[dict[str, Any]], c: Column, reference: list[dict[str, Any]] | None) -> float | str:
    return paired_delta(runs, reference, c.key)[f"{c.key}_mean"] if reference else ""


def _paired_ahead(runs: list[dict[str, Any]], c: Column, reference: list[dict[str, Any]] | None) -> str:
    if not reference:
        return ""
    d = paired_delta(runs, reference, c.key)
    return f"{d['ahead']}/{d['seeds']}"


def _mean_text(runs: list[dict[str, Any]], c: Column, _: list[dict[str, Any]] | None) -> str:
    values = [float(r[c.key]) for r in runs if r.get(c.key) is not None]
    return f"{sum(values) / len(values):.{c.digits}f}" if values else "-"


def _seed_values(runs: list[dict[str, Any]], c: Column, _: list[dict[str, Any]] | None) -> str:
    return ", ".join(f"{r[c.key]:.{c.digits}f}" for r in runs)


def _per_seed(runs: list[dict[str, Any]], c: Column, _: list[dict[str, Any]] | None) -> str:
    """Each seed's value of every ``|``-separated key, the later keys in brackets: ``0.758, 0.791 (0.016,
    0.021)``; the seeds are named where they are not 0, 1, ... (a partial study)."""
    first, *rest = c.key.split("|")
    text = ", ".join(f"{r[first]:.{c.digits}f}" for r in runs)
    text += "".join(f" ({', '.join(f'{r[k]:.{c.digits}f}' for r in runs)})" for k in rest)
    seeds = [r.get("seed", i) for i, r in enumerate(runs)]
    return text if seeds == list(range(len(runs))) else f"seeds {', '.join(map(str, seeds))}: {text}"


def _collapsed(runs: list[dict[str, Any]], c: Column, _: list[dict[str, Any]] | None) -> str:
    return f"{sum(1 for r in runs if r.get('collapsed_at'))}/{len(runs)}"


def _minutes(runs: list[dict[str, Any]], c: Column, _: list[dict[str, Any]] | None) -> float:
    return float(np.mean([r[c.key or "train_wall_s"] for r in runs])) / 60


CELLS: dict[str, Callable[[list[dict[str, Any]], Column, list[dict[str, Any]] | None], Any]] = {
    "mean_std": _mean_std,  # "0.015 ± 0.008" over the seeds
    "mean": lambda runs, c, _: mean_std(runs, c.key)[0],  # the mean over the seeds, a number
    "std": lambda runs, c, _: mean_std(runs, c.key)[1],  # the standard deviation over the seeds, a number
    "count": lambda runs, c, _: len(runs),  # how many seeds have finished
    "positive": lambda runs, c, _: f"{int((_values(runs, c.key) > 0).sum())}/{len(runs)}",  # "2/3": seeds above 0
    "mean_text": _mean_text,  # "0.512": the mean over the seeds that have the value, "-" where none has
    "paired": _paired,  # "+0.0120 ± 0.0040 (3/3 ahead)" against the row's reference `against`
    "paired_mean": _paired_mean,  # the mean of those differences, a number ("" without a reference)
    "paired_ahead": _paired_ahead,  # "3/3": the seeds ahead of the reference ("" without one)
    "values": _seed_values,  # "0.072, 0.080, 0.027": each seed's value
    "per_seed": _per_seed,  # "0.758, 0.791 (0.016, 0.021)"
    "collapsed": _collapsed,  # "1/3": runs the collapse monitor stopped
    "avoids_collapse": lambda runs, c, _: "no" if any(r.get("collapsed_at") for r in runs) else "yes",
    "minutes": _minutes,  # mean training minutes (key: seconds, default train_wall_s)
}


def table_rows(
    rows: list[Row], columns: list[Column], results: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The table: each row's fields, then one cell per column from its arm's runs (a row whose arm has no
    finished run is left out: ``study.report_only`` on a partial study)."""
    out = []
    for row in rows:
        runs = results.get(row.arm)
        if not runs:
            continue
        cells = {}
        for c in columns:
            ref = row.references.get(c.against) if c.against else None
            if c.cell == "reference":  # the name of the arm the row is compared with
                cells[c.header] = ref
                continue
            cells[c.header] = CELLS[c.cell](runs, c, results.get(ref) if ref else None)
        out.append({**row.fields, **cells})
    return out
