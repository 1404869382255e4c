"""Person crops for top-down 2D training: a dataset of person instances that cuts normalised crops and
their heatmap targets on request, and the batches of semi-supervised training (labeled crops beside the
unlabeled views a method asks for). The 2D counterpart of :mod:`semipose.data.windows`.

The heatmap encoding is the codec's (:mod:`semipose.codecs`): the dataset only calls it.
"""

from __future__ import annotations

from functools import partial

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from ..skeletons import Skeleton
from .coco import PersonInstance
from .errors import DataError, open_image
from .transforms2d import View, crop, draw_randaugment, randaugment_pixels, randaugment_view, sample_view, transform_keypoints, view_to_view

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


class TargetCodec(Protocol):
    """What the crops need of a heatmap codec (:class:`semipose.codecs.heatmap.HeatmapCodec`)."""

    @property
    def input_size(self) -> tuple[int, int]: ...

    @property
    def stride(self) -> np.ndarray: ...

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def decode(self, heatmaps: np.ndarray, method: str | None = None) -> tuple[np.ndarray, np.ndarray]: ...


class CropDataset:
    """Person instances with their images in memory; crops, targets and weights on request."""

    def __init__(self, people: list[PersonInstance], skeleton: Skeleton, codec: TargetCodec, augmentation: str):
        if not people:
            raise DataError("no person instances to crop: the annotation file lists none with visible keypoints")
        self.people, self.skeleton, self.codec, self.augmentation = people, skeleton, codec, augmentation
        self._images = {p.image_path: open_image(p.image_path) for p in people}
        self._perm = skeleton.flip_permutation()
        self._upper = [i for i, n in enumerate(skeleton.joints) if not any(s in n for s in ("hip", "knee", "ankle"))]

    def __len__(self) -> int:
        return len(self.people)

    def view(self, i: int, rng: np.random.Generator, augmentation: str | None = None) -> View:
        p = self.people[i]
        return sample_view(
            p.center, p.scale, self.codec.input_size, augmentation or self.augmentation, rng, p.keypoints, self._upper
        )

    def image(self, i: int, view: View, photometric: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """The normalised (3, h, w) crop of person ``i`` in ``view``; ``photometric`` may change the [0, 1]
        crop first (e.g. RandAugment)."""
        pixels = crop(self._images[self.people[i].image_path], view)
        if photometric is not None:
            pixels = photometric(pixels)
        return (pixels - IMAGENET_MEAN) / IMAGENET_STD

    def sample(self, i: int, view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Crop, heatmap targets and target weights of person ``i`` in ``view``."""
        image = self.image(i, view)
        kp = transform_keypoints(self.people[i].keypoints, view, self._perm)
        hm, w = self.codec.encode(kp[:, :2], kp[:, 2])
        return image, hm, w

    def batches(self, batch_size: int, rng: np.random.Generator) -> Iterable[tuple[torch.Tensor, ...]]:
        order = rng.permutation(len(self))
        for s in range(0, len(order), batch_size):
            if len(order) - s == 1 and s > 0:
                break  # a lone last sample: BatchNorm cannot train on one 1x1 map (hourglass bottom at 64x64)
            items = [self.sample(int(i), self.view(int(i), rng)) for i in order[s : s + batch_size]]
            yield tuple(torch.from_numpy(np.stack(x)) for x in zip(*items))


@dataclass(frozen=True)
class UnlabeledViews:
    """What the unlabeled half of a semi-supervised batch holds.

    ``kind``: ``none`` (no unlabeled half), ``pseudo`` (pseudo-labeled crops with their targets, like labels)
    or ``views`` (an easy and a hard view of each person and the map between them; with ``multi_view``,
    ``weak_views - 1`` further easy-like and ``strong_views`` strong views, the easy view first).
    """

    kind: str = "none"
    easy: str = "none"
    hard: str = "none"
    randaugment: bool = False  # RandAugment on the hard view
    randaugment_geometric: bool = True  # its geometric operations too (composed into the hard view's map)
    randaugment_ops: int = 2
    randaugment_magnitude: int = 10
    multi_view: bool = False
    weak_views: int = 1
    strong_views: int = 0
    strong: str = "none"


class SemiBatches:
    """Builds the batches of an epoch: labeled crops with targets, unlabeled views for the method.

    An epoch visits every unlabeled instance once; each batch holds ``batch_size`` labeled and as many
    unlabeled instances, the labeled set resampled (shuffled copies, cut) to the unlabeled set's length.
    """

    def __init__(
        self,
        labeled: CropDataset,
        unlabeled: CropDataset,
        views: UnlabeledViews,
        batch_size: int,
        pseudo: CropDataset | None = None,
    ):
        if views.kind == "pseudo" and pseudo is None:
            raise ValueError("unlabeled views of kind 'pseudo' need the pseudo-labeled people")
        self.labeled, self.unlabeled, self.views, self.batch_size = labeled, unlabeled, views, batch_size
        self.pseudo = pseudo
        self.stride = float(labeled.codec.stride[0])

    def __len__(self) -> int:
        return len(self.unlabeled)

    def __call__(self, epoch: int, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        n = len(self.unlabeled)
        reps = -(-n // len(self.labeled))
        lab_order = np.concatenate([rng.permutation(len(self.labeled)) for _ in range(reps)])[:n]
        unl_order = rng.permutation(n)
        B = self.batch_size
        for s in range(0, n, B):
            if n - s == 1 and s > 0:
                break  # a lone last sample: BatchNorm cannot train on one 1x1 map
            lab = [self.labeled.sample(int(i), self.labeled.view(int(i), rng)) for i in lab_order[s : s + B]]
            batch: dict[str, Any] = {"labeled": tuple(torch.from_numpy(np.stack(x)) for x in zip(*lab))}
            if self.views.kind != "none":
                batch["unlabeled"] = self._unlabeled([int(i) for i in unl_order[s : s + B]], rng)
            yield batch

    def _unlabeled(self, idx: list[int], rng: np.random.Generator) -> dict[str, Any]:
        v = self.views
        if v.kind == "pseudo":
            assert self.pseudo is not None  # checked in __init__
            items = [self.pseudo.sample(i, self.pseudo.view(i, rng)) for i in idx]
            images, targets, weights = (torch.from_numpy(np.stack(x)) for x in zip(*items))
            return {"hard": images, "targets": targets, "target_weights": weights}
        data = self.unlabeled
        easy, hard, maps, views, view_maps = [], [], [], [], []
        for i in idx:
            p = data.people[i]
            size = data.codec.input_size
            v_easy = sample_view(p.center, p.scale, size, v.easy, rng)
            v_hard = sample_view(p.center, p.scale, size, v.hard, rng)
            photometric = None
            if v.randaugment:
                draws = draw_randaugment(rng, v.randaugment_ops, v.randaugment_magnitude, v.randaugment_geometric)
                v_hard = randaugment_view(v_hard, draws)
                photometric = partial(randaugment_pixels, draws=draws)
            easy.append(data.image(i, v_easy))
            hard.append(data.image(i, v_hard, photometric))
            maps.append(view_to_view(v_easy, v_hard, self.stride))
            if v.multi_view:
                extra = [sample_view(p.center, p.scale, size, v.easy, rng) for _ in range(v.weak_views - 1)]
                extra += [sample_view(p.center, p.scale, size, v.strong, rng) for _ in range(v.strong_views)]
                views.append([easy[-1]] + [data.image(i, w) for w in extra])
                view_maps.append([maps[-1]] + [view_to_view(w, v_hard, self.stride) for w in extra])
        out = {
            "easy": torch.from_numpy(np.stack(easy)),
            "hard": torch.from_numpy(np.stack(hard)),
            "easy_to_hard": torch.from_numpy(np.stack(maps)).float(),
        }
        if views:
            out["views"] = torch.from_numpy(np.stack(views, axis=1))  # (V, B, 3, H, W)
            out["views_to_hard"] = torch.from_numpy(np.stack(view_maps, axis=1)).float()
        return out
