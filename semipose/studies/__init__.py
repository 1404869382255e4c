"""Studies: one command each, writing tables (Markdown, CSV) and plots (PNG) into a run directory.

``STUDIES`` maps each ``semipose study`` name to its module here; a study module defines ``PRESETS``
(name -> overrides), ``BASE_CONFIG`` (a shipped config), ``TABLE`` (the main table's file stem),
``load(config, preset, overrides)`` and ``run(cfg, out_dir, progress)``. Adding a study is one
module and one line below; the CLI reads its choices from this dict. A study of runs declares its arms
as data and trains them with :func:`.runner.run_arms`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

STUDIES = {
    "ensemble-size": "ensemble_size",
    "pseudo-label-rounds": "pseudo_label_rounds",
    "ssl-3d": "ssl_3d",
    "hourglass-variants": "hourglass_variants",
    "ssl-2d": "ssl_2d",
    "denoise-ablation": "denoise_ablation",
    "easy-hard": "easy_hard",
}


def get_study(name: str) -> ModuleType:
    """The module of study ``name`` (imported on demand: the CLI lists names without loading torch)."""
    return importlib.import_module(f"{__name__}.{STUDIES[name]}")
