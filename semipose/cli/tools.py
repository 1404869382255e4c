"""``semipose study <name>``, ``export``, ``data synth3d|synthpose|clip`` and ``demo``: the commands of no one task."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import ConfigError, config_path
from ..data.synthpose import VERSIONS
from ..studies import STUDIES, get_study
from .common import claim_run, positive_int, split_name


def _cmd_export(args: argparse.Namespace) -> int:
    from ..export import export_model

    report = export_model(args.model, args.output, args.format)
    print(
        f"{args.output}: {report['kind']} model as {report['format']}, input {report['input']} "
        f"(dynamic {report['dynamic_axes'][report['input']]}); largest difference from PyTorch on "
        f"{report['checked_input_shape']}: {report['max_abs_diff']:.2e} (report: {args.output}.json)"
    )
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from ..engine import RUN_CONTROL_KEYS, run_directory

    study = get_study(args.name)
    if args.preset not in study.PRESETS:
        raise ConfigError(f"study {args.name}: unknown preset {args.preset!r}; expected one of {sorted(study.PRESETS)}")
    out, cfg = claim_run(
        args,
        f"study-{args.name}-{args.preset}",
        lambda path, ov: study.load(config_path(args.config or study.BASE_CONFIG), args.preset, ov),
        allowed=RUN_CONTROL_KEYS + ("study",),
    )
    with run_directory(out, args.resume, args.overwrite):
        result = study.run(cfg, out, progress=cfg.train.progress)
    print((out / f"{study.TABLE}.md").read_text())
    print(f"results in {out}/ (tables .md/.csv, plots .png, json)")
    return 1 if result.get("failed") else 0


def _cmd_data_synth3d(args: argparse.Namespace) -> int:
    from ..data.synthetic import write_synthetic_humaneva

    out = write_synthetic_humaneva(args.out, frames=args.frames, seed=args.seed)
    print(f"synthetic HumanEva-15 motion written to {out}/")
    return 0


def _cmd_data_clip(args: argparse.Namespace) -> int:
    from ..data.clip import write_clip

    out = write_clip(args.out, args.frames, args.seed)
    print(
        f"a {args.frames}-frame synthetic clip of two people in {out}/: clip.mp4, results.json (COCO keypoint "
        "results), images.json (frame numbers), truth.npz (the walker's true 3D)"
    )
    return 0


def _cmd_data_synthpose(args: argparse.Namespace) -> int:
    from ..data.synthpose import SynthPoseConfig, image_scale, write_synthpose

    size = args.size or 128 * image_scale(args.version)
    cfg = SynthPoseConfig(image_size=size, layout=args.layout, motion=tuple(args.motion), version=args.version)
    path = write_synthpose(args.out, args.images, args.seed, args.split, cfg)
    print(
        f"SynthPose v{args.version}: {args.images} images of {size}x{size} in {Path(args.out) / args.split}/, "
        f"{args.layout} labels in {path}"
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo
    from ..engine import default_run_dir, run_directory

    out = Path(args.out) if args.out else default_run_dir("demo")
    with run_directory(out, overwrite=args.overwrite):
        run_demo(out, args.overrides)
    return 0


def add_commands(sub) -> None:
    """Register this part's commands on the top-level subparsers."""
    ex = sub.add_parser("export", help="a lifting model or a 2D run as ONNX or TorchScript, checked against PyTorch")
    ex.add_argument("model", help="a lifting model file or run, or a pose2d run directory")
    ex.add_argument("-o", "--output", required=True, help="the file to write (e.g. model.onnx)")
    ex.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    ex.set_defaults(func=_cmd_export)

    st = sub.add_parser("study", help="run a study: tables and plots in one command")
    st.add_argument("name", choices=list(STUDIES))
    st.add_argument(
        "--preset",
        default="quick",
        help="quick (minutes), full (the documented cost) or a study's own: medium (ssl-2d, ssl-3d, "
        "denoise-ablation, hourglass-variants), medium-v1 (ssl-2d), medium-ap (hourglass-variants, denoise-ablation)",
    )
    st.add_argument("-c", "--config", help="base config (default: the study's own)")
    st.add_argument("-o", "--out", help="run directory (default: runs/study-<name>-<preset>-<time>-<pid>)")
    st.add_argument("--resume", action="store_true", help="continue the study in --out: finished runs are read back")
    st.add_argument(
        "--overwrite", action="store_true", help="replace the study in --out (kept until the new one finishes)"
    )
    st.add_argument("overrides", nargs="*")
    st.set_defaults(func=_cmd_study)

    data = sub.add_parser("data", help="generate datasets").add_subparsers(dest="action", required=True)
    dc = data.add_parser("clip", help="a short synthetic video of two people with a detector's COCO results")
    dc.add_argument("-o", "--out", required=True)
    dc.add_argument("--frames", type=positive_int, default=120)
    dc.add_argument("--seed", type=int, default=0)
    dc.set_defaults(func=_cmd_data_clip)
    s = data.add_parser("synth3d", help="synthetic HumanEva-15 motion in the VideoPose3D .npz layout")
    s.add_argument("-o", "--out", required=True)
    s.add_argument("--frames", type=positive_int, default=300, help="frames per sequence")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_data_synth3d)

    sp = data.add_parser(
        "synthpose", help="SynthPose: rendered figures with COCO-17 or MPII-16 labels, as a COCO dataset"
    )
    sp.add_argument("-o", "--out", required=True)
    sp.add_argument("--images", type=positive_int, default=1000)
    sp.add_argument("--split", type=split_name, default="train", help="the split's name (a folder under -o)")
    sp.add_argument("--size", type=positive_int, help="image side in pixels (default: 256; version 1: 128)")
    sp.add_argument(
        "--version",
        type=int,
        choices=list(VERSIONS),
        default=VERSIONS[-1],
        help=f"default {VERSIONS[-1]}, the latest. 1: small figures (COCO AP means little on them); 2: large "
        "full-bodied figures, left/right cue on hands and feet; 3: and eyes and ears drawn; 4: and side-tinted "
        "sleeves and legs; 5: and the torso two-toned by side",
    )
    sp.add_argument("--layout", default="coco17", choices=["coco17", "mpii16"], help="the labels' joints")
    sp.add_argument(
        "--motion",
        nargs="*",
        default=[],
        metavar="FILE",
        help="poses from real captures: .bvh, .amc (its <subject>.asf beside it) or a VideoPose3D "
        "3D .npz; default: the synthetic motion generator",
    )
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(func=_cmd_data_synthpose)

    d = sub.add_parser("demo", help="the whole loop on synthetic data, in a few minutes on a laptop CPU")
    d.add_argument("-o", "--out", help="run directory (default: runs/demo-<time>-<pid>)")
    d.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    d.add_argument("overrides", nargs="*", help="dotted overrides of the demo config")
    d.set_defaults(func=_cmd_demo)
