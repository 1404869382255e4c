"""``semipose pose2d train|ssl|evaluate|predict``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import score, train_run, training_args


def _cmd_pose2d_train(args: argparse.Namespace) -> int:
    from ..pose2d.config import load_pose2d_config
    from ..pose2d.train import train

    run_dir, _ = train_run(args, "pose2d", load_pose2d_config, train)
    print(f"results in {run_dir}/ (metrics.{{json,md,csv}}, training_curve.png, log.csv, model.pt, checkpoint.pt)")
    return 0


def _cmd_pose2d_ssl(args: argparse.Namespace) -> int:
    from ..pose2d.ssl import load_ssl2d_config, train_ssl

    run_dir, metrics = train_run(args, "ssl2d", load_ssl2d_config, train_ssl)
    if metrics.get("collapsed_at"):
        print(f"WARNING: training collapsed at epoch {metrics['collapsed_at']} (see {run_dir / 'collapse.png'})")
    print(f"results in {run_dir}/ (metrics.{{json,md,csv}}, training_curve.png, collapse.png, log.csv, model.pt)")
    return 0


def _flip(args: argparse.Namespace) -> bool | None:
    """False under ``--no-flip``; otherwise None: flip-test as the run's ``train.test_flip`` says."""
    return False if args.no_flip else None


def _cmd_pose2d_evaluate(args: argparse.Namespace) -> int:
    if args.detections:
        from ..pose2d.predict import evaluate_detections

        metrics = evaluate_detections(
            Path(args.run), args.detections, args.min_box_score, _flip(args), list(args.overrides)
        )
        where = Path(args.run) / "evaluation_detections"
    else:
        from ..pose2d.evaluate import evaluate

        metrics = evaluate(Path(args.run), list(args.overrides), flip_test=_flip(args))
        where = Path(args.run) / "evaluation"
    print(", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))
    print(f"results in {where}/")
    return 0


def _cmd_pose2d_predict(args: argparse.Namespace) -> int:
    from ..pose2d.predict import predict

    out = Path(args.out) if args.out else Path(args.run) / "predictions"
    summary = predict(
        args.run,
        out,
        args.images,
        args.detections,
        args.image_info,
        args.min_box_score,
        overlays=not args.no_overlays,
        flip_test=_flip(args),
    )
    print(
        f"{summary['people']} people in {summary['images']} images: {out / 'keypoints.json'}"
        + ("" if args.no_overlays else f", overlays in {out / 'overlays'}/")
    )
    return 0


def add_commands(sub) -> None:
    """Register this part's commands on the top-level subparsers."""
    p2 = sub.add_parser("pose2d", help="top-down 2D heatmap pose estimation").add_subparsers(
        dest="action", required=True
    )
    pt = p2.add_parser("train", help="train a heatmap model")
    training_args(pt, "synthpose", "pose2d")
    pt.add_argument("overrides", nargs="*")
    pt.set_defaults(func=_cmd_pose2d_train)
    ps = p2.add_parser(
        "ssl",
        help="semi-supervised training: supervised, pseudo_label, posecons, posedual, denoised, ema_teacher (method.name=...)",
    )
    training_args(ps, "synthpose_ssl", "ssl2d")
    ps.add_argument("overrides", nargs="*")
    ps.set_defaults(func=_cmd_pose2d_ssl)
    pe = p2.add_parser("evaluate", help="PCK and COCO AP of a trained run on its validation set")
    pe.add_argument("run")
    pe.add_argument("--no-flip", action="store_true", help="no flip test (default: as the run's train.test_flip)")
    pe.add_argument("--detections", help="COCO detection json: evaluate with these boxes instead of the true ones")
    pe.add_argument("--min-box-score", type=score, default=0.0)
    pe.add_argument("overrides", nargs="*")
    pe.set_defaults(func=_cmd_pose2d_evaluate)
    pp = p2.add_parser(
        "predict",
        help="keypoints for images (boxes from a detection json, or whole images): COCO result json and overlay PNGs",
    )
    pp.add_argument("run", help="a pose2d run directory (model.pt, config.yaml)")
    pp.add_argument("--images", required=True, help="an image file or a folder of images")
    pp.add_argument("--detections", help="COCO detection json (image_id, bbox, score); else one person per image")
    pp.add_argument("--image-info", help="COCO json whose 'images' map the detections' image ids to file names")
    pp.add_argument("--min-box-score", type=score, default=0.0)
    pp.add_argument("--no-overlays", action="store_true")
    pp.add_argument("--no-flip", action="store_true", help="no flip test (default: as the run's train.test_flip)")
    pp.add_argument("-o", "--out", help="output folder (default: <run>/predictions)")
    pp.set_defaults(func=_cmd_pose2d_predict)
