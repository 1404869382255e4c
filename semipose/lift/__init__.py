"""3D lifting: 2D keypoint sequences to 3D with VideoPose3D's temporal convolutional network.

The verbs, as in :mod:`semipose.pose2d`: ``config`` (the run's sections), ``train``, ``evaluate``,
``predict`` (a user's detector output to 3D), ``model_file`` (``load_model``); and this task's own:
``stream`` (frame by frame, as live), ``import_vp3d`` (VideoPose3D checkpoints), ``render`` (MP4/GIF/HTML),
``ensemble/`` (deep ensembles trained in parallel), ``pseudo_labels`` (ensemble and triangulated
pseudo-labels in rounds) and ``backprojection`` (VideoPose3D's semi-supervised training)."""
