"""Motion capture readers on the real CMU files: BVH and ASF/AMC of the same trial agree."""

import numpy as np
import pytest

from semipose.data.errors import DataError
from semipose.data.mocap import euler, load_motion, read_asf_amc, read_bvh, rotation


def test_euler_order_hand_case():
    # XYZ about fixed axes: x first. (1, 0, 0) turned 90 deg about x stays; then 90 about z -> (0, 1, 0)
    r = euler("XYZ", np.array([90.0, 0.0, 90.0]))
    assert np.allclose(r @ [1, 0, 0], [0, 1, 0]) and np.allclose(r @ [0, 1, 0], [0, 0, 1])
    assert np.allclose(rotation("y", 90.0) @ [0, 0, 1], [1, 0, 0])


def test_bvh_and_asf_amc_of_one_trial_agree(shared_data):
    cmu = shared_data / "cmu"
    bvh, amc = read_bvh(cmu / "01_01.bvh"), read_asf_amc(cmu / "01.asf", cmu / "01_01.amc")
    assert bvh.positions.shape[0] == amc.positions.shape[0] + 1 and abs(bvh.fps - 120) < 0.1
    b = load_motion(cmu / "01_01.bvh")[1:]  # the BVH conversion adds a rest pose as its first frame
    a = load_motion(cmu / "01_01.amc")
    ra, rb = a - a[:, :1], b - b[:, :1]
    legs = [8, 9, 10, 11, 12, 13]
    assert np.abs(ra[:, legs] - rb[:, legs]).max() < 1e-3  # metres: the same hips, knees, ankles
    # the converter folds ASF's thorax bone away: the whole upper body moves by that one bone
    upper = [1, 2, 3, 4, 5, 6, 7, 14]
    shift = ra[:, upper] - rb[:, upper]
    assert np.abs(shift - shift[:, :1]).max() < 1e-3
    thorax = [line for line in (cmu / "01.asf").read_text().split("begin") if "name thorax" in line][0]
    length = float(thorax.split("length")[1].split()[0]) * 0.0254 / 0.45
    assert np.allclose(np.linalg.norm(shift[:, 0], axis=-1), length, atol=1e-3)
    # rigid kinematics: the thigh keeps its length, people stand z-up, about 1.5-1.8 m tall
    thigh = np.linalg.norm(a[:, 9] - a[:, 8], axis=-1)
    assert thigh.std() < 1e-4 and 0.3 < thigh.mean() < 0.5
    assert (a[:, 14, 2] > a[:, 10, 2]).all() and 1.3 < np.median(a[:, 14, 2] - a[:, 10, 2]) < 1.9


def test_other_subject_and_humaneva_npz(shared_data):
    s11 = load_motion(shared_data / "cmu" / "11_01.amc")
    he = load_motion(shared_data / "humaneva" / "data_3d_humaneva15.npz")
    assert s11.shape[1:] == (15, 3) and he.shape == (9577, 15, 3)
    assert (he[:, 14, 2] > he[:, 0, 2]).mean() > 0.99


def test_clear_errors(tmp_path, shared_data):
    with pytest.raises(DataError, match="not found"):
        load_motion(tmp_path / "none.bvh")
    bad = tmp_path / "x.bvh"
    bad.write_text(
        "HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n}\n"
        "MOTION\nFrames: 2\nFrame Time: 0.01\n1 2 3\n"
    )
    with pytest.raises(DataError, match=r"x.bvh: 3 motion values, expected 2 frames x 3 channels"):
        read_bvh(bad)
    amc = tmp_path / "99_01.amc"
    amc.write_text((shared_data / "cmu" / "01_01.amc").read_text()[:2000])
    with pytest.raises(DataError, match="99.asf not found"):
        load_motion(amc)
    (tmp_path / "m.txt").write_text("")
    with pytest.raises(DataError, match="unknown motion format"):
        load_motion(tmp_path / "m.txt")
