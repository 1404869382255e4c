"""The rounds plot finds its rows by stage id, with or without the single-model baselines."""

from semipose.studies.pseudo_label_rounds import plot


def _row(stage_id, share, mm):
    return {"id": stage_id, "stage": stage_id.replace("_", " "), "pseudo_share": share, "mpjpe_mm": mm,
            "p_mpjpe_mm": mm * 0.8}  # fmt: skip


def test_rounds_plot_with_and_without_baselines(tmp_path):
    rounds = [_row("ensemble_labeled", 0.0, 40.0), _row("round_1", 0.5, 38.0), _row("round_2", 1.0, 37.0)]
    assert plot({"rows": rounds}, tmp_path / "a.png").stat().st_size > 0
    full = [_row("labeled_only", 0.0, 42.0), *rounds, _row("all_labeled", 1.0, 30.0)]
    assert plot({"rows": full}, tmp_path / "b.png").stat().st_size > 0
