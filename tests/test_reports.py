"""Tables people read, against hand-written files: CSV to four decimals, Markdown to the column's unit."""

import json

from semipose.reports import csv_text, lifting_markdown, markdown_table, write_lifting_metrics, write_table


def test_tables_by_hand(tmp_path):
    rows = [{"arm": "labeled_only", "p_mpjpe_mm": 36.44, "gain": 0.21347, "seeds": 3}]
    assert csv_text(rows) == "arm,p_mpjpe_mm,gain,seeds\nlabeled_only,36.4400,0.2135,3\n"
    assert markdown_table(rows) == (
        "| arm | p_mpjpe_mm | gain | seeds |\n| --- | --- | --- | --- |\n| labeled_only | 36.4 | 0.213 | 3 |\n"
    )
    write_table(rows, tmp_path / "t")
    assert (tmp_path / "t.csv").read_text() == csv_text(rows) and (tmp_path / "t.md").read_text() == markdown_table(
        rows
    )


def test_lifting_metrics_files(tmp_path):
    cell = {"action": "Walk", "subject": "S1", "frames": 10, "mpjpe_mm": 20.0, "p_mpjpe_mm": 15.25,
            "n_mpjpe_mm": 19.0, "mpjve_mm": 1.234, "extra": 1}  # fmt: skip
    metrics = {
        "cells": [cell],
        "frames": 10,
        "mpjpe_mm": 20.0,
        "p_mpjpe_mm": 15.25,
        "n_mpjpe_mm": 19.0,
        "mpjve_mm": 1.234,
    }
    write_lifting_metrics(tmp_path, metrics)
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert (tmp_path / "metrics.csv").read_text() == (
        "action,subject,frames,mpjpe_mm,p_mpjpe_mm,n_mpjpe_mm,mpjve_mm\nWalk,S1,10,20.0000,15.2500,19.0000,1.2340\n"
    )
    md = lifting_markdown(metrics).splitlines()
    assert md[2] == "| Walk | S1 | 10 | 20.0 | 15.2 | 19.0 | 1.23 |"
    assert md[3] == "| **mean of cells** | | 10 | **20.0** | **15.2** | **19.0** | **1.23** |"
