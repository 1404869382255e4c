"""From a detector's output to an animated skeleton in one command: a multi-person COCO results clip in,
out.npz, out.mp4 (PyAV reads the expected frames) and out.html (every frame inside) out; GIF and the
ensemble's spread too; bad input files refused by name."""

import json
import re

import av
import numpy as np
import pytest
from helpers import lift_train, tiny_ensemble
from PIL import Image

from semipose.cli import main
from semipose.config import dump_yaml
from semipose.data.errors import DataError
from semipose.io import atomic_write_text
from semipose.lift.ensemble.runner import train_ensemble
from semipose.lift.render import read_lifted

FRAMES = 24


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("render")
    assert main(["data", "clip", "-o", str(tmp / "clip"), "--frames", str(FRAMES)]) == 0
    assert main(["data", "synth3d", "-o", str(tmp / "data"), "--frames", "40"]) == 0
    assert lift_train(tmp / "run", tmp / "data", "model.channels=16", "train.epochs=1") == 0
    return tmp


def _frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _html_frames(path) -> int:
    return len(re.findall(r'"name":"\d+"', path.read_text()))


def test_one_command_from_coco_results_to_npz_mp4_and_html(clip, tmp_path):
    c = clip / "clip"
    argv = ["lift", "predict", str(clip / "run"), str(c / "results.json"), "--image-info", str(c / "images.json")]
    assert main([*argv, "--track", "iou", "-o", str(tmp_path / "out"), "--render", "--video", str(c / "clip.mp4")]) == 0
    seq = read_lifted(tmp_path / "out.npz")
    assert seq.poses.shape == (FRAMES, 15, 3) and seq.image_size == (640, 480)
    assert _frames(tmp_path / "out.mp4") == FRAMES and _html_frames(tmp_path / "out.html") == FRAMES
    # the walker (the first person of every frame) was kept, not the boxer
    results = json.loads((c / "results.json").read_text())
    walker = np.array([r["keypoints"] for r in results[::2]]).reshape(FRAMES, 17, 3)[:, 15, :2]  # left ankle
    np.testing.assert_allclose(seq.keypoints_2d[:, 10], walker, atol=1e-3)  # HumanEva-15 left ankle


def test_render_command_gif_and_html(clip, tmp_path):
    c = clip / "clip"
    pred = ["lift", "predict", str(clip / "run"), str(c / "results.json"), "--width", "640", "--height", "480"]
    assert main([*pred, "-o", str(tmp_path / "p")]) == 0
    render = ["render", str(tmp_path / "p.npz"), "-o", str(tmp_path / "p.gif"), "--rotate"]
    assert main([*render, "--html", str(tmp_path / "p.html")]) == 0
    with Image.open(tmp_path / "p.gif") as gif:
        assert gif.n_frames == FRAMES
    assert _html_frames(tmp_path / "p.html") == FRAMES


def test_ensemble_predict_renders_the_spread(clip, tmp_path):
    cfg, data = tiny_ensemble(tmp_path, "ensemble.workers=1")
    run = tmp_path / "ens"
    train_ensemble(cfg, run, data, progress=False)
    atomic_write_text(run / "config.yaml", dump_yaml(cfg))
    c = clip / "clip"
    argv = ["ensemble", "predict", str(run), str(c / "results.json"), "--image-info", str(c / "images.json")]
    assert main([*argv, "-o", str(tmp_path / "e"), "--render"]) == 0
    seq = read_lifted(tmp_path / "e.npz")
    assert seq.spread is not None and seq.spread.shape == (FRAMES, 15)
    assert _frames(tmp_path / "e.mp4") == FRAMES and "spread (mm)" in (tmp_path / "e.html").read_text()


def test_bad_render_inputs_are_refused_by_name(tmp_path, capsys):
    np.savez(tmp_path / "x.npz", poses=np.zeros((3, 15, 3)))
    with pytest.raises(DataError, match="x.npz: expected 'poses_3d' and 'joints'"):
        read_lifted(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", poses_3d=np.zeros((3, 4, 3)), joints=np.array(["a", "b", "c", "d"]))
    with pytest.raises(DataError, match="names no known skeleton"):
        read_lifted(tmp_path / "y.npz")
    (tmp_path / "v.mp4").write_bytes(b"not a video")
    np.savez(
        tmp_path / "z.npz",
        poses_3d=np.zeros((3, 15, 3)),
        joints=np.array(list(__import__("semipose.skeletons", fromlist=["x"]).HUMANEVA15.joints)),
    )
    capsys.readouterr()
    assert (
        main(["render", str(tmp_path / "z.npz"), "-o", str(tmp_path / "z.mp4"), "--video", str(tmp_path / "v.mp4")])
        == 2
    )
    assert "v.mp4: not a readable video" in capsys.readouterr().err and not (tmp_path / "z.mp4").exists()
