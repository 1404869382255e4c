"""Wall time to train an ensemble of M members with 1 and 2 workers, on the local and the Ray
backend, against the bound that one member's measured thread scaling sets.

With W workers on a machine of C cores each member trains with C // W torch threads. The bound for
W workers is the time the members would take if W of them ran side by side with no cost at all:
each member is first trained alone in this process with C // W threads (its time t_i), and the
bound is the makespan of handing those times, in order, to W workers as they come free (what the
pool does). ``measured / bound`` is the price of running side by side (start-up, memory bandwidth,
shared caches); the target is within 10% for 4 members on 2 workers, and Ray within 10% of local.

With the local backend one worker trains in this process; two workers are two spawned processes.
With Ray, one worker means members of ``num_cpus=C`` (one at a time), two workers members of
``num_cpus=C // 2``; the time includes starting the local Ray instance.

    python benchmarks/ensemble_scaling.py --out benchmarks/results/ensemble_scaling.json \
        model.channels=512 train.epochs=30
"""

from __future__ import annotations

import heapq
import os
import sys
import tempfile
import time
from pathlib import Path

import harness

from semipose.data.synthetic import write_synthetic_humaneva
from semipose.lift.config import load_ensemble_config
from semipose.lift.data import load_split
from semipose.lift.ensemble.member import train_member
from semipose.lift.ensemble.runner import make_tasks, train_ensemble, training_data


def makespan(times: list[float], workers: int) -> float:
    """Finish time of ``times`` handed out in order to ``workers`` workers, each taking the next task
    as soon as it is free."""
    free = [0.0] * max(1, workers)
    for t in times:
        heapq.heapreplace(free, free[0] + t)
    return max(free)


def alone_times(cfg, data, threads: int) -> list[float]:
    """Each member trained alone in this process with ``threads`` torch threads (seconds)."""
    out = []
    for task in make_tasks(cfg, data, threads):
        t0 = time.perf_counter()
        train_member(task, data)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = harness.parser(__doc__, "ensemble_scaling", threads=None)
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--backends", default="local,ray")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("overrides", nargs="*", help="config overrides for the members (default: a small network)")
    args = ap.parse_args()
    if args.smoke:  # two tiny members on the local pool, one and two workers
        args.members, args.backends = 2, "local"
        args.overrides = ["model.channels=16", "train.epochs=1", "train.precision=fp32", *args.overrides]
    base = [
        "model.channels=256",
        "train.epochs=4",
        "train.batch_size=256",
        "train.precision=auto",
        "train.progress=false",
        f"ensemble.members={args.members}",
        "ensemble.subset=overlap",
        "ensemble.subset_fraction=0.5",
    ]
    cfg = load_ensemble_config(None, base + args.overrides)
    try:
        seqs, skel = load_split(cfg.data, cfg.data.subjects_train)
        data_name = "HumanEva-I Train/S1-S3, Walk/Jog/Box"
    except Exception as e:
        print(f"real data not available ({e}); using synthetic data", file=sys.stderr)
        root = write_synthetic_humaneva(Path(tempfile.mkdtemp()) / "synth", frames=600)
        cfg = load_ensemble_config(None, base + [f"data.root={root}"] + args.overrides)
        seqs, skel = load_split(cfg.data, cfg.data.subjects_train)
        data_name = "synthetic"
    data = training_data(seqs, skel)
    cores = os.cpu_count() or 1
    worker_counts = [int(w) for w in args.workers.split(",")]
    alone = {w: alone_times(cfg, data, max(1, cores // w)) for w in worker_counts}
    bounds = {w: makespan(alone[w], w) for w in worker_counts}
    for w in worker_counts:
        print(
            f"bound  workers={w}: {bounds[w]:7.1f} s  (members alone with {max(1, cores // w)} thread(s): "
            f"{', '.join(f'{s:.1f}' for s in alone[w])} s)",
            flush=True,
        )
    rows = []
    for backend in args.backends.split(","):
        for workers in worker_counts:
            extra = [f"ensemble.backend={backend}"]
            extra += (
                [f"ensemble.workers={workers}"]
                if backend == "local"
                else [f"ensemble.num_cpus={max(1, cores // workers)}"]
            )
            c = load_ensemble_config(None, base + [f"data.root={cfg.data.root}"] + args.overrides + extra)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                status = train_ensemble(c, tmp, data, progress=False)
                wall = time.perf_counter() - t0
            failed = [m["index"] for m in status["members"] if m["status"] != "done"]
            member_s = [m.get("seconds", float("nan")) for m in status["members"]]
            threads = sorted({m.get("threads") for m in status["members"] if "threads" in m})
            precision = sorted({m["precision"]["used"] for m in status["members"] if "precision" in m})
            rows.append(
                {
                    "backend": backend,
                    "workers": workers,
                    "wall_s": round(wall, 2),
                    "bound_s": round(bounds[workers], 2),
                    "ratio_to_bound": round(wall / bounds[workers], 3),
                    "member_s": [round(s, 2) for s in member_s],
                    "threads_per_member": threads,
                    "precision": precision,
                    "failed": failed,
                }
            )
            print(
                f"{backend:5s} workers={workers}: {wall:7.1f} s, bound {bounds[workers]:7.1f} s, "
                f"ratio {wall / bounds[workers]:.3f}  (members {', '.join(f'{s:.1f}' for s in member_s)} s, "
                f"{threads} thread(s), {precision})",
                flush=True,
            )
    by = {(r["backend"], r["workers"]): r["wall_s"] for r in rows}
    summary = {}
    for r in rows:
        summary[f"{r['backend']}_{r['workers']}_workers_ratio_to_bound"] = r["ratio_to_bound"]
    for backend in args.backends.split(","):
        if (backend, 1) in by and (backend, 2) in by:
            summary[f"{backend}_ratio_2_to_1_workers"] = round(by[(backend, 2)] / by[(backend, 1)], 3)
    for w in worker_counts:
        if ("ray", w) in by and ("local", w) in by:
            summary[f"ray_overhead_vs_local_{w}_workers"] = round(by[("ray", w)] / by[("local", w)] - 1, 3)
    for k, v in summary.items():
        print(f"{k}: {v}")
    harness.write(
        args,
        {
            "data": data_name,
            "members": args.members,
            "config_overrides": base + args.overrides,
            "alone_s": {str(w): [round(t, 2) for t in alone[w]] for w in worker_counts},
            "results": rows,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
