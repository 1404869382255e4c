"""``semipose demo``: the semi-supervised loop on synthetic motion, in a few minutes on a laptop CPU.

Synthetic recordings from three cameras with detector-like 2D, 20% of each labeled; an ensemble
trained in parallel on the labeled part; the rest pseudo-labeled (``ssl.fusion``: by default the
views' 2D triangulated); one round of retraining from the ensemble's first member, beside labeled-only
and all-labeled training from the same start; a printed table and plots.
"""

from __future__ import annotations

import time
from pathlib import Path

from .config import config_path, dump_yaml
from .data.synthetic import write_synthetic_humaneva
from .engine import prepare_run_dir
from .lift.config import load_ssl_config
from .lift.data import load_split
from .lift.evaluate import predict_sequences
from .lift.model_file import load_model
from .lift.pseudo_labels import run_pseudo_label_rounds
from .plots import plot_poses_3d
from .studies.pseudo_label_rounds import plot as plot_rounds


def gap_closed_line(result: dict) -> str:
    """The share of the labeled-only -> all-labeled P-MPJPE gap that the pseudo-labels close, or, when
    they close none of it, why in one line (from the run's own numbers)."""
    gap = result["gap_closed_p_mpjpe"]
    if gap > 0:
        return (
            f"share of the P-MPJPE gap between labeled-only and all-labeled closed by the pseudo-labels "
            f"({result.get('pseudo_labels', 'pseudo-labels')}): {gap:.0%}"
        )
    rows = result["rows"]
    labeled_only, student = rows[0]["p_mpjpe_mm"], rows[-2]["p_mpjpe_mm"]
    pseudo = result["pseudo_label_error"][0]["p_mpjpe_mm"]
    return (
        f"no gain from the unlabeled data at this budget: the student ({student:.1f} mm P-MPJPE) does not beat "
        f"labeled-only ({labeled_only:.1f} mm) because it learns the pseudo-labels' own error ({pseudo:.1f} mm "
        f"on the unlabeled frames) on top of its fitting error (see docs/ensembles.md)"
    )


def run_demo(out: Path, overrides: list[str] | None = None) -> dict:
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = write_synthetic_humaneva(out / "data", frames=300, seed=0)
    print(f"[demo] synthetic HumanEva-15 motion: {data_dir}/")
    cfg = load_ssl_config(config_path("demo"), [f"data.root={data_dir.resolve()}", *(overrides or [])])
    prepare_run_dir(out, dump_yaml(cfg), cfg.train.seed, {"demo": "semi-supervised lifting on synthetic motion"})
    result = run_pseudo_label_rounds(cfg, out, progress=cfg.train.progress)
    plot_rounds(result, out / "rounds.png")
    model, skel = load_model(out / "round_1" / "members" / "member_00.pt", cfg=cfg)
    test, _ = load_split(cfg.data, cfg.data.subjects_test)
    seq = max(test, key=lambda s: s.num_frames)
    pred = predict_sequences(model, [seq.keypoints_2d], skel)[0]
    plot_poses_3d(
        pred,
        seq.root_relative_3d(),
        skel,
        out / "poses.png",
        f"after one round of pseudo-labels: {seq.subject} {seq.action}, camera {seq.camera_index + 1}",
    )
    print()
    print((out / "rounds.md").read_text())
    pl = result["pseudo_label_error"][0]
    print(
        f"[demo] labeled {result['labeled_frames']} frames, unlabeled {result['unlabeled_frames']}; "
        f"pseudo-label error against the hidden truth: MPJPE {pl['mpjpe_mm']:.1f} mm, P-MPJPE {pl['p_mpjpe_mm']:.1f} mm"
    )
    print(f"[demo] {gap_closed_line(result)}")
    print(f"[demo] done in {time.perf_counter() - t0:.0f} s. Results in {out}/:")
    print("[demo]   rounds.md / rounds.csv / rounds.json (the table above), rounds.png, poses.png,")
    print("[demo]   ensemble_labeled/ (members, metrics.md, uncertainty.png), round_1/, labeled_only/, all_labeled/")
    return result
