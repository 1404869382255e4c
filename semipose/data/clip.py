"""A short synthetic video clip with a detector's output, for trying the detector-to-3D pipeline without
data of one's own (README, "Your own video").

Two people from the synthetic motion generator, seen by one camera: A walks, B boxes beside the walking
path. The clip is drawn as stick figures (``clip.mp4``); ``results.json`` is what a COCO-17 keypoint
detector would report for it (both people in every frame, positions with 2-pixel noise, per-joint
scores, face points at the head), ``images.json`` numbers the frames through file names as a COCO
image list does, and ``truth.npz`` holds A's true 3D in the camera frame (root-relative) to compare.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io import atomic_save_npz, atomic_write_text
from ..skeletons import COCO17, HUMANEVA15, as_layout
from .synthetic import FPS, RES_H, RES_W, generate_motion, look_at_camera

COLOURS = ((70, 130, 220), (60, 170, 90))


def write_clip(out_dir: str | Path, frames: int = 120, seed: int = 0, fps: float = 30.0) -> Path:
    """Write the clip's files into ``out_dir`` (see the module docstring); returns ``out_dir``."""
    import imageio_ffmpeg
    from PIL import Image, ImageDraw

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    step = max(1, round(FPS / fps))  # the generator runs at 60 frames per second
    walk = generate_motion("Walking", frames * step, 1.0, rng)[::step]
    box = generate_motion("Box", frames * step, 0.95, rng)[::step] + np.array([0.0, 2.6, 0.0])
    cam = look_at_camera("clip", np.array([7.0, 1.3, 1.5]), np.array([0.0, 1.3, 1.0]), 650.0,
                         np.array([RES_W / 2, RES_H / 2]))  # fmt: skip
    people = [cam.project(cam.world_to_camera(w)) for w in (walk, box)]
    writer = imageio_ffmpeg.write_frames(
        str(out_dir / ".clip.tmp.mp4"), (RES_W, RES_H), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
        macro_block_size=1, quality=7,
    )  # fmt: skip
    writer.send(None)
    results = []
    for t in range(frames):
        image = Image.new("RGB", (RES_W, RES_H), (235, 232, 225))
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, RES_H * 0.62, RES_W, RES_H), fill=(205, 200, 190))
        for person, colour in zip(people, COLOURS):
            kp = person[t]
            for c, p in HUMANEVA15.bones:
                draw.line((*kp[c], *kp[p]), fill=colour, width=7)
            hx, hy = kp[HUMANEVA15.index("head")]
            draw.ellipse((hx - 11, hy - 13, hx + 11, hy + 13), fill=colour)
        writer.send(np.asarray(image))
        for k, person in enumerate(people):
            coco = as_layout(person[t], HUMANEVA15, COCO17) + rng.normal(0, 2.0, (17, 2))
            scores = rng.uniform(0.55, 0.98, 17)
            flat = np.column_stack([coco, scores]).ravel()
            results.append(
                {"image_id": t + 1, "category_id": 1, "keypoints": np.round(flat, 2).tolist(),
                 "score": round(float(scores.mean()) - 0.1 * k, 4)}  # fmt: skip
            )
    writer.close()
    (out_dir / ".clip.tmp.mp4").replace(out_dir / "clip.mp4")
    images = [{"id": t + 1, "file_name": f"frame_{t + 1:06d}.jpg", "width": RES_W, "height": RES_H} for t in range(frames)]
    atomic_write_text(out_dir / "results.json", json.dumps(results))
    atomic_write_text(out_dir / "images.json", json.dumps({"images": images}))
    truth = cam.world_to_camera(walk)
    truth = truth - truth[:, :1]
    atomic_save_npz(out_dir / "truth.npz", poses_3d=truth.astype(np.float32), joints=np.array(HUMANEVA15.joints))
    return out_dir
