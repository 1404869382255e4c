"""semipose: semi-supervised human pose estimation (3D lifting, ensembles, 2D heatmaps)."""

__version__ = "0.1.0"
