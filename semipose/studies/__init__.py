"""Studies: one command each, writing tables (Markdown, CSV) and plots (PNG) into a run directory.

``STUDIES`` maps the command name to (module runner, shipped base config, presets).
"""

from __future__ import annotations

from . import denoise_ablation, easy_hard, ensemble_size, hourglass_variants, pseudo_label_rounds, ssl_2d, ssl_3d

STUDIES = {
    "ensemble-size": ensemble_size,
    "pseudo-label-rounds": pseudo_label_rounds,
    "ssl-3d": ssl_3d,
    "hourglass-variants": hourglass_variants,
    "ssl-2d": ssl_2d,
    "denoise-ablation": denoise_ablation,
    "easy-hard": easy_hard,
}
