"""COCO keypoint AP/AR from OKS, computed in-process exactly as pycocotools' ``COCOeval`` does.

Ground truth is a COCO keypoint document (dict), results a list of ``{"image_id", "category_id",
"keypoints", "score"}``. Crowd annotations and those without labeled keypoints are ignored, detections
are matched greedily by score at each OKS threshold (0.50:0.05:0.95), 20 detections per image, and
precision is interpolated at 101 recall points, for all areas, medium (32^2-96^2) and large objects.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = {"all": (0.0, 1e10), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e10)}
MAX_DETS = 20
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def oks(a: np.ndarray, b: np.ndarray, area: float, sigmas: np.ndarray, visible: np.ndarray | None = None) -> float:
    """Object keypoint similarity of two (K, 2) poses at ``area``, pycocotools' formula, averaged over
    the ``visible`` joints (all of them when None)."""
    d2 = np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=-1)
    e = d2 / (2 * sigmas) ** 2 / (area + np.spacing(1)) / 2
    if visible is not None:
        e = e[visible]
    return float(np.mean(np.exp(-e)))


def keypoint_similarities(pred: np.ndarray, gt: np.ndarray, areas: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """(N, K) per-keypoint similarities exp(-d^2 / (2 area (2 sigma)^2)), the terms OKS averages; NaN
    where ``gt`` (N, K, 3) leaves the joint unlabeled. Says which joints an AP is lost on."""
    gt = np.asarray(gt, np.float64)
    d2 = np.sum((np.asarray(pred, np.float64)[..., :2] - gt[..., :2]) ** 2, axis=-1)
    e = d2 / (2 * np.asarray(sigmas)) ** 2 / (np.asarray(areas, np.float64)[:, None] + np.spacing(1)) / 2
    return np.where(gt[..., 2] > 0, np.exp(-e), np.nan)


def oks_tolerance(area: float | np.ndarray, sigmas: np.ndarray, similarity: float = 0.5) -> np.ndarray:
    """The distance in pixels at which a keypoint's similarity falls to ``similarity``:
    2 sigma sqrt(area) sqrt(2 ln(1 / similarity)) (for 0.5: 1.177 times 2 sigma sqrt(area))."""
    scale = np.sqrt(np.asarray(area, np.float64))[..., None] * 2 * np.asarray(sigmas)
    return scale * np.sqrt(2 * np.log(1 / similarity))


def oks_matrix(dts: list[dict], gts: list[dict], sigmas: np.ndarray) -> np.ndarray:
    """OKS of every detection (rows) against every ground truth (columns), pycocotools' formula."""
    ious = np.zeros((len(dts), len(gts)))
    var = (sigmas * 2) ** 2
    k = len(sigmas)
    for j, gt in enumerate(gts):
        g = np.asarray(gt["keypoints"], dtype=np.float64).reshape(-1, 3)
        visible = g[:, 2] > 0
        bx, by, bw, bh = gt["bbox"]
        x0, x1, y0, y1 = bx - bw, bx + bw * 2, by - bh, by + bh * 2
        for i, dt in enumerate(dts):
            d = np.asarray(dt["keypoints"], dtype=np.float64).reshape(-1, 3)
            if visible.any():
                ious[i, j] = oks(d[:, :2], g[:, :2], gt["area"], sigmas, visible)
                continue
            # no labeled keypoint: the distance to the box enlarged twice, over all joints
            z = np.zeros(k)
            dx = np.maximum(z, x0 - d[:, 0]) + np.maximum(z, d[:, 0] - x1)
            dy = np.maximum(z, y0 - d[:, 1]) + np.maximum(z, d[:, 1] - y1)
            ious[i, j] = float(np.mean(np.exp(-((dx**2 + dy**2) / var / (gt["area"] + np.spacing(1)) / 2))))
    return ious


def _result_area(kp: list[float]) -> float:
    x, y = np.asarray(kp[0::3]), np.asarray(kp[1::3])
    return float((x.max() - x.min()) * (y.max() - y.min()))


def _evaluate_image(gts: list[dict], dts: list[dict], ious: np.ndarray, area: tuple[float, float]) -> dict | None:
    if not gts and not dts:
        return None
    ignore = np.array([1 if (g["_crowd_or_empty"] or g["area"] < area[0] or g["area"] > area[1]) else 0 for g in gts])
    gtind = np.argsort(ignore, kind="mergesort")
    gts = [gts[i] for i in gtind]
    g_ignore = ignore[gtind]
    crowd = [int(g.get("iscrowd", 0)) for g in gts]
    ious = ious[:, gtind] if len(ious) else ious
    T, G, D = len(IOU_THRESHOLDS), len(gts), len(dts)
    gtm, dtm, dt_ignore = np.zeros((T, G)), np.zeros((T, D)), np.zeros((T, D))
    if len(ious):
        for tind, t in enumerate(IOU_THRESHOLDS):
            for dind, d in enumerate(dts):
                iou, m = min(t, 1 - 1e-10), -1
                for gind in range(G):
                    if gtm[tind, gind] > 0 and not crowd[gind]:
                        continue
                    if m > -1 and g_ignore[m] == 0 and g_ignore[gind] == 1:
                        break
                    if ious[dind, gind] < iou:
                        continue
                    iou, m = ious[dind, gind], gind
                if m == -1:
                    continue
                dt_ignore[tind, dind] = g_ignore[m]
                dtm[tind, dind] = gts[m]["id"]
                gtm[tind, m] = d["id"]
    out_of_range = np.array([d["area"] < area[0] or d["area"] > area[1] for d in dts]).reshape(1, D)
    dt_ignore = np.logical_or(dt_ignore, np.logical_and(dtm == 0, np.repeat(out_of_range, T, 0)))
    return {"dtMatches": dtm, "dtScores": [d["score"] for d in dts], "gtIgnore": g_ignore, "dtIgnore": dt_ignore}


def coco_keypoint_eval(gt_doc: dict, results: list[dict], sigmas: np.ndarray | None = None) -> dict[str, float]:
    """The ten COCO keypoint statistics (AP, AP50, AP75, APm, APl, AR, ...), as pycocotools reports them."""
    cats = [c["id"] for c in gt_doc["categories"]]
    if sigmas is None:
        from ..skeletons import COCO17

        sigmas = np.asarray(COCO17.oks_sigmas)
    img_ids = sorted(im["id"] for im in gt_doc["images"])
    known = set(img_ids)
    gts: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for a in gt_doc["annotations"]:
        if a["category_id"] in cats:
            g = dict(a)
            # as pycocotools: crowds and annotations without labeled keypoints are ignored ('ignore' is not read)
            g["_crowd_or_empty"] = bool(a.get("iscrowd", 0)) or a.get("num_keypoints", 0) == 0
            gts[(a["image_id"], a["category_id"])].append(g)
    dts: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for n, r in enumerate(results):
        if r["image_id"] not in known:
            raise ValueError(f"result {n}: image_id {r['image_id']} is not in the ground truth")
        d = dict(r)
        d["id"], d["area"] = n + 1, _result_area(r["keypoints"])
        dts[(r["image_id"], r["category_id"])].append(d)

    T, R, K, A = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), len(cats), len(AREA_RANGES)
    precision, recall = -np.ones((T, R, K, A)), -np.ones((T, K, A))
    for k, cat in enumerate(cats):
        per_image = []
        for img in img_ids:
            img_gts = gts.get((img, cat), [])
            img_dts = sorted(dts.get((img, cat), []), key=lambda x: -x["score"])[:MAX_DETS]  # stable, like mergesort
            ious = oks_matrix(img_dts, img_gts, sigmas) if img_gts and img_dts else np.zeros((0, 0))
            per_image.append((img_gts, img_dts, ious))
        for a, area in enumerate(AREA_RANGES.values()):
            E = [e for e in (_evaluate_image(g, d, i, area) for g, d, i in per_image) if e is not None]
            if not E:
                continue
            scores = np.concatenate([e["dtScores"][:MAX_DETS] for e in E])
            inds = np.argsort(-scores, kind="mergesort")
            dtm = np.concatenate([e["dtMatches"][:, :MAX_DETS] for e in E], axis=1)[:, inds]
            dt_ig = np.concatenate([e["dtIgnore"][:, :MAX_DETS] for e in E], axis=1)[:, inds]
            gt_ig = np.concatenate([e["gtIgnore"] for e in E])
            npig = np.count_nonzero(gt_ig == 0)
            if npig == 0:
                continue
            tps = np.logical_and(dtm, np.logical_not(dt_ig))
            fps = np.logical_and(np.logical_not(dtm), np.logical_not(dt_ig))
            tp_sum = np.cumsum(tps, axis=1).astype(float)
            fp_sum = np.cumsum(fps, axis=1).astype(float)
            for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                nd = len(tp)
                rc = tp / npig
                pr = (tp / (fp + tp + np.spacing(1))).tolist()
                recall[t, k, a] = rc[-1] if nd else 0
                for i in range(nd - 1, 0, -1):  # precision envelope
                    if pr[i] > pr[i - 1]:
                        pr[i - 1] = pr[i]
                q = np.zeros(R)
                for ri, pi in enumerate(np.searchsorted(rc, RECALL_THRESHOLDS, side="left")):
                    if pi < nd:
                        q[ri] = pr[pi]
                precision[t, :, k, a] = q

    def summarize(values: np.ndarray) -> float:
        valid = values[values > -1]
        return float(valid.mean()) if valid.size else -1.0

    i50, i75 = int(np.argmin(np.abs(IOU_THRESHOLDS - 0.5))), int(np.argmin(np.abs(IOU_THRESHOLDS - 0.75)))
    stats = [
        summarize(precision[:, :, :, 0]),
        summarize(precision[i50, :, :, 0]),
        summarize(precision[i75, :, :, 0]),
        summarize(precision[:, :, :, 1]),
        summarize(precision[:, :, :, 2]),
        summarize(recall[:, :, 0]),
        summarize(recall[i50, :, 0]),
        summarize(recall[i75, :, 0]),
        summarize(recall[:, :, 1]),
        summarize(recall[:, :, 2]),
    ]
    return dict(zip(STAT_NAMES, stats))


def pycocotools_keypoint_eval(gt_doc: dict, results: list[dict], sigmas: np.ndarray | None = None) -> dict[str, float]:
    """The same statistics from the real pycocotools (for checking; needs ``pip install pycocotools``)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_doc
        gt.createIndex()
        dt = gt.loadRes(list(results)) if results else COCO()
        ev = COCOeval(gt, dt, "keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(STAT_NAMES, (float(s) for s in ev.stats)))


def noisy_ground_truth(gt_doc: dict, sigma: float, rng: np.random.Generator) -> list[dict]:
    """The ground truth as detections (score 1), every labeled keypoint moved by N(0, sigma^2) pixels per
    axis: the AP a dataset grants a model whose only error is that much noise."""
    out = []
    for a in gt_doc["annotations"]:
        kp = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)
        if a.get("iscrowd") or not (kp[:, 2] > 0).any():
            continue  # ignored by the evaluation: as detections they would only be false positives
        xy = kp[:, :2] + rng.normal(0, sigma, (len(kp), 2)) * (kp[:, 2:] > 0)
        keypoints = np.column_stack([xy, np.ones(len(kp))]).ravel().tolist()
        out.append({"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0, "keypoints": keypoints})
    return out
