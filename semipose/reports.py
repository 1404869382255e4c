"""Results people read: tables as CSV and Markdown from flat rows, and a lifting evaluation's per-cell
table. Every file is written atomically (:mod:`semipose.io`); JSON stays with ``atomic_write_json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .io import atomic_write_json, atomic_write_text

MM_SUFFIXES = ("_mm", "_mean", "_std")  # columns shown to 0.1 in Markdown


def csv_text(rows: list[dict[str, Any]]) -> str:
    """A header of the first row's keys, then one line per row (floats to four decimals)."""
    keys = list(rows[0])
    lines = [",".join(keys)]
    lines += [",".join(f"{r[k]:.4f}" if isinstance(r[k], float) else str(r[k]) for k in keys) for r in rows]
    return "\n".join(lines) + "\n"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table: millimetre-like columns to one decimal, other floats to three digits."""
    keys = list(rows[0])

    def cell(k: str, v: Any) -> str:
        if not isinstance(v, float):
            return str(v)
        return f"{v:.1f}" if k.endswith(MM_SUFFIXES) else f"{v:.3g}"

    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    lines += ["| " + " | ".join(cell(k, r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(rows: list[dict[str, Any]], stem: Path) -> None:
    """``stem.csv`` and ``stem.md`` from a list of flat dicts with the same keys."""
    atomic_write_text(stem.with_suffix(".csv"), csv_text(rows))
    atomic_write_text(stem.with_suffix(".md"), markdown_table(rows))


LIFTING_COLUMNS = ("action", "subject", "frames", "mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm")


def lifting_markdown(metrics: dict[str, Any]) -> str:
    """A lifting evaluation's cells (action x subject) and the mean of cells, as published tables show it."""
    lines = [
        "| action | subject | frames | MPJPE (mm) | P-MPJPE (mm) | N-MPJPE (mm) | MPJVE (mm) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in metrics["cells"]:
        lines.append(
            f"| {r['action']} | {r['subject']} | {r['frames']} | {r['mpjpe_mm']:.1f} | "
            f"{r['p_mpjpe_mm']:.1f} | {r['n_mpjpe_mm']:.1f} | {r['mpjve_mm']:.2f} |"
        )
    lines.append(
        f"| **mean of cells** | | {metrics['frames']} | **{metrics['mpjpe_mm']:.1f}** | "
        f"**{metrics['p_mpjpe_mm']:.1f}** | **{metrics['n_mpjpe_mm']:.1f}** | **{metrics['mpjve_mm']:.2f}** |"
    )
    return "\n".join(lines) + "\n"


def write_lifting_metrics(run_dir: Path, metrics: dict[str, Any], name: str = "metrics") -> None:
    """``name.json`` (everything), ``name.md`` and ``name.csv`` (the cells) in ``run_dir``."""
    atomic_write_json(run_dir / f"{name}.json", metrics)
    atomic_write_text(run_dir / f"{name}.md", lifting_markdown(metrics))
    cells = [{k: (float(r[k]) if k.endswith("_mm") else r[k]) for k in LIFTING_COLUMNS} for r in metrics["cells"]]
    atomic_write_text(run_dir / f"{name}.csv", csv_text(cells))


def write_metrics(run_dir: Path, metrics: dict[str, Any], name: str = "metrics") -> None:
    """``name.json`` (everything), and ``name.md`` and ``name.csv``: one row per number (metric, value), for
    a run whose figures are not per cell (a 2D run's PCK and COCO AP, its times)."""
    atomic_write_json(run_dir / f"{name}.json", metrics)
    rows = [
        {"metric": k, "value": float(v)}
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    if rows:
        write_table(rows, run_dir / name)
