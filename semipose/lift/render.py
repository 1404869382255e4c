"""Seeing a lifted sequence: a video (MP4 or GIF) of the 3D skeleton beside the input video, or beside the
2D keypoints when there is no video, and a self-contained interactive HTML player of the 3D sequence.

The input is what ``lift predict`` and ``ensemble predict`` write (``.npz``: ``poses_3d``, ``joints``,
``keypoints_2d``, ``image_size``; ``spread`` from an ensemble, drawn as each joint's size and colour).
Videos are read with PyAV and written with imageio-ffmpeg's own ffmpeg (no system ffmpeg); the HTML
carries plotly.js inside it, so it opens offline. Poses are in the camera frame, y down: drawn upright.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.errors import DataError
from ..io import atomic_write_text
from ..skeletons import SKELETONS, Skeleton


@dataclass
class LiftedSequence:
    poses: np.ndarray  # (T, J, 3) metres, camera frame, root-relative
    skeleton: Skeleton
    keypoints_2d: np.ndarray | None = None  # (T, J, 2) pixels
    image_size: tuple[int, int] | None = None
    spread: np.ndarray | None = None  # (T, J) metres


def read_lifted(path: str | Path) -> LiftedSequence:
    """A ``lift predict`` / ``ensemble predict`` output file, checked field by field."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except Exception as e:
        raise DataError(f"{path}: not a readable .npz of arrays ({type(e).__name__}: {str(e)[:120]})") from None
    if "poses_3d" not in data or "joints" not in data:
        raise DataError(f"{path}: expected 'poses_3d' and 'joints' (the output of semipose lift/ensemble predict)")
    poses, joints = data["poses_3d"].astype(np.float32), tuple(str(j) for j in data["joints"])
    if poses.ndim != 3 or poses.shape[1:] != (len(joints), 3) or len(poses) < 1:
        raise DataError(f"{path}: field 'poses_3d' has shape {poses.shape}; expected (frames, {len(joints)}, 3)")
    skel = next((s for s in SKELETONS.values() if s.joints == joints), None)
    if skel is None:
        raise DataError(f"{path}: field 'joints' names no known skeleton ({', '.join(joints[:4])}, ...)")
    kp = data.get("keypoints_2d")
    size = data.get("image_size")
    spread = data.get("spread")
    for name, arr, shape in (("keypoints_2d", kp, poses.shape[:2] + (2,)), ("spread", spread, poses.shape[:2])):
        if arr is not None and arr.shape != shape:
            raise DataError(f"{path}: field {name!r} has shape {arr.shape}; expected {shape}")
    image_size = (int(size[0]), int(size[1])) if size is not None else None
    return LiftedSequence(poses, skel, kp, image_size, spread)


def video_frames(path: str | Path) -> tuple[Iterator[np.ndarray], float]:
    """The RGB frames (H, W, 3) of a video file, read with PyAV, and its frame rate."""
    import av

    try:
        container = av.open(str(path))
        stream = container.streams.video[0]
    except (av.error.FFmpegError, IndexError, OSError) as e:
        raise DataError(f"{path}: not a readable video ({type(e).__name__}: {str(e)[:120]})") from None
    fps = float(stream.average_rate or 25)

    def frames() -> Iterator[np.ndarray]:
        with container:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")

    return frames(), fps


def _upright(poses: np.ndarray) -> np.ndarray:
    """Camera x, z, -y: the skeleton stands on the plot's floor, seen from the camera's side."""
    return np.stack([poses[..., 0], poses[..., 2], -poses[..., 1]], axis=-1)


class _Canvas:
    """One matplotlib figure, updated in place frame after frame (fast: no new artists per frame)."""

    def __init__(self, seq: LiftedSequence, size: tuple[int, int], rotate: bool, with_image: bool):
        from ..plots import pyplot

        plt = pyplot()
        self.seq, self.rotate = seq, rotate
        w, h = size
        self.fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
        self.ax2 = self.fig.add_axes((0.0, 0.0, 0.5, 1.0))
        self.ax3 = self.fig.add_axes((0.5, 0.0, 0.5, 1.0), projection="3d")
        self.bones = seq.skeleton.bones
        # an ensemble's spread (mm) at which a joint is drawn largest and brightest: the sequence's 99th percentile
        spread = seq.spread
        self.spread_max_mm = float(np.percentile(spread, 99)) * 1000 if spread is not None and spread.size else 1.0
        up = _upright(seq.poses)
        centre = up.reshape(-1, 3).mean(axis=0)
        radius = float(np.abs(up - centre).max()) or 1.0
        self.ax3.set(xlim=(centre[0] - radius, centre[0] + radius), ylim=(centre[1] - radius, centre[1] + radius))
        self.ax3.set_zlim(centre[2] - radius, centre[2] + radius)
        self.ax3.set_xticklabels([]), self.ax3.set_yticklabels([]), self.ax3.set_zticklabels([])
        self.lines3 = [self.ax3.plot([], [], [], color="tab:red", lw=2)[0] for _ in self.bones]
        self.points3 = self.ax3.scatter([], [], [], c=[], s=[], cmap="viridis", vmin=0, vmax=self.spread_max_mm)
        self.ax2.set_axis_off()
        self.image = None
        if with_image:
            self.image = self.ax2.imshow(np.zeros((2, 2, 3), np.uint8))
        self.lines2 = [self.ax2.plot([], [], color="tab:orange", lw=2)[0] for _ in self.bones]
        if seq.keypoints_2d is not None:
            kp = seq.keypoints_2d[np.isfinite(seq.keypoints_2d).all(axis=-1)]
            w_img, h_img = seq.image_size or (float(kp[:, 0].max()) * 1.1, float(kp[:, 1].max()) * 1.1)
            self.ax2.set(xlim=(0, w_img), ylim=(h_img, 0))
        self.ax2.set_aspect("equal")
        self.title = self.fig.text(0.5, 0.97, "", ha="center", va="top", fontsize=9)

    def draw(self, t: int, image: np.ndarray | None) -> np.ndarray:
        seq = self.seq
        pose = _upright(seq.poses[t])
        for line, (c, p) in zip(self.lines3, self.bones):
            line.set_data_3d([pose[c, 0], pose[p, 0]], [pose[c, 1], pose[p, 1]], [pose[c, 2], pose[p, 2]])
        self.points3._offsets3d = (pose[:, 0], pose[:, 1], pose[:, 2])
        if seq.spread is not None:  # an ensemble's spread: bigger and brighter where the members disagree
            mm = seq.spread[t] * 1000
            self.points3.set_array(mm)
            self.points3.set_sizes(10 + 400 * np.clip(mm / max(self.spread_max_mm, 1e-6), 0, 1))
        else:
            self.points3.set_sizes(np.full(len(pose), 12.0))
        self.ax3.view_init(elev=10, azim=-90 + (360 * t / len(seq.poses) if self.rotate else 0))
        if self.image is not None and image is not None:
            self.image.set_data(image)
            self.image.set_extent((0, image.shape[1], image.shape[0], 0))
        if seq.keypoints_2d is not None:
            kp = seq.keypoints_2d[t]
            for line, (c, p) in zip(self.lines2, self.bones):
                line.set_data([kp[c, 0], kp[p, 0]], [kp[c, 1], kp[p, 1]])
        spread = f", mean joint spread {1000 * seq.spread[t].mean():.0f} mm" if seq.spread is not None else ""
        self.title.set_text(f"frame {t + 1}/{len(seq.poses)}{spread}")
        self.fig.canvas.draw()
        return np.asarray(self.fig.canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        from ..plots import pyplot

        pyplot().close(self.fig)


def render_video(
    seq: LiftedSequence,
    output: str | Path,
    video: str | Path | None = None,
    fps: float | None = None,
    rotate: bool = False,
    size: tuple[int, int] = (960, 480),
    progress: bool = False,
) -> Path:
    """Write ``output`` (``.mp4`` or ``.gif``): one frame per pose, the input video's frame (or a blank
    panel) with the 2D keypoints on the left, the 3D skeleton on the right."""
    output = Path(output)
    if output.suffix not in (".mp4", ".gif"):
        raise DataError(f"{output}: the video to write must end in .mp4 or .gif")
    frames: Iterator[np.ndarray] | None = None
    if video is not None:
        frames, video_fps = video_frames(video)
        fps = fps or video_fps
    fps = fps or 25.0
    canvas = _Canvas(seq, size, rotate, with_image=frames is not None)
    tmp = output.with_name(f".{output.stem}.tmp{output.suffix}")
    bar = _bar(len(seq.poses), progress)
    try:
        images = (canvas.draw(t, next(frames, None) if frames else None) for t in range(len(seq.poses)))
        if output.suffix == ".mp4":
            _write_mp4(tmp, images, size, fps, bar)
        else:
            _write_gif(tmp, images, fps, bar)
        tmp.replace(output)
    finally:
        canvas.close()
        tmp.unlink(missing_ok=True)
        if bar is not None:
            bar.close()
    return output


def _bar(total: int, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="render")


def _write_mp4(path: Path, images: Iterator[np.ndarray], size: tuple[int, int], fps: float, bar: Any) -> None:
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(
        str(path), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1, quality=7
    )
    writer.send(None)
    for image in images:
        writer.send(np.ascontiguousarray(image))
        if bar is not None:
            bar.update()
    writer.close()


def _write_gif(path: Path, images: Iterator[np.ndarray], fps: float, bar: Any) -> None:
    from PIL import Image

    frames = []
    for image in images:
        frames.append(Image.fromarray(image).convert("P", palette=Image.Palette.ADAPTIVE))
        if bar is not None:
            bar.update()
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0)


def render_html(seq: LiftedSequence, output: str | Path, fps: float = 25.0) -> Path:
    """A self-contained HTML player (plotly): the whole 3D sequence, play/pause and a frame slider; an
    ensemble's spread as the joints' colour (mm)."""
    import plotly.graph_objects as go

    up = _upright(seq.poses)
    bones = seq.skeleton.bones

    def traces(t: int) -> list[Any]:
        xs, ys, zs = [], [], []
        for c, p in bones:
            xs += [up[t, c, 0], up[t, p, 0], None]
            ys += [up[t, c, 1], up[t, p, 1], None]
            zs += [up[t, c, 2], up[t, p, 2], None]
        colour = (seq.spread[t] * 1000).tolist() if seq.spread is not None else "crimson"
        return [
            go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", line={"color": "crimson", "width": 6}, name="bones"),
            go.Scatter3d(
                x=up[t, :, 0], y=up[t, :, 1], z=up[t, :, 2], mode="markers", name="joints",
                text=list(seq.skeleton.joints),
                marker={"size": 4, "color": colour, "colorscale": "Viridis", "showscale": seq.spread is not None,
                        "colorbar": {"title": "spread (mm)"}},
            ),
        ]  # fmt: skip

    lo, hi = up.reshape(-1, 3).min(axis=0), up.reshape(-1, 3).max(axis=0)
    r = float((hi - lo).max()) / 2 or 1.0
    c = (hi + lo) / 2
    names = ("right (m)", "depth (m)", "up (m)")
    axes = {
        f"{a}axis": {"range": [c[i] - r, c[i] + r], "title": names[i], "showticklabels": False}
        for i, a in enumerate("xyz")
    }
    ms = round(1000 / fps)
    fig = go.Figure(
        data=traces(0),
        frames=[go.Frame(data=traces(t), name=str(t)) for t in range(len(up))],
        layout=go.Layout(
            title=f"semipose: {len(up)} frames, {seq.skeleton.name}",
            showlegend=False,
            scene={**axes, "aspectmode": "cube", "camera": {"eye": {"x": 0, "y": -2, "z": 0.3}}},
            updatemenus=[{"type": "buttons", "buttons": [
                {"label": "play", "method": "animate",
                 "args": [None, {"frame": {"duration": ms, "redraw": True}, "fromcurrent": True}]},
                {"label": "pause", "method": "animate", "args": [[None], {"mode": "immediate"}]},
            ]}],
            sliders=[{"steps": [{"method": "animate", "label": str(t), "args": [[str(t)], {"mode": "immediate"}]}
                                for t in range(len(up))]}],
        ),
    )  # fmt: skip
    output = Path(output)
    atomic_write_text(output, fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False))
    return output
