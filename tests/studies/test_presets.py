"""Every study preset loads and validates against its study's config (a typo in a preset fails here,
not after an hour of training), and the 2D medium presets say what the docs say they train."""

import pytest

from semipose.config import config_path
from semipose.studies import STUDIES, get_study


@pytest.mark.parametrize("name", list(STUDIES))
def test_every_preset_loads(name):
    study = get_study(name)
    assert {"quick", "full"} <= set(study.PRESETS)
    for preset in study.PRESETS:
        study.load(config_path(study.BASE_CONFIG), preset, [])


def test_2d_medium_presets():
    ssl = get_study("ssl-2d").load(config_path("synthpose_ssl"), "medium", [])
    assert ssl.study.labeled == [50, 100, 400] and ssl.study.synthpose_version == 4
    assert ssl.data.augmentation == "weak_noflip" and not ssl.train.test_flip  # no mirrored crops on SynthPose v4
    v3 = get_study("ssl-2d").load(
        config_path("synthpose_ssl"), "medium", ["study.synthpose_version=3", "data.input_size=[96,96]"]
    )  # the preset of the version-3 runs in docs/ssl2d.md
    assert v3.study.synthpose_version == 3 and v3.data.input_size == [96, 96]
    earlier = get_study("ssl-2d").load(
        config_path("synthpose_ssl"),
        "medium",
        ["study.synthpose_version=2", "data.input_size=[96,96]", "data.augmentation=weak"],
    )  # the preset of the first runs in docs/ssl2d.md
    assert earlier.study.synthpose_version == 2 and earlier.data.augmentation == "weak"
    assert ssl.study.methods == [
        "supervised", "pseudo_label", "posecons", "posecons+jc", "posedual", "posedual+jc", "denoised"
    ]  # fmt: skip
    assert ssl.data.input_size == [96, 128] and ssl.train.epochs == 30 and ssl.study.seeds == [0, 1, 2]
    ablation = get_study("denoise-ablation").load(config_path("synthpose_ssl"), "medium", [])
    assert ablation.study.tables == ["components"] and ablation.train.epochs == 30
    ablation_ap = get_study("denoise-ablation").load(config_path("synthpose_ssl"), "medium-ap", [])
    assert ablation_ap.study.tables == ["components"] and ablation_ap.ssl.labeled == 100  # the ssl-2d table's
    for key in ("data", "train", "ssl"):  # setting at 100 labels: its denoised rows are comparable
        got, want = getattr(ablation_ap, key), getattr(ssl, key)
        assert {k: v for k, v in vars(got).items() if k != "labeled"} == {
            k: v for k, v in vars(want).items() if k != "labeled"
        }, key
    assert ablation_ap.study.synthpose_version == 4 and ablation_ap.study.seeds == [0, 1, 2]
    hg = get_study("hourglass-variants").load(config_path("synthpose"), "medium", [])
    assert hg.study.stacks == [1, 2] and hg.study.seeds == [0, 1, 2] and hg.train.epochs == 15
    hg_ap = get_study("hourglass-variants").load(config_path("synthpose"), "medium-ap", [])
    assert hg_ap.study.synthpose_version == 5 and hg_ap.data.input_size == [96, 128]  # where COCO AP ranks
    assert hg_ap.data.augmentation == "weak_noflip" and not hg_ap.train.test_flip and hg_ap.study.stacks == [1]
