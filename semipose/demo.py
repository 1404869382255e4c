"""``semipose demo``: synthetic motion, a small lifting model trained and evaluated, tables and plots."""
from __future__ import annotations

import time
from pathlib import Path

from . import lift
from .cli import config_path
from .data.synthetic import write_synthetic_humaneva
from .plots import plot_poses_3d, plot_training_curve


def run_demo(out: Path, overrides: list[str] | None = None) -> dict:
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = write_synthetic_humaneva(out / "data", frames=300, seed=0)
    print(f"[demo] synthetic HumanEva-15 motion: {data_dir}/")
    cfg = lift.load_lift_config(config_path("demo"), [f"data.root={data_dir.resolve()}", *(overrides or [])])
    run_dir = out / "lift"
    metrics = lift.train(cfg, run_dir)
    curve = plot_training_curve(run_dir / "log.csv", run_dir / "training_curve.png")
    model, skel = lift.load_model(run_dir)
    seqs, _ = lift.load_split(cfg.data, cfg.data.subjects_test)
    seq = max(seqs, key=lambda s: s.num_frames)
    pred = lift.predict_sequences(model, [seq.keypoints_2d], skel)[0]
    poses = plot_poses_3d(pred, seq.root_relative_3d(), skel, run_dir / "poses.png",
                          f"{seq.subject} {seq.action}, camera {seq.camera_index + 1}")
    print()
    print(lift.metrics_markdown(metrics))
    print(f"[demo] done in {time.perf_counter() - t0:.0f} s. Results in {run_dir}/:")
    print(f"[demo]   metrics.md / metrics.csv / metrics.json (the table above), log.csv, model.pt")
    print(f"[demo]   plots: {curve.name}, {poses.name}")
    return metrics
