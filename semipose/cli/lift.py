"""``semipose lift train|evaluate|predict|import-vp3d``, ``ensemble train|evaluate|predict`` and ``render``."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..config import config_path
from ..reports import lifting_markdown, write_lifting_metrics
from .common import claim_run, positive_int, score, training_args


def _cmd_lift_train(args: argparse.Namespace) -> int:
    from ..engine import run_directory
    from ..lift.config import load_lift_config
    from ..lift.train import train

    run_dir, cfg = claim_run(args, "lift", load_lift_config)
    with run_directory(run_dir, args.resume, args.overwrite):
        metrics = train(cfg, run_dir, resume=args.resume)
    print(lifting_markdown(metrics))
    print(f"results in {run_dir}/ (metrics.{{json,md,csv}}, training_curve.png, log.csv, model.pt, checkpoint.pt)")
    return 0


def _cmd_lift_evaluate(args: argparse.Namespace) -> int:
    from ..lift.evaluate import evaluate

    model = Path(args.model)
    out = Path(args.out) if args.out else (model if model.is_dir() else model.parent) / "evaluation"
    metrics = evaluate(model, args.overrides, config_path(args.config) if args.config else None, out)
    print(lifting_markdown(metrics))
    print(f"results in {out}/")
    return 0


def _reading(args: argparse.Namespace) -> dict:
    """The 2D input options of ``lift predict`` and ``ensemble predict``."""
    return {
        "fmt": args.format,
        "track": args.track,
        "min_score": args.min_score,
        "image_info": args.image_info,
        "video": args.video_name,
    }


def _report_input(report: dict, poses, output: str) -> None:
    stem = Path(output).with_suffix("")
    conv = f", {report['layout']} -> {report['converted_to']}" if report["converted_to"] else ""
    print(
        f"read {report['frames']} frames ({report['format']}{conv}; up to {report['max_people_per_frame']} people "
        f"a frame, one kept by {report['person_rule']}; {report['frames_without_person']} frames without them)"
    )
    if report["filled_keypoints"]:
        print(
            f"filled {report['filled_keypoints']} missing keypoints by interpolation over time "
            f"({report['low_confidence_keypoints']} of them scored below {report['min_score']})"
        )
    print(f"lifted {poses.shape[0]} frames of {poses.shape[1]} joints -> {stem}.npz, {stem}.json")


def _cmd_lift_import_vp3d(args: argparse.Namespace) -> int:
    from ..lift.import_vp3d import import_videopose3d

    cfg, skel = import_videopose3d(args.checkpoint, args.output, args.causal, args.skeleton)
    rf = math.prod(cfg.filter_widths)
    kind = "causal" if cfg.causal else "symmetric"
    print(
        f"{args.output}: {skel.name}, receptive field {rf} ({kind}), {cfg.channels} channels, widths {cfg.filter_widths}"
    )
    return 0


def _cmd_lift_predict(args: argparse.Namespace) -> int:
    from ..lift.predict import predict

    poses, report = predict(
        args.model,
        args.input,
        args.output,
        args.width,
        args.height,
        flip=not args.no_flip,
        stream=args.stream,
        causal=args.causal,
        **_reading(args),
    )
    if args.stream:
        print(f"streamed frame by frame: {report['stream_ms_per_frame']:.2f} ms a frame")
    _report_input(report, poses, args.output)
    _render_if_asked(args)
    return 0


def _ensemble_overrides(args: argparse.Namespace) -> list[str]:
    extra = []
    if getattr(args, "backend", None):
        extra.append(f"ensemble.backend={args.backend}")
    if getattr(args, "workers", None):
        extra.append(f"ensemble.workers={args.workers}")
    if getattr(args, "ray_address", None):
        extra.append(f"ensemble.ray_address={args.ray_address}")
    return extra + list(args.overrides)


def _cmd_ensemble_train(args: argparse.Namespace) -> int:
    from ..config import dump_yaml
    from ..engine import RUN_CONTROL_KEYS, prepare_run_dir, run_directory, set_threads
    from ..lift.config import load_ensemble_config
    from ..lift.data import load_split
    from ..lift.ensemble import runner

    run_dir, cfg = claim_run(
        args,
        "ensemble",
        lambda path, ov: load_ensemble_config(path, _ensemble_overrides(args)),
        allowed=RUN_CONTROL_KEYS
        + ("ensemble.workers", "ensemble.backend", "ensemble.ray_address", "ensemble.num_cpus", "ensemble.num_gpus"),
    )
    set_threads(cfg.train.threads)
    seqs, skel = load_split(cfg.data, cfg.data.subjects_train)
    with run_directory(run_dir, args.resume, args.overwrite):
        prepare_run_dir(run_dir, dump_yaml(cfg), cfg.train.seed, {"skeleton": skel.name})
        status = runner.train_ensemble(
            cfg, run_dir, runner.training_data(seqs, skel), resume=args.resume, progress=cfg.train.progress
        )
    failed = [m["index"] for m in status["members"] if m["status"] == "failed"]
    metrics = _evaluate_ensemble_run(run_dir, cfg)
    print(lifting_markdown(metrics))
    print(
        f"ensemble of {metrics['num_members']}: MPJPE {metrics['mpjpe_mm']:.1f} mm, P-MPJPE "
        f"{metrics['p_mpjpe_mm']:.1f} mm; members on average {metrics['members_mean']['mpjpe_mm']:.1f} / "
        f"{metrics['members_mean']['p_mpjpe_mm']:.1f} mm"
    )
    print(f"results in {run_dir}/ (ensemble.json, members/, metrics.*, uncertainty plots)")
    if failed:
        print(f"semipose: members {failed} failed; see {run_dir}/ensemble.json", file=sys.stderr)
        return 1
    return 0


def _evaluate_ensemble_run(run_dir: Path, cfg) -> dict:
    from ..engine import resolve_device
    from ..lift.data import load_split
    from ..lift.ensemble import runner
    from ..plots import plot_uncertainty

    test, skel = load_split(cfg.data, cfg.data.subjects_test)
    train, _ = load_split(cfg.data, cfg.data.subjects_train)
    keys = runner.member_keys(cfg, runner.training_data(train, skel))
    models = runner.load_members(run_dir, cfg, skel, resolve_device(cfg.train.device), keys)
    metrics = runner.evaluate_ensemble(models, test, skel, cfg.train.test_flip)
    write_lifting_metrics(run_dir, metrics)
    if "uncertainty_curves" in metrics:
        plot_uncertainty(metrics["uncertainty_curves"], run_dir / "uncertainty.png")
    return metrics


def _cmd_ensemble_predict(args: argparse.Namespace) -> int:
    from ..lift.ensemble.predict import predict_ensemble

    mean, spread, report = predict_ensemble(
        args.run, args.input, args.output, args.width, args.height, flip=not args.no_flip, **_reading(args)
    )
    _report_input(report, mean, args.output)
    print(f"{report['members']} members; joint spread {1000 * spread.mean():.1f} mm on average, "
          f"{1000 * spread.max():.1f} mm at most")  # fmt: skip
    _render_if_asked(args)
    return 0


def _cmd_ensemble_evaluate(args: argparse.Namespace) -> int:
    from ..lift.config import load_ensemble_config

    run_dir = Path(args.run)
    cfg = load_ensemble_config(run_dir / "config.yaml", list(args.overrides))
    metrics = _evaluate_ensemble_run(run_dir, cfg)
    print(lifting_markdown(metrics))
    print(f"results in {run_dir}/")
    return 0


def _render_if_asked(args: argparse.Namespace) -> None:
    if not (args.render or args.video):
        return
    from ..lift.render import read_lifted, render_html, render_video

    stem = Path(args.output).with_suffix("")
    seq = read_lifted(stem.with_suffix(".npz"))
    render_video(seq, stem.with_suffix(".mp4"), args.video, progress=sys.stderr.isatty())
    render_html(seq, stem.with_suffix(".html"))
    print(f"rendered {stem}.mp4 and {stem}.html")


def _cmd_render(args: argparse.Namespace) -> int:
    from ..lift.render import read_lifted, render_html, render_video

    seq = read_lifted(args.input)
    out = Path(args.output)
    html_fps = args.fps or 25.0
    if out.suffix == ".html":
        render_html(seq, out, html_fps)
    else:
        render_video(seq, out, args.video, args.fps, args.rotate, progress=sys.stderr.isatty())
    written = [out]
    if args.html:
        written.append(render_html(seq, args.html, html_fps))
    print(f"{len(seq.poses)} frames -> {', '.join(map(str, written))}")
    return 0


INPUT_HELP = (
    "2D keypoints in pixels: a COCO keypoint results JSON, MMPose predictions JSON, a folder of OpenPose JSON, "
    "VideoPose3D's custom npz, or semipose's .npz/.json with 'keypoints' in the model's joint set"
)


def _input_2d_args(cmd: argparse.ArgumentParser) -> None:
    """How a user's 2D keypoints are read (see semipose/data/keypoints2d.py)."""
    from ..data.keypoints2d import FORMATS, TRACKS

    cmd.add_argument("--format", choices=FORMATS, default="auto", help="input format (default: from the file)")
    cmd.add_argument(
        "--track",
        choices=TRACKS,
        default="score",
        help="one person per frame: the highest-scoring (score) or the one whose box follows the first (iou)",
    )
    cmd.add_argument(
        "--min-score", type=score, default=0.3, help="joints scoring below are filled over time (default 0.3)"
    )
    cmd.add_argument("--image-info", help="COCO JSON whose 'images' give the results' file names (frame numbers)")
    cmd.add_argument("--video-name", help="VideoPose3D custom npz: which of its videos")
    cmd.add_argument("--width", type=positive_int, help="image width in pixels, if the input file gives none")
    cmd.add_argument("--height", type=positive_int, help="image height in pixels")
    cmd.add_argument("--no-flip", action="store_true", help="no test-time flip averaging")
    cmd.add_argument(
        "--render", action="store_true", help="also write <output>.mp4 and <output>.html (semipose render)"
    )
    cmd.add_argument("--video", help="with --render: the input video, shown beside the 3D skeleton")


def add_commands(sub) -> None:
    """Register this part's commands on the top-level subparsers."""
    lift = sub.add_parser("lift", help="3D lifting of 2D keypoint sequences").add_subparsers(
        dest="action", required=True
    )
    t = lift.add_parser("train", help="train a temporal model")
    training_args(t, "humaneva", "lift")
    t.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=5")
    t.set_defaults(func=_cmd_lift_train)

    e = lift.add_parser("evaluate", help="evaluate a trained model on the config's test subjects")
    e.add_argument("model", help="run directory, model.pt or checkpoint.pt")
    e.add_argument("-c", "--config", help="config (default: the run's config.yaml)")
    e.add_argument("-o", "--out", help="where to write metrics (default: <run>/evaluation)")
    e.add_argument("overrides", nargs="*")
    e.set_defaults(func=_cmd_lift_evaluate)

    r = lift.add_parser("predict", help="lift a 2D keypoint file (.npz or .json) to 3D")
    r.add_argument("model", help="run directory or model.pt")
    r.add_argument("input", help=INPUT_HELP)
    r.add_argument("-o", "--output", required=True, help="output path; .npz and .json are written")
    _input_2d_args(r)
    r.add_argument("--stream", action="store_true", help="lift frame by frame as a live stream would (a causal model)")
    r.add_argument("--causal", action="store_true", help="refuse a model that looks ahead (not causal)")
    r.set_defaults(func=_cmd_lift_predict)

    vp = lift.add_parser("import-vp3d", help="a VideoPose3D checkpoint (.bin) as a semipose model file")
    vp.add_argument("checkpoint", help="VideoPose3D checkpoint (its 'model_pos' weights) or a bare state dict")
    vp.add_argument("-o", "--output", required=True, help="the model file to write (e.g. model.pt)")
    vp.add_argument("--causal", action="store_true", help="the model was trained causal (not stored in the weights)")
    vp.add_argument("--skeleton", choices=["humaneva15", "h36m17"], help="joint set (default: by joint count)")
    vp.set_defaults(func=_cmd_lift_import_vp3d)

    ens = sub.add_parser("ensemble", help="deep ensembles of lifting networks").add_subparsers(
        dest="action", required=True
    )
    et = ens.add_parser("train", help="train (or --resume) an ensemble, then evaluate it")
    training_args(et, "humaneva_ensemble", "ensemble", resume="train only the members not finished in --out")
    et.add_argument("--backend", choices=["local", "ray"])
    et.add_argument("--workers", type=positive_int, help="local backend: worker processes")
    et.add_argument("--ray-address", help="ray backend: cluster address or 'auto' (default: a local instance)")
    et.add_argument("overrides", nargs="*")
    et.set_defaults(func=_cmd_ensemble_train)
    ep = ens.add_parser("predict", help="the ensemble's mean 3D and each joint's spread for your own 2D")
    ep.add_argument("run", help="an ensemble run directory")
    ep.add_argument("input", help=INPUT_HELP)
    ep.add_argument("-o", "--output", required=True, help="output path; .npz and .json are written")
    _input_2d_args(ep)
    ep.set_defaults(func=_cmd_ensemble_predict)
    ee = ens.add_parser("evaluate", help="evaluate the finished members of an ensemble run")
    ee.add_argument("run")
    ee.add_argument("overrides", nargs="*")
    ee.set_defaults(func=_cmd_ensemble_evaluate)

    rd = sub.add_parser("render", help="a lifted sequence as MP4/GIF beside its video or 2D, and as interactive HTML")
    rd.add_argument("input", help="the .npz that lift predict or ensemble predict wrote")
    rd.add_argument("-o", "--output", required=True, help="out.mp4, out.gif or out.html")
    rd.add_argument("--video", help="the input video, shown beside the 3D skeleton (else the 2D keypoints)")
    rd.add_argument("--rotate", action="store_true", help="turn the 3D view once around over the sequence")
    rd.add_argument("--fps", type=float, help="frames per second (default: the video's, else 25)")
    rd.add_argument("--html", help="also write this interactive HTML player")
    rd.set_defaults(func=_cmd_render)
