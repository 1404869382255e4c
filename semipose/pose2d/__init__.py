"""Top-down 2D heatmap pose estimation (Stacked Hourglass, SimpleBaseline) on COCO and MPII formats.

The verbs, as in :mod:`semipose.lift`: ``config`` (the run's sections), ``train``, ``evaluate`` (PCK,
PCKh, COCO AP), ``predict`` (keypoints for images, COCO results and overlays), ``model_file``
(``load_model``, ``load_run``); and ``ssl`` (semi-supervised training: pseudo-labels, PoseCons, PoseDual,
denoised pseudo-heatmaps). The parts live in the shared blocks: crops in :mod:`semipose.data.crops`, the
networks in :mod:`semipose.models.heatmap_net`, the recipes in :mod:`semipose.methods`."""
