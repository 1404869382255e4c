"""Semi-supervised 2D heatmap recipes for the one training loop.

Every batch holds B labeled and B unlabeled person crops. The labeled half always gives the
supervised heatmap loss of every network; the unlabeled half gives the method's loss:

* ``supervised``: none (the unlabeled half is not drawn);
* ``pseudo_label``: offline targets, a supervised teacher's keypoints where its maximum passed a
  threshold, trained like labels (made by :mod:`semipose.methods.pseudo_pose2d`);
* ``posecons`` (one network): its prediction on the easy view, without gradient, warped into the
  hard view's frame, is the target of its prediction on the hard view;
* ``posedual`` (two networks): each network's easy-view prediction teaches the other's hard view;
* ``denoised`` (two students): per student, the easy view and further weak and strong views, all
  warped into the hard view's frame and aggregated (max or mean); threshold-and-refine; the views'
  spread as uncertainty; per joint, a student keeps its own target only when it is more certain than
  the other by a margin, else it takes the other's;
* ``ema_teacher`` (one student): as PoseCons, but the easy view is read by a teacher whose weights are
  the student's exponential moving average (Mean Teacher; DualPose lists it among the set-ups that
  collapse). The student is the evaluated network.

With Joint Cutout the hard view of a network is blanked around 5 joints that the *other* network
(PoseCons: the network itself) found on the easy view. The collapse monitor follows the maximum
responses on the unlabeled easy views.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..config import FRACTION, POSITIVE, ConfigError, checked
from ..data.crops import UnlabeledViews
from ..data.transforms2d import AUGMENTATIONS, warp_heatmaps
from .base import RecipeBase, Schedule, autocast
from .heatmap_ops import (
    aggregate_views,
    apply_cutout,
    argmax_coords,
    cutout_boxes,
    heatmap_loss,
    max_response,
    mirror_weights,
    select_targets,
    threshold_and_refine,
    view_uncertainty,
)

METHODS = ("supervised", "pseudo_label", "posecons", "posedual", "denoised", "ema_teacher")
DUAL = ("posedual", "denoised")


@dataclass
class MethodConfig:
    name: str = "posedual"
    easy: str = "affine30"  # augmentation of the view that teaches ('none' is the original crop)
    hard: str = "affine60"  # augmentation of the view that learns
    unsup_weight: float = checked(1.0, ge=0)
    # the unlabeled loss's weight rises as exp(-5 (1 - t)^2) over this share of the epochs (Laine & Aila's
    # ramp-up), so that networks trained from scratch teach only once they have learned something
    rampup: float = checked(0.3, ge=0, le=1)
    # posecons: False makes it naive consistency (the gradient flows through the easy view's prediction too)
    stop_gradient: bool = True
    # Joint Cutout on the hard view: joints, box half-size and centre jitter in pixels of a 256-pixel-high
    # input (the reference setting), scaled to the input's height
    joint_cutout: bool = False
    cutout_joints: int = checked(5, ge=0)
    cutout_half_size: list[float] = field(default_factory=lambda: [10.0, 20.0])
    cutout_jitter: float = checked(10.0, ge=0)
    cutout_reference_height: int = checked(256, **POSITIVE)
    randaugment: bool = False  # RandAugment on the hard view (DualPose's "Affine + RandAug")
    randaugment_geometric: bool = True  # with its geometric operations, composed into the hard view's map
    randaugment_ops: int = checked(2, ge=0)
    randaugment_magnitude: int = checked(10, ge=0, le=30)
    # denoised pseudo-heatmaps: views besides the easy one, aggregation, threshold-and-refine, selection
    weak_views: int = 1  # the easy view counts as the first weak view
    strong_views: int = 4
    strong: str = "affine60"
    aggregate: str = "max"
    threshold: float = checked(0.1, ge=0, lt=1)
    refine: bool = True
    # refine at the maximum shifted a quarter pixel towards its higher neighbour, where decoding reads the
    # keypoint (at the maximum pixel, a perfect teacher's warped targets lose AP 0.815 -> 0.738 on
    # SynthPose v4 at 96x128; quarter-pixel 0.801: analysis/warped_targets.py)
    refine_subpixel: bool = False
    # posecons / posedual / ema_teacher: their warped easy-view targets go through threshold-and-refine
    # as the denoised method's (method.threshold, refine, refine_subpixel): confident, sharp targets, as
    # the pseudo-label method's, made on the fly
    consistency_refine: bool = False
    # posecons / posedual / ema_teacher: a left or right joint whose mirror joint's target peaks within
    # this many heatmap pixels of its own gets weight 0 (the network put both on one limb; trained on,
    # that confusion spreads: docs/ssl2d.md); 0 keeps every joint
    mirror_radius: float = checked(0.0, ge=0)
    select: bool = True
    margin: float = 0.0
    # pseudo_label: keep a teacher's joint where its maximum response exceeds this
    pseudo_threshold: float = checked(0.5, ge=0, lt=1)
    # pseudo_label: a trained 2D model's model.pt to label with (any architecture, same skeleton); None
    # trains a supervised teacher of this config first, in <run>/teacher
    teacher: str | None = None
    # ema_teacher: the teacher's weights follow the student's as teacher = d * teacher + (1 - d) * student
    ema_decay: float = checked(0.999, ge=0, lt=1)

    def validate(self) -> None:
        if self.name not in METHODS:
            raise ConfigError(f"method.name must be one of {METHODS}, got {self.name!r}")
        for key in ("easy", "hard", "strong"):
            aug = getattr(self, key)
            if aug not in AUGMENTATIONS:
                raise ConfigError(f"method.{key} must be one of {sorted(AUGMENTATIONS)}, got {aug!r}")
            if AUGMENTATIONS[aug].flip_prob or AUGMENTATIONS[aug].half_body_prob:
                raise ConfigError(
                    f"method.{key}={aug!r} flips or crops half bodies; views of one person must "
                    "map onto each other by an affine warp"
                )
        if self.aggregate not in ("max", "mean"):
            raise ConfigError(f"method.aggregate must be max or mean, got {self.aggregate!r}")
        if self.weak_views < 1 or self.strong_views < 0:
            raise ConfigError("method.weak_views must be at least 1 (the easy view) and strong_views at least 0")

    @property
    def dual(self) -> bool:
        return self.name in DUAL

    def unlabeled_views(self) -> UnlabeledViews:
        """What each semi-supervised batch draws of the unlabeled people for this method."""
        return UnlabeledViews(
            kind={"supervised": "none", "pseudo_label": "pseudo"}.get(self.name, "views"),
            easy=self.easy,
            hard=self.hard,
            randaugment=self.randaugment,
            randaugment_geometric=self.randaugment_geometric,
            randaugment_ops=self.randaugment_ops,
            randaugment_magnitude=self.randaugment_magnitude,
            multi_view=self.name == "denoised",
            weak_views=self.weak_views,
            strong_views=self.strong_views,
            strong=self.strong,
        )

    def cutout_scale(self, input_height: int) -> float:
        return input_height / self.cutout_reference_height


@dataclass
class CollapseConfig:
    """A run has collapsed when, after ``warmup`` epochs, the mean maximum response on unlabeled easy
    views has fallen below ``drop`` times its best epoch and more than ``low_share`` of the joints
    respond below ``low_response``."""

    low_response: float = checked(0.1, ge=0)
    drop: float = checked(0.5, **FRACTION)
    low_share: float = checked(0.5, **FRACTION)
    warmup: int = checked(1, ge=0)
    stop: bool = False


class CollapseMonitor:
    def __init__(self, cfg: CollapseConfig):
        self.cfg, self.peak = cfg, 0.0
        self.collapsed_at: int | None = None
        self._sum = self._low = self._n = 0.0

    def update(self, responses: torch.Tensor) -> None:
        r = responses.detach().float()
        self._sum += float(r.sum())
        self._low += float((r < self.cfg.low_response).sum())
        self._n += r.numel()

    def end_epoch(self, epoch: int) -> dict[str, float]:
        if not self._n:
            return {}
        mean, low = self._sum / self._n, self._low / self._n
        self._sum = self._low = self._n = 0.0
        if epoch + 1 <= self.cfg.warmup:  # responses of a network still near its initialisation set no peak
            return {"unl_max_response": mean, "unl_low_share": low, "collapsed": 0.0}
        self.peak = max(self.peak, mean)
        collapsed = mean < self.cfg.drop * self.peak and low > self.cfg.low_share
        if collapsed and self.collapsed_at is None:
            self.collapsed_at = epoch + 1
            warnings.warn(
                f"training collapsed at epoch {epoch + 1}: mean maximum response on unlabeled data "
                f"{mean:.3f} (best {self.peak:.3f}), {low:.0%} of joints below {self.cfg.low_response}",
                RuntimeWarning,
                stacklevel=2,
            )
        return {"unl_max_response": mean, "unl_low_share": low, "collapsed": float(collapsed)}

    def state_dict(self) -> dict[str, Any]:
        return {"peak": self.peak, "collapsed_at": self.collapsed_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.peak, self.collapsed_at = state["peak"], state["collapsed_at"]


def rampup_factor(epoch: int, num_epochs: int, share: float) -> float:
    """exp(-5 (1 - t)^2) with t the epoch's progress through the first ``share`` of training; 1 after it."""
    span = share * num_epochs
    if span <= 0 or epoch >= span:
        return 1.0
    t = (epoch + 1) / (span + 1)  # the first epoch already learns a little from unlabeled data
    return float(np.exp(-5.0 * (1.0 - t) ** 2))


def rampup_factor_at(fraction: float, share: float) -> float:
    """The same ramp-up driven by the elapsed fraction of a wall-clock budget."""
    if share <= 0 or fraction >= share:
        return 1.0
    return float(np.exp(-5.0 * (1.0 - fraction / share) ** 2))


class AveragedHeatmaps(torch.nn.Module):
    """The ensemble of networks: their heatmaps averaged."""

    def __init__(self, nets: list[torch.nn.Module]):
        super().__init__()
        self.nets = torch.nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([n(x) for n in self.nets]).mean(dim=0)


class SemiSupervisedPose2D(RecipeBase):
    """Recipe for :func:`semipose.engine.fit`. ``batches_fn(epoch, rng)`` yields dicts with ``labeled``
    (images, heatmaps, weights) and, unless supervised, ``unlabeled`` (see :class:`semipose.data.crops.SemiBatches`)."""

    def __init__(
        self,
        nets: list[torch.nn.Module],
        method: MethodConfig,
        collapse: CollapseConfig,
        schedule: Schedule,
        batches_fn: Callable,
        num_samples: int,
        evaluate_fn: Callable[[torch.nn.Module], dict[str, Any]],
        device: torch.device,
        sigma: float,
        input_size: tuple[int, int],
        precision: str = "fp32",
        seed: int = 0,
        amsgrad: bool = False,
        flip_permutation: list[int] | None = None,
    ):
        super().__init__({f"net{i + 1}": n for i, n in enumerate(nets)}, schedule, evaluate_fn, device, amsgrad)
        self.nets = list(self.modules.values())
        self.method, self.batches_fn, self._num_samples = method, batches_fn, num_samples
        self.sigma, self.input_size, self.precision = sigma, input_size, precision
        self.monitor = CollapseMonitor(collapse)
        self.generator = torch.Generator().manual_seed(seed)
        self.stop_requested = False
        # the skeleton's left/right pairing, for method.mirror_radius
        self.flip_permutation = None if flip_permutation is None else torch.as_tensor(flip_permutation)
        if method.mirror_radius > 0 and self.flip_permutation is None:
            raise ConfigError("method.mirror_radius needs the skeleton's flip permutation")
        self.unsup_weight = method.unsup_weight
        self.step_stats: dict[str, float] = {}  # a method's statistics of the last step, for the log
        # ema_teacher: a copy of the student whose weights trail the student's (Mean Teacher); not optimised
        self.teacher: torch.nn.Module | None = None
        if method.name == "ema_teacher":
            self.teacher = copy.deepcopy(self.nets[0]).requires_grad_(False)

    # --- the loop's interface -------------------------------------------------------------------
    def num_samples(self) -> int:
        return self._num_samples

    def start_epoch(self, epoch: int, num_epochs: int) -> dict[str, float]:
        lr = self.set_learning_rate(epoch)
        for n in self.nets:
            n.train()
        self.generator.manual_seed(int(np.random.default_rng([epoch, 7]).integers(2**31)))
        self.unsup_weight = self.method.unsup_weight * rampup_factor(epoch, num_epochs, self.method.rampup)
        return {"lr": lr, "unsup_weight": self.unsup_weight}

    def set_progress(self, fraction: float) -> dict[str, float]:
        self.unsup_weight = self.method.unsup_weight * rampup_factor_at(fraction, self.method.rampup)
        return {**super().set_progress(fraction), "unsup_weight": self.unsup_weight}

    def batches(self, epoch: int, rng: np.random.Generator):
        return self.batches_fn(epoch, rng)

    def end_epoch(self, epoch: int) -> dict[str, float]:
        row = self.monitor.end_epoch(epoch)
        if row.get("collapsed") and self.monitor.cfg.stop:
            self.stop_requested = True
        return row

    def should_stop(self) -> bool:
        return self.stop_requested

    def evaluation_model(self) -> torch.nn.Module:
        return self.nets[0] if len(self.nets) == 1 else AveragedHeatmaps(self.nets)

    def evaluate(self) -> dict[str, float]:
        metrics = self.evaluate_fn(self.evaluation_model())
        if len(self.nets) > 1:  # every network on its own too; the reported figure stays the ensemble's
            for i, net in enumerate(self.nets, start=1):
                own = self.evaluate_fn(net)
                metrics.update({f"net{i}_{k}": v for k, v in own.items() if isinstance(v, float)})
        self.last_metrics = metrics
        return {k: v for k, v in metrics.items() if isinstance(v, float)}

    def state_dict(self) -> dict[str, Any]:
        teacher = {"teacher": self.teacher.state_dict()} if self.teacher is not None else {}
        return {**super().state_dict(), "monitor": self.monitor.state_dict(), **teacher}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.monitor.load_state_dict(state["monitor"])
        if self.teacher is not None:
            self.teacher.load_state_dict(state["teacher"])

    # --- one step ---------------------------------------------------------------------------------
    def _forward(self, net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.precision):
            return net(x).float()

    @torch.no_grad()
    def _teach(self, net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Last-stack heatmaps of ``net`` without gradient, in training mode (as the reference code,
        which runs the easy and hard views through the network together)."""
        return self._forward(net, x)[:, -1]

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        images, heatmaps, weights = (t.to(self.device) for t in batch["labeled"])
        loss = torch.stack([heatmap_loss(self._forward(n, images), heatmaps, weights) for n in self.nets]).sum()
        out: dict[str, float] = {"sup_loss": float(loss.detach())}
        if "unlabeled" in batch:
            u = {k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in batch["unlabeled"].items()}
            unsup = UNSUPERVISED[self.method.name](self, u)
            loss = loss + self.unsup_weight * unsup
            out["unsup_loss"] = float(unsup.detach())
            out.update(self.step_stats)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.teacher is not None:
            ema_update(self.teacher, self.nets[0], self.method.ema_decay)
        return {"loss": float(loss.detach()), **out, "n": images.shape[0]}

    # --- helpers of the methods -------------------------------------------------------------------
    def _to_hard(self, heatmaps: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
        return warp_heatmaps(heatmaps, maps)

    def _consistency_target(self, easy: torch.Tensor, easy_to_hard: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """An easy-view prediction warped into the hard view as its target, and the (B, J) joint weights:
        all 1, or with ``method.consistency_refine`` thresholded and refined as the denoised method's; with
        ``method.mirror_radius`` joints found on their mirror joint's spot get 0."""
        m = self.method
        target = self._to_hard(easy, easy_to_hard)
        if m.consistency_refine:
            target, weights = threshold_and_refine(target, m.threshold, m.refine, self.sigma, m.refine_subpixel)
        else:
            weights = torch.ones(target.shape[:2], device=target.device)
        if m.mirror_radius > 0:
            assert self.flip_permutation is not None  # checked when made
            weights = weights * mirror_weights(target.detach(), self.flip_permutation, m.mirror_radius)
        return target, weights

    def _cutout(self, hard: torch.Tensor, teacher_hm_in_hard: torch.Tensor) -> torch.Tensor:
        m = self.method
        if not m.joint_cutout:
            return hard
        stride = hard.shape[-1] / teacher_hm_in_hard.shape[-1]
        centers = argmax_coords(teacher_hm_in_hard) * stride
        s = m.cutout_scale(hard.shape[-2])
        boxes = cutout_boxes(
            centers,
            (hard.shape[-1], hard.shape[-2]),
            self.generator,
            m.cutout_joints,
            (m.cutout_half_size[0] * s, m.cutout_half_size[1] * s),
            m.cutout_jitter * s,
        )
        return apply_cutout(hard, boxes.to(hard.device))


def _pseudo_label(recipe: SemiSupervisedPose2D, u: dict[str, Any]) -> torch.Tensor:
    pred = recipe._forward(recipe.nets[0], u["hard"])
    recipe.monitor.update(max_response(pred[:, -1].detach()))  # the student on its pseudo-labeled crops
    return heatmap_loss(pred, u["targets"], u["target_weights"])


def _posecons(recipe: SemiSupervisedPose2D, u: dict[str, Any]) -> torch.Tensor:
    net = recipe.nets[0]
    easy = recipe._teach(net, u["easy"]) if recipe.method.stop_gradient else recipe._forward(net, u["easy"])[:, -1]
    recipe.monitor.update(max_response(easy.detach()))
    target, weights = recipe._consistency_target(easy, u["easy_to_hard"])
    recipe.step_stats = {"target_kept": float(weights.mean())}
    hard = recipe._cutout(u["hard"], target)
    return heatmap_loss(recipe._forward(net, hard), target, weights)


def _posedual(recipe: SemiSupervisedPose2D, u: dict[str, Any]) -> torch.Tensor:
    a, b = recipe.nets
    easy = [recipe._teach(n, u["easy"]) for n in (a, b)]
    recipe.monitor.update(max_response(easy[0]))
    targets = [recipe._consistency_target(e, u["easy_to_hard"]) for e in easy]
    recipe.step_stats = {"target_kept": float(sum(w.mean() for _, w in targets)) / len(targets)}
    loss = torch.zeros((), device=u["easy"].device)
    for student, (teacher_target, weights) in ((a, targets[1]), (b, targets[0])):
        hard = recipe._cutout(u["hard"], teacher_target)
        loss = loss + heatmap_loss(recipe._forward(student, hard), teacher_target, weights)
    return loss


def _denoised(recipe: SemiSupervisedPose2D, u: dict[str, Any]) -> torch.Tensor:
    m = recipe.method
    views = u["views"]  # (V, B, 3, H, W): the easy view first, then further weak, then strong views
    maps = u["views_to_hard"]  # (V, B, 2, 3)
    V = views.shape[0]
    pseudo, weights, uncertainty = [], [], []
    for i, n in enumerate(recipe.nets):
        raw = [recipe._teach(n, views[v]) for v in range(V)]
        if i == 0:
            recipe.monitor.update(max_response(raw[0]))  # the first student on the easy view
        hm = torch.stack([recipe._to_hard(r, maps[v]) for v, r in enumerate(raw)])
        if i == 0:  # the denoised paper's figure: how many targets the strong views give (max aggregation)
            winner = hm.amax(dim=(-2, -1)).argmax(dim=0)  # (B, K): the view with the highest peak
            recipe.step_stats = {"strong_share": float((winner >= m.weak_views).float().mean())}
        agg = aggregate_views(hm, m.aggregate)
        target, w = threshold_and_refine(agg, m.threshold, m.refine, recipe.sigma, m.refine_subpixel)
        pseudo.append(target)
        weights.append(w)
        uncertainty.append(view_uncertainty(hm))
    loss = torch.zeros((), device=views.device)
    for s, o in ((0, 1), (1, 0)):
        if m.select:
            target, w, _ = select_targets(
                pseudo[s], pseudo[o], uncertainty[s], uncertainty[o], m.margin, weights[s], weights[o]
            )
        else:  # cross-teaching as in DualPose: the other student's targets
            target, w = pseudo[o], weights[o]
        hard = recipe._cutout(u["hard"], target)
        loss = loss + heatmap_loss(recipe._forward(recipe.nets[s], hard), target, w)
    return loss


@torch.no_grad()
def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, decay: float) -> None:
    """teacher = decay * teacher + (1 - decay) * student for the weights; the student's BatchNorm
    statistics are copied (Mean Teacher, Tarvainen and Valpola 2017)."""
    for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
        t.mul_(decay).add_(s.detach(), alpha=1 - decay)
    for tb, sb in zip(teacher.buffers(), student.buffers(), strict=True):
        tb.copy_(sb)


def _ema_teacher(recipe: SemiSupervisedPose2D, u: dict[str, Any]) -> torch.Tensor:
    """The EMA teacher's easy-view prediction, warped into the hard view, teaches the student; DualPose
    lists this among the single-network set-ups that collapse."""
    assert recipe.teacher is not None  # made for this method
    easy = recipe._teach(recipe.teacher, u["easy"])
    recipe.monitor.update(max_response(easy))
    target, weights = recipe._consistency_target(easy, u["easy_to_hard"])
    recipe.step_stats = {"target_kept": float(weights.mean())}
    hard = recipe._cutout(u["hard"], target)
    return heatmap_loss(recipe._forward(recipe.nets[0], hard), target, weights)


UNSUPERVISED: dict[str, Callable[[SemiSupervisedPose2D, dict[str, Any]], torch.Tensor]] = {
    "pseudo_label": _pseudo_label,
    "posecons": _posecons,
    "posedual": _posedual,
    "denoised": _denoised,
    "ema_teacher": _ema_teacher,
}
