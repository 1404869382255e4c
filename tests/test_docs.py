"""The documents point at files that exist: every relative link in README.md and docs/*.md, and every
``docs/results/...`` or ``benchmarks/results/...`` path they name (a record a reader is told to open or copy)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
RECORD = re.compile(r"\b((?:docs/results|benchmarks/results|analysis/results)/[\w./*+{},-]*[\w*/}])")


def _missing_links(doc: Path) -> list[str]:
    missing = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor of the same page
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            missing.append(target)
    return missing


def _expand_braces(pattern: str) -> list[str]:
    """``a_{2,3}.json`` -> ``a_2.json``, ``a_3.json`` (the shell's brace expansion, one level)."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if m is None:
        return [pattern]
    return [p for alt in m.group(1).split(",") for p in _expand_braces(pattern[: m.start()] + alt + pattern[m.end() :])]


def _missing_records(doc: Path) -> list[str]:
    missing = []
    for named in RECORD.findall(doc.read_text(encoding="utf-8")):
        for pattern in _expand_braces(named.rstrip("/")):
            if not (any(ROOT.glob(pattern)) if "*" in pattern else (ROOT / pattern).exists()):
                missing.append(pattern)
    return missing


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.name)
def test_links_and_named_records_exist(doc: Path) -> None:
    assert _missing_links(doc) == [], f"{doc.name}: links to files that do not exist"
    assert _missing_records(doc) == [], f"{doc.name}: names records that do not exist"


def test_a_missing_record_is_found(tmp_path: Path) -> None:
    doc = tmp_path / "page.md"
    doc.write_text(
        "see [it](nowhere.md) and copy `docs/results/no_such_study/runs/*` first; the figures are in "
        "`benchmarks/results/study_workers{.json,_none.json}`\n"
    )
    assert _missing_links(doc) == ["nowhere.md"]
    assert _missing_records(doc) == ["docs/results/no_such_study/runs/*", "benchmarks/results/study_workers_none.json"]
