"""Semi-supervised 2D methods end to end on real COCO images, the collapse monitor, the protocols."""

import csv
import dataclasses
import json
import math

import pytest
import torch

from semipose.engine import fit
from semipose.methods.ssl2d import CollapseConfig, CollapseMonitor
from semipose.pose2d.config import SSL_SECTIONS, Pose2DConfig
from semipose.pose2d.evaluate import evaluate
from semipose.pose2d.ssl import SSL2DConfig, load_ssl2d_config, split_protocol, train_ssl


def _coco_cfg(coco, method, extra=()):
    return load_ssl2d_config(
        None,
        [
            f"data.train_ann={coco}/annotations/person_keypoints_train2017.json",
            f"data.train_images={coco}/train2017",
            f"data.val_ann={coco}/annotations/person_keypoints_val2017.json",
            f"data.val_images={coco}/val2017",
            "data.input_size=[64,64]",
            "data.sigma=1.5",
            "model.width=8",
            "train.epochs=3",
            "train.batch_size=8",
            "train.lr=2e-3",
            "train.progress=false",
            "train.precision=fp32",
            "train.test_flip=false",
            "ssl.labeled=20",
            f"method.name={method}",
            "method.strong_views=2",
            *extra,
        ],
    )


@pytest.mark.parametrize(
    "method,extra",
    [
        ("supervised", []),
        ("pseudo_label", ["method.pseudo_threshold=0.05"]),
        ("posecons", ["method.joint_cutout=true"]),
        ("posedual", ["method.randaugment=true"]),
        ("posedual", ["method.consistency_refine=true", "method.refine_subpixel=true", "method.threshold=0.05"]),
        ("posecons", ["method.mirror_radius=2"]),
        ("denoised", ["method.joint_cutout=true"]),
        ("ema_teacher", ["method.ema_decay=0.9"]),
    ],
)
def test_methods_run_on_real_coco_and_loss_falls(shared_data, tmp_path, method, extra):
    cfg = _coco_cfg(shared_data / "coco_mini", method, extra)
    metrics = train_ssl(cfg, tmp_path / method)
    with open(tmp_path / method / "log.csv") as f:
        log = list(csv.DictReader(f))
    assert len(log) == 3 and float(log[-1]["sup_loss"]) < float(log[0]["sup_loss"])
    if method != "supervised":  # the unlabeled loss is in the log, its weight ramped up over the first epoch
        assert float(log[0]["unsup_weight"]) < float(log[-1]["unsup_weight"]) == 1.0
        assert float(log[-1]["unsup_loss"]) < float(log[0]["unsup_loss"]) or method == "pseudo_label"
    assert 0.0 <= metrics["pck@0.2"] <= 1.0 and "coco_AP" in metrics
    info = json.loads((tmp_path / method / "run_info.json").read_text())
    assert info["labeled_instances"] == 20 and info["unlabeled_instances"] == 66
    if method in ("posedual", "denoised"):
        assert "net1_pck@0.2" in metrics and "net2_pck@0.2" in metrics
        saved = torch.load(tmp_path / method / "model.pt", weights_only=True)
        assert "net2" in saved
        # `pose2d evaluate` reads a semi-supervised run: its model file is the first network, evaluated
        # as the run was (its train.test_flip is false); a flip test asked for changes the figure
        again = evaluate(tmp_path / method)
        assert again["pck@0.2"] == pytest.approx(metrics["net1_pck@0.2"], abs=1e-6)
        flipped = evaluate(tmp_path / method, flip_test=True)
        assert flipped["pck@0.2"] != pytest.approx(metrics["net1_pck@0.2"], abs=1e-6)
    if method != "supervised":
        assert "unsup_loss" in log[0] and 0.0 <= float(log[-1]["unl_max_response"]) <= 1.5
        assert (tmp_path / method / "collapse.png").stat().st_size > 0
    if method == "pseudo_label":
        assert (tmp_path / method / "teacher" / "model.pt").is_file() and 0 < metrics["pseudo_joints_kept"] <= 1
    if method == "denoised":  # the share of targets whose highest peak came from a strong view
        assert all(0.0 <= float(r["strong_share"]) <= 1.0 for r in log)
    if method in ("posecons", "posedual", "ema_teacher"):  # the share of consistency targets trained on
        kept = [float(r["target_kept"]) for r in log]
        if any("mirror_radius" in o or "consistency_refine" in o for o in extra):
            assert all(0.0 <= k <= 1.0 for k in kept)
        else:
            assert kept == [1.0] * len(kept)


def test_a_run_config_reader_knows_every_semi_supervised_section():
    extra = {f.name for f in dataclasses.fields(SSL2DConfig)} - {f.name for f in dataclasses.fields(Pose2DConfig)}
    assert extra == set(SSL_SECTIONS)


def test_protocols_hide_the_unlabeled_labels(shared_data, tmp_path):
    coco = shared_data / "coco_mini"
    cfg = _coco_cfg(coco, "posedual")
    labeled, unlabeled, skel = split_protocol(cfg)
    assert len(labeled) == 20 and len(unlabeled) == 66 and skel.num_joints == 17
    assert all((p.keypoints == 0).all() for p in unlabeled) and any((p.keypoints[:, 2] > 0).any() for p in labeled)
    add = _coco_cfg(
        coco,
        "posedual",
        [
            "ssl.protocol=additional",
            f"ssl.unlabeled_ann={coco}/annotations/person_keypoints_val2017.json",
            f"ssl.unlabeled_images={coco}/val2017",
        ],
    )
    labeled, unlabeled, _ = split_protocol(add)
    assert len(labeled) == 86 and len(unlabeled) > 0 and all((p.keypoints == 0).all() for p in unlabeled)
    from semipose.config import ConfigError

    with pytest.raises(ConfigError, match="needs ssl.unlabeled_ann"):
        _coco_cfg(coco, "posedual", ["ssl.protocol=additional"])
    with pytest.raises(ConfigError, match="flips"):
        _coco_cfg(coco, "posedual", ["method.hard=weak"])


def test_collapse_monitor_flags_a_fall_to_background():
    mon = CollapseMonitor(CollapseConfig(low_response=0.1, drop=0.5, low_share=0.5, warmup=1))
    for epoch, level in enumerate([0.3, 0.6, 0.5]):
        mon.update(torch.full((4, 17), level))
        assert mon.end_epoch(epoch)["collapsed"] == 0.0
    mon.update(torch.cat([torch.full((4, 12), 0.02), torch.full((4, 5), 0.4)], dim=1))
    with pytest.warns(RuntimeWarning, match="collapsed at epoch 4"):
        row = mon.end_epoch(3)
    assert row["collapsed"] == 1.0 and mon.collapsed_at == 4
    assert abs(row["unl_low_share"] - 12 / 17) < 1e-9
    # a network that never learned is not "collapsed": nothing fell from a peak
    fresh = CollapseMonitor(CollapseConfig())
    fresh.update(torch.full((2, 17), 0.01))
    assert fresh.end_epoch(0)["collapsed"] == 0.0


class _StopsAfterTwo:
    """A minimal recipe whose end_epoch asks the loop to stop after its second epoch."""

    def __init__(self):
        self.epochs_seen, self.evaluated = 0, 0

    def num_samples(self):
        return 1

    def start_epoch(self, epoch, num_epochs):
        return {}

    def batches(self, epoch, rng):
        return [None]

    def train_step(self, batch):
        return {"loss": 1.0, "n": 1}

    def end_epoch(self, epoch):
        self.epochs_seen += 1
        return {"collapsed": float(epoch == 1)}

    def should_stop(self):
        return self.epochs_seen >= 2

    def evaluate(self):
        self.evaluated += 1
        return {"pck@0.2": 0.0}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    def end_training(self):
        pass


def test_loop_stops_when_a_recipe_asks(tmp_path):
    recipe = _StopsAfterTwo()
    history = fit(recipe, tmp_path, epochs=10, seed=0, progress=False)
    assert len(history) == 2 and recipe.evaluated == 1 and history[-1]["collapsed"] == 1.0


def test_posedual_under_a_time_budget_ramps_up_by_the_elapsed_fraction(shared_data, tmp_path, monkeypatch):
    import itertools

    import semipose.engine.runtime as runtime  # fit_run calls the loop from there

    ticks = itertools.count(0.0, 0.05)  # a fake clock: 50 ms for every reading, whatever the machine's load
    monkeypatch.setattr(runtime, "fit", lambda *a, **k: fit(*a, **k, clock=lambda: next(ticks)))
    cfg = _coco_cfg(shared_data / "coco_mini", "posedual", ["train.minutes=0.05", "train.epochs=50"])
    metrics = train_ssl(cfg, tmp_path / "run")
    with open(tmp_path / "run" / "log.csv") as f:
        log = list(csv.DictReader(f))
    assert metrics["budget_minutes"] == 0.05 and 3.0 <= metrics["train_wall_s"] < 3.2
    assert 1 < len(log) < 50 and float(log[-1]["budget_fraction"]) == 1.0
    # the ramp-up follows the budget: below 1 in the first epoch, rising, 1 once the first 30% is spent
    weights = [float(r["unsup_weight"]) for r in log]
    assert weights[0] < 1.0 and weights == sorted(weights) and weights[-1] == 1.0
    assert 0.0 <= metrics["pck@0.2"] <= 1.0
    from semipose.methods.ssl2d import rampup_factor_at

    assert rampup_factor_at(0.0, 0.3) == pytest.approx(math.exp(-5.0))
    assert rampup_factor_at(0.15, 0.3) == pytest.approx(math.exp(-5.0 * 0.25)) and rampup_factor_at(0.3, 0.3) == 1.0


def test_ema_update_by_hand():
    from semipose.methods.ssl2d import ema_update

    teacher, student = torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    with torch.no_grad():
        teacher.weight.fill_(1.0)
        student.weight.fill_(3.0)
        student.running_mean.fill_(0.5)
    ema_update(teacher, student, 0.9)
    assert torch.allclose(teacher.weight, torch.full((2,), 0.9 * 1.0 + 0.1 * 3.0))
    assert torch.equal(teacher.running_mean, student.running_mean) and torch.equal(
        student.weight, torch.full((2,), 3.0)
    )


class _FixedHeatmaps(torch.nn.Module):
    """A 'network' whose (B, 1, J, h, w) output is a fixed heatmap stack plus a learnable offset."""

    def __init__(self, heatmaps):
        super().__init__()
        self.heatmaps = heatmaps
        self.offset = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return (self.heatmaps + self.offset).expand(x.shape[0], *self.heatmaps.shape)[:, None]


def _posedual_loss(teacher_maps, student_maps, extra, flip_permutation=None, stats=None):
    from semipose.methods.base import Schedule
    from semipose.methods.ssl2d import UNSUPERVISED, MethodConfig, SemiSupervisedPose2D

    method = dataclasses.replace(MethodConfig(name="posedual"), **extra)
    nets = [_FixedHeatmaps(student_maps), _FixedHeatmaps(teacher_maps)]
    recipe = SemiSupervisedPose2D(
        nets, method, CollapseConfig(), Schedule(epochs=1), None, 1, None, torch.device("cpu"), 1.0, (24, 24),
        flip_permutation=flip_permutation,
    )  # fmt: skip
    identity = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]])
    u = {"easy": torch.zeros(1, 3, 24, 24), "hard": torch.zeros(1, 3, 24, 24), "easy_to_hard": identity}
    loss = float(UNSUPERVISED["posedual"](recipe, u).detach())
    if stats is not None:
        stats.update(recipe.step_stats)
    return loss


def test_posedual_refined_targets_drop_unsure_joints_and_sharpen_the_rest():
    from semipose.methods.heatmap_ops import heatmap_loss, sharpen_heatmaps

    teacher = torch.zeros(2, 6, 6)
    teacher[0, 3, 2], teacher[0, 3, 3] = 0.6, 0.3  # sure: peak 0.6 > 0.2, a quarter pixel right of x=2
    teacher[1, 1, 1] = 0.1  # unsure: 0.1 < 0.2, dropped
    refine = {"consistency_refine": True, "threshold": 0.2, "refine": True, "refine_subpixel": True}
    student = torch.zeros(2, 6, 6)
    moved = student.clone()
    moved[1] = 0.15  # the student's output on the dropped joint alone changes (still below tau as a teacher)
    stats: dict[str, float] = {}
    assert _posedual_loss(teacher, student, refine, stats=stats) == _posedual_loss(teacher, moved, refine)
    assert stats["target_kept"] == 0.25  # the teacher net's targets keep 1 joint of 2, the student's 0 of 2
    assert _posedual_loss(teacher, student, {}) != _posedual_loss(teacher, moved, {})
    # the sure joint's target is a sigma-1 Gaussian at (2.25, 3), one of the two cross-teaching terms; the
    # other (the teacher net taught by the all-zero student: both joints below tau) has weight 0
    target = sharpen_heatmaps(teacher[None], 1.0, subpixel=True)
    expected = heatmap_loss(student[None, None], target, torch.tensor([[1.0, 0.0]]))
    assert _posedual_loss(teacher, student, refine) == pytest.approx(float(expected), rel=1e-6)
    # without refinement the target is the teacher's heatmap itself, every joint weighted
    plain = heatmap_loss(student[None, None], teacher[None], torch.ones(1, 2))
    plain = plain + heatmap_loss(teacher[None, None], student[None], torch.ones(1, 2))
    assert _posedual_loss(teacher, student, {}) == pytest.approx(float(plain), rel=1e-6)


def test_posedual_mirror_radius_drops_a_pair_its_teacher_put_on_one_spot():
    teacher = torch.zeros(2, 6, 6)
    teacher[0, 2, 2], teacher[1, 2, 3] = 0.6, 0.5  # a left/right pair one pixel apart
    student = torch.zeros(2, 6, 6)
    moved = student.clone()
    moved[:, 4, 4] = 0.05  # the student's output changes on both joints of the pair
    perm = [1, 0]
    extra = {"mirror_radius": 1.5}
    assert _posedual_loss(teacher, student, extra, perm) == _posedual_loss(teacher, moved, extra, perm)
    assert _posedual_loss(teacher, student, {"mirror_radius": 0.5}, perm) != _posedual_loss(
        teacher, moved, {"mirror_radius": 0.5}, perm
    )
    from semipose.config import ConfigError

    with pytest.raises(ConfigError, match="flip permutation"):
        _posedual_loss(teacher, student, extra)
