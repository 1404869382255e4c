"""Every benchmark and analysis script still imports, and every timing script still runs (``--smoke``: tiny
inputs, a few steps; the figures are not looked at, only that a JSON with its environment comes out)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMING = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if p.name != "harness.py")
ANALYSES = sorted((ROOT / "analysis").glob("*.py"))


@pytest.mark.parametrize("script", TIMING + ANALYSES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_script_imports(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as `python benchmarks/x.py` finds the harness
    spec = importlib.util.spec_from_file_location(f"script_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the scripts run only under __main__
    assert callable(module.main)


@pytest.mark.parametrize("script", TIMING, ids=lambda p: p.name)
def test_every_timing_script_runs_on_tiny_inputs(script: Path, tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(script), "--smoke", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    written = json.loads(out.read_text())
    assert written["arguments"]["smoke"] is True and "torch" in json.dumps(written["environment"])


def test_timing_repeats_until_the_minimum_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import harness

    calls = []
    timing = harness.timed(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5 and timing["calls"] == 3 and timing["best_s"] <= timing["median_s"]
    calls.clear()
    timing = harness.timed(lambda: calls.append(1), repeats=1, warmup=0, min_seconds=0.05)
    assert timing["calls"] == len(calls) > 1  # kept calling until 0.05 s had passed
