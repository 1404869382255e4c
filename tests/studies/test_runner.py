"""A study's table declared as data: each cell kind against numbers worked by hand."""

import pytest

from semipose.studies.runner import Arm, Column, Row, as_arms, table_rows

RESULTS = {
    "base": [
        {"seed": 0, "ap": 0.10, "pck": 0.50, "train_wall_s": 60.0},
        {"seed": 1, "ap": 0.20, "pck": 0.70, "train_wall_s": 120.0},
    ],
    "new": [
        {"seed": 0, "ap": 0.15, "pck": 0.40, "train_wall_s": 30.0, "collapsed_at": 3},
        {"seed": 1, "ap": 0.30, "pck": 0.80, "train_wall_s": 90.0},
    ],
    "partial": [{"seed": 1, "ap": 0.25, "pck": 0.60, "train_wall_s": 60.0}],
    "unfinished": [],
}
COLUMNS = [
    Column("AP", "ap"),
    Column("AP vs base", "ap", "paired", 4, "base"),
    Column("pck vs base", "pck", "paired", 2, "base"),
    Column("per seed", "pck|ap", "per_seed", 2),
    Column("collapsed", cell="collapsed"),
    Column("minutes", cell="minutes"),
]


def test_cells_worked_by_hand():
    rows = [Row({"name": a}, a, {"base": None if a == "base" else "base"}) for a in RESULTS]
    base, new, partial = table_rows(rows, COLUMNS, RESULTS)  # "unfinished" has no run: no row
    assert base == {"name": "base", "AP": "0.150 ± 0.050", "AP vs base": "", "pck vs base": "",
                    "per seed": "0.50, 0.70 (0.10, 0.20)", "collapsed": "0/2", "minutes": 1.5}  # fmt: skip
    # differences 0.05 and 0.10: mean 0.075, std 0.025, both ahead; pck -0.10 and +0.10: one ahead
    assert new["AP vs base"] == "+0.0750 ± 0.0250 (2/2 ahead)" and new["pck vs base"] == "+0.00 ± 0.10 (1/2 ahead)"
    assert new["collapsed"] == "1/2" and new["minutes"] == pytest.approx(1.0)
    # a partial arm pairs by seed and names its seeds
    assert partial["AP vs base"] == "+0.0500 ± 0.0000 (1/1 ahead)" and partial["per seed"] == "seeds 1: 0.60 (0.25)"


def test_arms_in_short_form():
    assert as_arms({"a": ["x=1"]}) == [Arm("a", ("x=1",))] and Arm("a").row == "a" and Arm("a", label="A").row == "A"
