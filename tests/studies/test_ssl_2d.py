"""The semi-supervised 2D studies at a toy size: tables with mean and std over seeds, plots, shared arms."""

import json
from pathlib import Path

import numpy as np
import pytest

from semipose.cli import main
from semipose.studies.common2d import method_overrides
from semipose.studies.runner import paired_delta

TOY = [
    "study.synthpose_train=16",
    "study.synthpose_val=8",
    "model.width=8",
    "train.epochs=1",
    "train.batch_size=8",
    "ssl.labeled=8",
    "ssl.max_unlabeled=12",
    "train.progress=false",
    "train.precision=fp32",
    "train.memory_format=contiguous",  # auto measures in each run, side by side: fixed, so results compare exactly
    "study.seeds=[0,1]",
    "method.strong_views=1",
]


def test_ssl_2d_study(tmp_path, capsys):
    out = tmp_path / "s"
    assert (
        main(
            [
                "study",
                "ssl-2d",
                "-o",
                str(out),
                *TOY,
                "study.labeled=[8]",
                "study.methods=[supervised,posecons,posecons+jc,denoised]",
            ]
        )
        == 0
    )
    rows = json.loads((out / "ssl_2d.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["supervised", "posecons", "posecons+jc", "denoised"]
    assert all("±" in r["pck@0.2"] and "±" in r["AP"] for r in rows) and (out / "ssl_2d.png").stat().st_size > 0
    assert (out / "posecons+jc-n8" / "seed1" / "metrics.json").is_file()
    assert "joint_cutout: true" in (out / "posecons+jc-n8" / "seed1" / "config.yaml").read_text()
    assert "denoised" in capsys.readouterr().out
    assert rows[0]["pck@0.2 vs supervised (paired)"] == "" and "/2 ahead)" in rows[1]["pck@0.2 vs supervised (paired)"]
    assert "/2 ahead)" in rows[1]["AP vs supervised (paired)"]
    # a variant is compared with its plain method, seed by seed
    assert "/2 ahead)" in rows[2]["AP vs without variant (paired)"] and rows[1]["AP vs without variant (paired)"] == ""
    runs = json.loads((out / "ssl_2d.json").read_text())["runs"]
    by_hand = np.mean([a["coco_AP"] - b["coco_AP"] for a, b in zip(runs["posecons+jc-n8"], runs["posecons-n8"])])
    assert rows[2]["AP vs without variant (paired)"].startswith(f"{by_hand:+.4f}")
    assert "/2 ahead)" in rows[2]["pck@0.2 vs without variant (paired)"]
    seeds = runs["denoised-n8"]
    pck, ap = [f"{r['pck@0.2']:.3f}" for r in seeds], [f"{r['coco_AP']:.3f}" for r in seeds]
    assert rows[3]["per seed pck@0.2 (AP)"] == f"{pck[0]}, {pck[1]} ({ap[0]}, {ap[1]})"


def test_paired_delta_by_hand():
    runs = [{"pck@0.2": 0.70}, {"pck@0.2": 0.60}, {"pck@0.2": 0.65}]
    base = [{"pck@0.2": 0.68}, {"pck@0.2": 0.62}, {"pck@0.2": 0.61}]
    d = paired_delta(runs, base, "pck@0.2")  # differences 0.02, -0.02, 0.04
    assert abs(d["pck@0.2_mean"] - 0.04 / 3) < 1e-12
    assert abs(d["pck@0.2_std"] - np.std([0.02, -0.02, 0.04])) < 1e-12
    assert (d["ahead"], d["seeds"]) == (2, 3)


def test_denoise_ablation_study_shares_arms(tmp_path):
    out = tmp_path / "a"
    assert main(["study", "denoise-ablation", "-o", str(out), *TOY, "study.seeds=[0]", "study.views=[4]"]) == 0
    result = json.loads((out / "denoise_ablation.json").read_text())
    tables = result["tables"]
    assert [len(tables[t]) for t in ("components", "aggregation", "threshold", "views")] == [4, 7, 8, 2]
    # the full method is one run, whichever table names it; so is multi-view with threshold-and-refine
    full = tables["components"][3]["run"]
    assert tables["threshold"][2]["run"] == full and tables["views"][0]["run"] == full
    assert tables["views"][1]["run"] == tables["components"][2]["run"] != full
    assert len(result["arms"]) == len({tuple(sorted(a)) for a in result["arms"].values()}) == 4 + 5 + 7
    for name in ("components", "aggregation", "threshold", "views"):
        assert (out / f"{name}.md").is_file()
    assert (out / "views.png").stat().st_size > 0


def test_easy_hard_study(tmp_path):
    out = tmp_path / "e"
    assert main(["study", "easy-hard", "-o", str(out), *TOY, "study.seeds=[0]"]) == 0
    rows = json.loads((out / "easy_hard.json").read_text())["rows"]
    assert len(rows) == 9 and rows[0]["easy / hard"].startswith("naive consistency")
    assert rows[-1]["easy / hard"].startswith("Mean Teacher") and "±" in rows[-1]["AP"]
    assert "name: ema_teacher" in (out / rows[-1]["run"] / "seed0" / "config.yaml").read_text()
    assert "randaugment: true" in (out / rows[-2]["run"] / "seed0" / "config.yaml").read_text()
    assert all(r["avoids collapsing"] in ("yes", "no") for r in rows)
    assert (out / "easy_hard.png").stat().st_size > 0


def test_method_variants_and_their_checks(tmp_path, capsys):
    assert method_overrides("posecons+jc") == ["method.name=posecons", "method.joint_cutout=true"]
    assert method_overrides("posedual+jc+ra") == [
        "method.name=posedual", "method.joint_cutout=true", "method.randaugment=true"
    ]  # fmt: skip
    assert method_overrides("posedual+rt")[1:] == [
        "method.consistency_refine=true", "method.threshold=0.2", "method.refine=true", "method.refine_subpixel=true"
    ]  # fmt: skip
    assert method_overrides("posecons+mr") == ["method.name=posecons", "method.mirror_radius=2"]
    assert main(["study", "ssl-2d", "-o", str(tmp_path / "s"), "study.methods=[posedual+xx]"]) == 2
    assert "'posedual+xx' is not a method" in capsys.readouterr().err and not (tmp_path / "s").exists()


def test_studies_write_synthpose_version_2_at_twice_the_input(tmp_path):
    from semipose.pose2d.config import Pose2DDataConfig
    from semipose.studies.common2d import ensure_synthpose

    data = Pose2DDataConfig(input_size=[64, 64])
    ensure_synthpose(data, tmp_path, 3, 2, version=2)
    doc = json.loads(Path(data.val_ann).read_text())
    assert data.val_images.endswith("synthpose/val") and doc["images"][0]["width"] == 128


def test_denoise_ablation_one_table(tmp_path, capsys):
    """``study.tables`` trains only the named tables' arms (the medium preset: components alone)."""
    out = tmp_path / "a"
    args = ["study", "denoise-ablation", "-o", str(out), *TOY, "study.seeds=[0]", "study.tables=[components]"]
    assert main(args) == 0
    result = json.loads((out / "denoise_ablation.json").read_text())
    assert list(result["tables"]) == ["components"] and len(result["arms"]) == 4
    assert not (out / "views.md").exists() and len(list((out / "runs").iterdir())) == 4
    assert main(["study", "denoise-ablation", "-o", str(tmp_path / "b"), "study.tables=[component]"]) == 2
    assert "study.tables: ['component']" in capsys.readouterr().err


def test_pseudo_labels_are_taught_by_the_supervised_run_of_their_budget_and_seed(tmp_path):
    """The study hands a pseudo-label run the supervised run of its budget and seed as teacher; trained
    on its own, the run's teacher comes out the very same model (same weights, same pseudo-labels)."""
    import torch

    from semipose.engine.saved import read_model

    shared, alone = tmp_path / "shared", tmp_path / "alone"
    args = [*TOY, "study.labeled=[8]", "study.seeds=[0]"]
    assert main(["study", "ssl-2d", "-o", str(shared), *args, "study.methods=[supervised,pseudo_label]"]) == 0
    teacher = shared / "supervised-n8" / "seed0" / "model.pt"
    run = shared / "pseudo_label-n8" / "seed0"
    assert f"teacher: {teacher}" in (run / "config.yaml").read_text() and not (run / "teacher").exists()
    assert main(["study", "ssl-2d", "-o", str(alone), *args, "study.methods=[pseudo_label]"]) == 0
    own = read_model(alone / "pseudo_label-n8" / "seed0" / "teacher" / "model.pt", "pose2d")["model"]
    reused = read_model(teacher, "pose2d")["model"]
    assert own.keys() == reused.keys() and all(torch.equal(own[k], reused[k]) for k in own)
    a, b = (json.loads((d / "pseudo_label-n8" / "seed0" / "metrics.json").read_text()) for d in (shared, alone))
    assert a["pseudo_joints_kept"] == b["pseudo_joints_kept"] and a["pck@0.2"] == b["pck@0.2"]


def test_a_teacher_of_another_skeleton_is_refused(tmp_path, capsys):
    from semipose.engine.saved import model_record
    from semipose.io import atomic_torch_save
    from semipose.models.heatmap_net import Pose2DModelConfig, build_heatmap_net
    from semipose.skeletons import MPII16

    cfg = Pose2DModelConfig(width=8)
    path = tmp_path / "mpii.pt"
    atomic_torch_save(model_record("pose2d", build_heatmap_net(cfg, 16).state_dict(), vars(cfg), MPII16), path)
    out = tmp_path / "s"
    # the user's teacher is used even where the study has a supervised run to teach with
    methods = "study.methods=[supervised,pseudo_label]"
    args = [*TOY, "study.labeled=[8]", "study.seeds=[0]", methods, f"method.teacher={path}"]
    assert main(["study", "ssl-2d", "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert f"method.teacher={path}" in err and "'mpii16' (16)" in err and "'coco17' (17)" in err
    assert (out / "supervised-n8" / "seed0" / "model.pt").is_file()


def test_workers_train_runs_side_by_side_with_the_same_results(tmp_path):
    """study.workers=2 trains two runs at once (one thread each) and gets what one after the other gets."""
    args = [*TOY, "study.labeled=[8]", "study.methods=[supervised,pseudo_label]", "train.threads=1"]
    assert main(["study", "ssl-2d", "-o", str(tmp_path / "one"), *args]) == 0
    assert main(["study", "ssl-2d", "-o", str(tmp_path / "two"), *args, "study.workers=2"]) == 0
    one, two = (json.loads((tmp_path / d / "ssl_2d.json").read_text())["runs"] for d in ("one", "two"))
    for arm in ("supervised-n8", "pseudo_label-n8"):
        assert [r["pck@0.2"] for r in one[arm]] == [r["pck@0.2"] for r in two[arm]]
        assert [r["coco_AP"] for r in one[arm]] == [r["coco_AP"] for r in two[arm]]


def test_a_failing_run_leaves_the_others_and_is_named(tmp_path):
    from semipose.pool import RunsFailed
    from semipose.studies import ssl_2d
    from semipose.studies.common2d import start_study
    from semipose.studies.runner import run_arms

    cfg = ssl_2d.load(None, "quick", [*TOY, "study.workers=2", "study.seeds=[0]"])
    out = start_study(cfg, tmp_path / "s", "ssl-2d")
    arms = {"good": ["method.name=supervised"], "bad": ["method.name=supervised", "data.sigma=-1"]}
    with pytest.raises(RunsFailed, match=r"1 of 2 runs failed .*bad/seed0: ConfigError: .*data.sigma"):
        run_arms(arms, cfg.study.seeds, out, cfg, progress=False)
    assert (out / "good" / "seed0" / "metrics.json").is_file()
    assert "ConfigError" in (out / "bad" / "seed0" / "failed.txt").read_text()
    # mended, the run trains (the finished one is read back) and its failure record goes
    arms["bad"] = ["method.name=supervised", "data.sigma=1.5"]
    results = run_arms(arms, cfg.study.seeds, out, cfg, progress=False)
    assert [len(r) for r in results.values()] == [1, 1] and not (out / "bad" / "seed0" / "failed.txt").exists()


def test_paired_delta_pairs_runs_by_seed():
    runs = [{"seed": 2, "coco_AP": 0.5}, {"seed": 0, "coco_AP": 0.1}]
    base = [{"seed": 0, "coco_AP": 0.2}, {"seed": 1, "coco_AP": 0.9}, {"seed": 2, "coco_AP": 0.25}]
    d = paired_delta(runs, base, "coco_AP")  # seed 2: +0.25, seed 0: -0.1
    assert d["seeds"] == 2 and d["ahead"] == 1 and d["coco_AP_mean"] == pytest.approx(0.075)
    assert paired_delta(runs, [{"seed": 1, "coco_AP": 0.0}], "coco_AP")["seeds"] == 0


def test_report_only_writes_the_table_of_the_finished_runs_and_trains_nothing(tmp_path, capsys):
    out = tmp_path / "s"
    base = ["study", "ssl-2d", "-o", str(out), *TOY, "study.labeled=[8]"]
    assert main([*base, "study.methods=[supervised]"]) == 0
    assert main([*base, "--resume", "study.methods=[posecons]", "study.seeds=[1]"]) == 0
    capsys.readouterr()
    assert main([*base, "--resume", "study.methods=[supervised,posecons]", "study.report_only=true"]) == 0
    assert "1 runs not finished, left out: posecons-n8/seed0" in capsys.readouterr().err
    assert not (out / "posecons-n8" / "seed0" / "metrics.json").exists()
    report = json.loads((out / "ssl_2d.json").read_text())
    rows, runs = report["rows"], report["runs"]
    assert [r["method"] for r in rows] == ["supervised", "posecons"]
    assert rows[1]["per seed pck@0.2 (AP)"].startswith("seeds 1: ")
    by_hand = runs["posecons-n8"][0]["pck@0.2"] - runs["supervised-n8"][1]["pck@0.2"]
    assert rows[1]["pck@0.2 vs supervised (paired)"].startswith(f"{by_hand:+.3f} ± 0.000 (")
    assert rows[1]["pck@0.2 vs supervised (paired)"].endswith("/1 ahead)")
    # a folder where no run has finished: one line naming the folder and what was expected, exit 2
    assert main(["study", "ssl-2d", "-o", str(tmp_path / "empty"), *TOY, "study.labeled=[8]",
                 "study.methods=[supervised]", "study.report_only=true"]) == 2  # fmt: skip
    assert "no run of the study has finished there" in capsys.readouterr().err
