"""The hourglass-variants study at a toy size: every variant trained, per-epoch PCK, sizes, resume."""

import csv
import json

import yaml

from semipose.cli import main


def test_hourglass_variants_study(tmp_path, capsys):
    out = tmp_path / "study"
    args = [
        "study",
        "hourglass-variants",
        "-o",
        str(out),
        "model.width=8",
        "train.epochs=2",
        "train.batch_size=8",
        "study.synthpose_train=16",
        "study.synthpose_val=8",
        "study.stacks=[1,2]",
        "train.progress=false",
        "train.precision=fp32",
        "train.memory_format=contiguous",
    ]
    assert main(args) == 0
    table = json.loads((out / "hourglass_variants.json").read_text())["rows"]
    assert [(r["variant"], r["stacks"]) for r in table] == [
        (v, s) for s in (1, 2) for v in ("residual", "hru", "hru-deconv")
    ]
    size = {(r["variant"], r["stacks"]): r["parameters"] for r in table}
    assert size["residual", 2] > size["residual", 1] and size["hru", 1] != size["residual", 1]
    assert size["hru-deconv", 1] > size["hru", 1]  # transposed convolutions have weights, nearest has none
    with open(out / "pck_per_epoch.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 * 2 and all(0.0 <= float(r["pck@0.2"]) <= 1.0 for r in rows)
    assert all(0.0 <= float(r["coco_AP"]) <= 1.0 for r in rows)
    assert (out / "pck_per_epoch.png").stat().st_size > 0 and (out / "hourglass_variants.md").is_file()
    assert "hru-deconv" in capsys.readouterr().out
    # without study.seeds, one run per variant with the config's own train.seed, as before seeds existed
    study_seed = yaml.safe_load((out / "config.yaml").read_text())["train"]["seed"]
    run = out / "hru-s2" / f"seed{study_seed}"
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["seed"] == study_seed

    # a second call is refused without --resume; with it, it finds every variant finished and trains nothing
    before = (run / "model.pt").stat().st_mtime_ns
    assert main(args) == 2
    assert main(args + ["--resume"]) == 0
    assert (run / "model.pt").stat().st_mtime_ns == before


def test_hourglass_variants_over_seeds(tmp_path):
    """Several seeds: one folder each under the arm's, the table gives mean and std over seeds."""
    out = tmp_path / "study"
    args = ["study", "hourglass-variants", "-o", str(out), "model.width=8", "train.epochs=1", "train.batch_size=8"]
    args += ["study.synthpose_train=12", "study.synthpose_val=6", "study.stacks=[1]", "study.variants=[residual]"]
    assert main(args + ["train.progress=false", "train.precision=fp32", "study.seeds=[3,4]"]) == 0
    runs = [json.loads((out / d / "metrics.json").read_text()) for d in ("residual-s1/seed3", "residual-s1/seed4")]
    seeds = [
        yaml.safe_load((out / d / "config.yaml").read_text())["train"]["seed"]
        for d in ("residual-s1/seed3", "residual-s1/seed4")
    ]
    assert seeds == [3, 4]
    (row,) = json.loads((out / "hourglass_variants.json").read_text())["rows"]
    values = [r["pck@0.2"] for r in runs]
    assert row["seeds"] == 2 and abs(row["pck@0.2"] - sum(values) / 2) < 1e-12
    assert abs(row["pck@0.2 std"] - abs(values[0] - values[1]) / 2) < 1e-12
    assert f"{row['pck@0.2 std']:.3g}" in (out / "hourglass_variants.md").read_text()
    assert row["coco_AP"] >= 0.0


def test_hourglass_variants_paired_by_seed(tmp_path):
    """Each variant's AP and PCK minus the first variant's, seed by seed, with how many seeds came out ahead."""
    out = tmp_path / "study"
    args = ["study", "hourglass-variants", "-o", str(out), "model.width=8", "train.epochs=1", "train.batch_size=8"]
    args += ["study.synthpose_train=12", "study.synthpose_val=6", "study.stacks=[1]", "study.variants=[residual,hru]"]
    assert main(args + ["train.progress=false", "train.precision=fp32", "study.seeds=[0,1]"]) == 0
    rows = json.loads((out / "hourglass_variants.json").read_text())["rows"]
    assert [r["variant"] for r in rows] == ["residual", "hru"] and rows[0]["pck@0.2 minus residual"] == ""
    for key in ("coco_AP", "pck@0.2"):
        base = [json.loads((out / "residual-s1" / d / "metrics.json").read_text())[key] for d in ("seed0", "seed1")]
        hru = [json.loads((out / "hru-s1" / d / "metrics.json").read_text())[key] for d in ("seed0", "seed1")]
        deltas = [a - b for a, b in zip(hru, base)]
        assert abs(rows[1][f"{key} minus residual"] - sum(deltas) / 2) < 1e-12
        assert rows[1][f"{key} minus residual ahead"] == f"{sum(d > 0 for d in deltas)}/2"
    assert rows[1]["per seed PCK@0.2"] == ", ".join(f"{v:.3f}" for v in hru)
    with open(out / "pck_per_epoch.csv") as f:
        assert {"coco_AP", "pck@0.2"} <= set(next(csv.DictReader(f)))


def test_hourglass_variants_resume_with_more_seeds_trains_only_the_new_ones(tmp_path):
    """Each seed has its own folder: a study resumed with a longer study.seeds reads the finished seed back
    and trains the new one (the folders once named the first seed's run without its seed)."""
    out = tmp_path / "study"
    args = ["study", "hourglass-variants", "-o", str(out), "model.width=8", "train.epochs=1", "train.batch_size=8"]
    args += ["study.synthpose_train=8", "study.synthpose_val=4", "study.stacks=[1]", "study.variants=[residual]"]
    args += ["train.progress=false", "train.precision=fp32", "train.memory_format=contiguous"]
    assert main(args + ["study.seeds=[1]"]) == 0
    before = (out / "residual-s1" / "seed1" / "model.pt").stat().st_mtime_ns
    assert main(args + ["study.seeds=[0,1]", "--resume"]) == 0
    assert (out / "residual-s1" / "seed1" / "model.pt").stat().st_mtime_ns == before
    assert yaml.safe_load((out / "residual-s1" / "seed0" / "config.yaml").read_text())["train"]["seed"] == 0
    (row,) = json.loads((out / "hourglass_variants.json").read_text())["rows"]
    assert row["seeds"] == 2


def test_hourglass_variants_workers_train_side_by_side_as_one_after_the_other(tmp_path, monkeypatch):
    """study.workers=2 trains the runs in two processes; each run's figures equal those of the same run
    trained in the study's own process (same seed, one thread each)."""
    import semipose.studies.runner as runner

    args = ["study", "hourglass-variants", "model.width=8", "train.epochs=1", "train.batch_size=8"]
    args += ["study.synthpose_train=8", "study.synthpose_val=4", "study.stacks=[1]", "study.variants=[residual,hru]"]
    args += ["train.progress=false", "train.precision=fp32", "train.memory_format=contiguous", "train.threads=1"]
    assert main(args + ["-o", str(tmp_path / "one"), "study.seeds=[0,1]"]) == 0

    def not_here(*a, **k):
        raise AssertionError("trained in the study's own process, not by its workers")

    monkeypatch.setattr(runner, "train", not_here)  # the spawned workers import the real one
    assert main(args + ["-o", str(tmp_path / "two"), "study.seeds=[0,1]", "study.workers=2"]) == 0
    for run in ("residual-s1/seed0", "residual-s1/seed1", "hru-s1/seed0", "hru-s1/seed1"):
        one, two = (json.loads((tmp_path / d / run / "metrics.json").read_text()) for d in ("one", "two"))
        assert one["pck@0.2"] == two["pck@0.2"] and one["coco_AP"] == two["coco_AP"], run
    rows = [json.loads((tmp_path / d / "hourglass_variants.json").read_text())["rows"] for d in ("one", "two")]
    assert [r["per seed AP"] for r in rows[0]] == [r["per seed AP"] for r in rows[1]]
