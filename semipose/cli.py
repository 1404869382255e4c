"""The ``semipose`` command line.

``demo``; ``lift train|evaluate|predict|import-vp3d``; ``ensemble train|evaluate|predict``; ``pose2d
train|ssl|evaluate|predict``; ``render`` (MP4/GIF/HTML of a lifted sequence); ``export`` (ONNX,
TorchScript); ``study <name>`` (the names of ``studies.STUDIES``); ``data synth3d|synthpose|clip``. ``semipose --debug ...`` (or ``SEMIPOSE_DEBUG=1``) shows tracebacks; bad input
exits 2 with one line naming the file and field, other errors 1, Ctrl-C 130.

Configs are YAML files (or the name of one shipped in ``semipose/configs``) and dotted overrides:
``semipose lift train -c humaneva train.epochs=5 data.root=/data/humaneva``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from .config import ConfigError, config_path
from .data.errors import DataError
from .data.synthpose import VERSIONS
from .processes import RunsFailed
from .reports import lifting_markdown, write_lifting_metrics
from .studies import STUDIES, get_study


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def split_name(text: str) -> str:
    """argparse type: a plain folder name (no path), so outputs stay under -o."""
    if not text or text in (".", "..") or "/" in text or "\\" in text or text.startswith("."):
        raise argparse.ArgumentTypeError(f"expected a plain name such as train or val, got {text!r}")
    return text


def score(text: str) -> float:
    """argparse type: a finite number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
    return value


def _claim(args: argparse.Namespace, kind: str, load_fn, allowed: tuple[str, ...] | None = None):
    """The run directory and the validated config of a training command; with ``--resume`` the run's
    own config.yaml plus overrides, refused when they change more than ``allowed`` (nothing is
    written before these checks pass)."""
    from .engine import EXTENSION_KEYS, RUN_CONTROL_KEYS, RunDirError, check_resume, default_run_dir

    if args.resume and not args.out:
        raise ConfigError("--resume needs -o/--out, the run directory to continue")
    run_dir = Path(args.out) if args.out else default_run_dir(kind)
    if args.resume:
        if not (run_dir / "config.yaml").is_file():
            raise RunDirError(f"{run_dir}: nothing to resume (no config.yaml); drop --resume to start a new run")
        cfg = load_fn(run_dir / "config.yaml", list(args.overrides))
        check_resume(run_dir, cfg, allowed or RUN_CONTROL_KEYS + EXTENSION_KEYS)
    else:
        cfg = load_fn(config_path(args.config), list(args.overrides))
    return run_dir, cfg


def _cmd_lift_train(args: argparse.Namespace) -> int:
    from . import lift
    from .engine import run_directory

    run_dir, cfg = _claim(args, "lift", lift.load_lift_config)
    with run_directory(run_dir, args.resume, args.overwrite):
        metrics = lift.train(cfg, run_dir, resume=args.resume)
    print(lifting_markdown(metrics))
    print(f"results in {run_dir}/ (metrics.json, metrics.md, log.csv, model.pt, checkpoint.pt)")
    return 0


def _cmd_lift_evaluate(args: argparse.Namespace) -> int:
    from . import lift

    model = Path(args.model)
    cfg_file = (
        config_path(args.config)
        if args.config
        else (model / "config.yaml" if model.is_dir() else model.parent / "config.yaml")
    )
    cfg = lift.load_lift_config(cfg_file if cfg_file and cfg_file.is_file() else None, args.overrides)
    out = Path(args.out) if args.out else (model if model.is_dir() else model.parent) / "evaluation"
    metrics = lift.evaluate(model, cfg, out)
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
    from . import lift

    cfg, skel = lift.import_videopose3d(args.checkpoint, args.output, args.causal, args.skeleton)
    rf = math.prod(cfg.filter_widths)
    kind = "causal" if cfg.causal else "symmetric"
    print(
        f"{args.output}: {skel.name}, receptive field {rf} ({kind}), {cfg.channels} channels, widths {cfg.filter_widths}"
    )
    return 0


def _cmd_lift_predict(args: argparse.Namespace) -> int:
    from . import lift

    poses, report = lift.predict(
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
    from . import lift
    from .config import dump_yaml
    from .engine import RUN_CONTROL_KEYS, prepare_run_dir, run_directory, set_threads
    from .ensemble import runner

    run_dir, cfg = _claim(
        args,
        "ensemble",
        lambda path, ov: runner.load_ensemble_config(path, _ensemble_overrides(args)),
        allowed=RUN_CONTROL_KEYS
        + ("ensemble.workers", "ensemble.backend", "ensemble.ray_address", "ensemble.num_cpus", "ensemble.num_gpus"),
    )
    set_threads(cfg.train.threads)
    seqs, skel = lift.load_split(cfg.data, cfg.data.subjects_train)
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
    from . import lift
    from .engine import resolve_device
    from .ensemble import runner
    from .plots import plot_uncertainty

    test, skel = lift.load_split(cfg.data, cfg.data.subjects_test)
    train, _ = lift.load_split(cfg.data, cfg.data.subjects_train)
    keys = runner.member_keys(cfg, runner.training_data(train, skel))
    models = runner.load_members(run_dir, cfg, skel, resolve_device(cfg.train.device), keys)
    metrics = runner.evaluate_ensemble(models, test, skel, cfg.train.test_flip)
    write_lifting_metrics(run_dir, metrics)
    if "uncertainty_curves" in metrics:
        plot_uncertainty(metrics["uncertainty_curves"], run_dir / "uncertainty.png")
    return metrics


def _cmd_ensemble_predict(args: argparse.Namespace) -> int:
    from .ensemble.predict import predict_ensemble

    mean, spread, report = predict_ensemble(
        args.run, args.input, args.output, args.width, args.height, flip=not args.no_flip, **_reading(args)
    )
    _report_input(report, mean, args.output)
    print(f"{report['members']} members; joint spread {1000 * spread.mean():.1f} mm on average, "
          f"{1000 * spread.max():.1f} mm at most")  # fmt: skip
    _render_if_asked(args)
    return 0


def _cmd_ensemble_evaluate(args: argparse.Namespace) -> int:
    from .ensemble import runner

    run_dir = Path(args.run)
    cfg = runner.load_ensemble_config(run_dir / "config.yaml", list(args.overrides))
    metrics = _evaluate_ensemble_run(run_dir, cfg)
    print(lifting_markdown(metrics))
    print(f"results in {run_dir}/")
    return 0


def _render_if_asked(args: argparse.Namespace) -> None:
    if not (args.render or args.video):
        return
    from .render import read_lifted, render_html, render_video

    stem = Path(args.output).with_suffix("")
    seq = read_lifted(stem.with_suffix(".npz"))
    render_video(seq, stem.with_suffix(".mp4"), args.video, progress=sys.stderr.isatty())
    render_html(seq, stem.with_suffix(".html"))
    print(f"rendered {stem}.mp4 and {stem}.html")


def _cmd_render(args: argparse.Namespace) -> int:
    from .render import read_lifted, render_html, render_video

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


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_model

    report = export_model(args.model, args.output, args.format)
    print(
        f"{args.output}: {report['kind']} model as {report['format']}, input {report['input']} "
        f"(dynamic {report['dynamic_axes'][report['input']]}); largest difference from PyTorch on "
        f"{report['checked_input_shape']}: {report['max_abs_diff']:.2e} (report: {args.output}.json)"
    )
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from .engine import RUN_CONTROL_KEYS, run_directory

    study = get_study(args.name)
    if args.preset not in study.PRESETS:
        raise ConfigError(f"study {args.name}: unknown preset {args.preset!r}; expected one of {sorted(study.PRESETS)}")
    out, cfg = _claim(
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


def _train_run(args: argparse.Namespace, kind: str, load_fn, train_fn) -> tuple[Path, dict]:
    """Train a run from ``-c`` (or its own config.yaml with ``--resume``) plus overrides; print its figures."""
    from .engine import run_directory

    run_dir, cfg = _claim(args, kind, load_fn)
    with run_directory(run_dir, args.resume, args.overwrite):
        metrics = train_fn(cfg, run_dir, resume=args.resume)
    print(", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))
    return run_dir, metrics


def _cmd_pose2d_train(args: argparse.Namespace) -> int:
    from .pose2d import load_pose2d_config, train_pose2d

    run_dir, _ = _train_run(args, "pose2d", load_pose2d_config, train_pose2d)
    print(f"results in {run_dir}/ (metrics.json, log.csv, model.pt, checkpoint.pt)")
    return 0


def _cmd_pose2d_ssl(args: argparse.Namespace) -> int:
    from .pose2d_ssl import load_ssl2d_config, train_ssl2d

    run_dir, metrics = _train_run(args, "ssl2d", load_ssl2d_config, train_ssl2d)
    if metrics.get("collapsed_at"):
        print(f"WARNING: training collapsed at epoch {metrics['collapsed_at']} (see {run_dir / 'collapse.png'})")
    print(f"results in {run_dir}/ (metrics.json, log.csv, collapse.png, model.pt)")
    return 0


def _flip(args: argparse.Namespace) -> bool | None:
    """False under ``--no-flip``; otherwise None: flip-test as the run's ``train.test_flip`` says."""
    return False if args.no_flip else None


def _cmd_pose2d_evaluate(args: argparse.Namespace) -> int:
    if args.detections:
        from .pose2d_predict import evaluate_detections

        metrics = evaluate_detections(
            Path(args.run), args.detections, args.min_box_score, _flip(args), list(args.overrides)
        )
        where = Path(args.run) / "evaluation_detections"
    else:
        from .pose2d import evaluate_run

        metrics = evaluate_run(Path(args.run), list(args.overrides), flip_test=_flip(args))
        where = Path(args.run) / "evaluation"
    print(", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))
    print(f"results in {where}/")
    return 0


def _cmd_pose2d_predict(args: argparse.Namespace) -> int:
    from .pose2d_predict import predict_images

    out = Path(args.out) if args.out else Path(args.run) / "predictions"
    summary = predict_images(
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


def _cmd_data_synth3d(args: argparse.Namespace) -> int:
    from .data.synthetic import write_synthetic_humaneva

    out = write_synthetic_humaneva(args.out, frames=args.frames, seed=args.seed)
    print(f"synthetic HumanEva-15 motion written to {out}/")
    return 0


def _cmd_data_clip(args: argparse.Namespace) -> int:
    from .data.clip import write_clip

    out = write_clip(args.out, args.frames, args.seed)
    print(
        f"a {args.frames}-frame synthetic clip of two people in {out}/: clip.mp4, results.json (COCO keypoint "
        "results), images.json (frame numbers), truth.npz (the walker's true 3D)"
    )
    return 0


def _cmd_data_synthpose(args: argparse.Namespace) -> int:
    from .data.synthpose import SynthPoseConfig, image_scale, write_synthpose

    size = args.size or 128 * image_scale(args.version)
    cfg = SynthPoseConfig(image_size=size, layout=args.layout, motion=tuple(args.motion), version=args.version)
    path = write_synthpose(args.out, args.images, args.seed, args.split, cfg)
    print(
        f"SynthPose v{args.version}: {args.images} images of {size}x{size} in {Path(args.out) / args.split}/, "
        f"{args.layout} labels in {path}"
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .engine import default_run_dir, run_directory

    out = Path(args.out) if args.out else default_run_dir("demo")
    with run_directory(out, overwrite=args.overwrite):
        run_demo(out, args.overrides)
    return 0


def _training_args(
    cmd: argparse.ArgumentParser,
    config: str,
    out: str,
    resume: str = "continue the run in --out from its last checkpoint",
) -> None:
    """The arguments every training command takes: config, run directory, resume or overwrite."""
    cmd.add_argument("-c", "--config", default=config, help=f"YAML file or shipped config name (default: {config})")
    cmd.add_argument("-o", "--out", help=f"run directory (default: runs/{out}-<time>-<pid>)")
    cmd.add_argument("--resume", action="store_true", help=resume)
    cmd.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a finished or failed run in --out (kept until the new one finishes)",
    )


INPUT_HELP = (
    "2D keypoints in pixels: a COCO keypoint results JSON, MMPose predictions JSON, a folder of OpenPose JSON, "
    "VideoPose3D's custom npz, or semipose's .npz/.json with 'keypoints' in the model's joint set"
)


def _input_2d_args(cmd: argparse.ArgumentParser) -> None:
    """How a user's 2D keypoints are read (see semipose/data/keypoints2d.py)."""
    from .data.keypoints2d import FORMATS, TRACKS

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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="semipose", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--debug", action="store_true", help="show the traceback of an error (also SEMIPOSE_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True)

    lift = sub.add_parser("lift", help="3D lifting of 2D keypoint sequences").add_subparsers(
        dest="action", required=True
    )
    t = lift.add_parser("train", help="train a temporal model")
    _training_args(t, "humaneva", "lift")
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
    _training_args(et, "humaneva_ensemble", "ensemble", resume="train only the members not finished in --out")
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

    p2 = sub.add_parser("pose2d", help="top-down 2D heatmap pose estimation").add_subparsers(
        dest="action", required=True
    )
    pt = p2.add_parser("train", help="train a heatmap model")
    _training_args(pt, "synthpose", "pose2d")
    pt.add_argument("overrides", nargs="*")
    pt.set_defaults(func=_cmd_pose2d_train)
    ps = p2.add_parser(
        "ssl",
        help="semi-supervised training: supervised, pseudo_label, posecons, posedual, denoised, ema_teacher (method.name=...)",
    )
    _training_args(ps, "synthpose_ssl", "ssl2d")
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

    rd = sub.add_parser("render", help="a lifted sequence as MP4/GIF beside its video or 2D, and as interactive HTML")
    rd.add_argument("input", help="the .npz that lift predict or ensemble predict wrote")
    rd.add_argument("-o", "--output", required=True, help="out.mp4, out.gif or out.html")
    rd.add_argument("--video", help="the input video, shown beside the 3D skeleton (else the 2D keypoints)")
    rd.add_argument("--rotate", action="store_true", help="turn the 3D view once around over the sequence")
    rd.add_argument("--fps", type=float, help="frames per second (default: the video's, else 25)")
    rd.add_argument("--html", help="also write this interactive HTML player")
    rd.set_defaults(func=_cmd_render)

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
    sp.add_argument("--size", type=positive_int, help="image side in pixels (default: 128, versions 2-4: 256)")
    sp.add_argument(
        "--version",
        type=int,
        choices=list(VERSIONS),
        default=1,
        help="2: large full-bodied figures, left/right cue; 3: and eyes and ears drawn; 4: and side-tinted sleeves and legs",
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
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may come before or after options (argparse leaves the later ones over).
    args, extra = parser.parse_known_args(argv)
    bad = [x for x in extra if "=" not in x or x.startswith("-")]
    if bad or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(bad or extra)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    debug = args.debug or os.environ.get("SEMIPOSE_DEBUG", "") not in ("", "0")
    try:
        return args.func(args)
    except (ConfigError, DataError, FileNotFoundError, NotADirectoryError, IsADirectoryError, ValueError) as e:
        if debug:
            raise
        print(f"semipose: error: {e}", file=sys.stderr)  # bad input: one line naming file, field, expectation
        return 2
    except RunsFailed as e:
        if debug:
            raise
        print(f"semipose: error: {e}", file=sys.stderr)
        return 1
    except PermissionError as e:
        if debug:
            raise
        print(f"semipose: error: {e.filename or ''}: permission denied ({e.strerror})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("semipose: interrupted; --resume continues a training run from its last checkpoint", file=sys.stderr)
        return 130
    except Exception as e:
        if debug:
            raise
        print(
            f"semipose: internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
            f"(run again with --debug for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
