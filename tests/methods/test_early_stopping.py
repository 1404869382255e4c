"""Early stopping on held-out training data: the best weights kept, the test split never consulted."""

import json

import numpy as np
import torch
from helpers import lift_train

from semipose.cli import main
from semipose.engine import fit
from semipose.methods.base import EarlyStopping, RecipeBase, Schedule


class Scripted(RecipeBase):
    """One weight that counts the steps; validation scores come from a script."""

    def __init__(self, scores, patience):
        self.scores = list(scores)
        es = EarlyStopping(lambda m: self.scores.pop(0), every=1, patience=patience)
        super().__init__(
            {"model": torch.nn.Linear(1, 1, bias=False)},
            Schedule(10),
            lambda m: {},
            torch.device("cpu"),
            early_stopping=es,
        )
        self.modules["model"].weight.data.zero_()

    def num_samples(self):
        return 1

    def start_epoch(self, epoch, num_epochs):
        return {}

    def batches(self, epoch, rng):
        return [None]

    def train_step(self, batch):
        self.modules["model"].weight.data += 1.0  # the weight is the number of epochs trained
        return {"n": 1}


def test_stops_after_patience_and_restores_the_best_weights(tmp_path):
    recipe = Scripted([5.0, 3.0, 4.0, 3.5, 2.0, 9.0], patience=2)
    history = fit(recipe, tmp_path, epochs=6, seed=0, progress=False)
    assert len(history) == 4  # best at epoch 2, then two validations without improvement
    assert [r["val_error"] for r in history] == [5.0, 3.0, 4.0, 3.5]
    assert recipe.early_stopping.best_epoch == 2
    assert recipe.modules["model"].weight.item() == 2.0  # the epoch-2 weights, not the last ones
    # patience 0: trains every epoch, still ends on the best
    on = Scripted([5.0, 3.0, 4.0, 3.5, 2.0, 9.0], patience=0)
    assert len(fit(on, tmp_path / "on", epochs=6, seed=0, progress=False)) == 6
    assert on.modules["model"].weight.item() == 5.0


def test_early_stopping_never_reads_the_test_split(tmp_path):
    data = tmp_path / "data"
    assert main(["data", "synth3d", "-o", str(data), "--frames", "80"]) == 0
    runs = {}
    for name, test in (("a", "[Validate/S1]"), ("b", "[Validate/S2,Validate/S3]")):
        run = tmp_path / name
        overrides = ["model.channels=32", "train.epochs=8", "train.eval_every=1", "train.val_fraction=0.25"]
        assert lift_train(run, data, *overrides, "train.patience=2", f"data.subjects_test={test}") == 0
        runs[name] = run
    logs = {k: [line.split(",") for line in (r / "log.csv").read_text().splitlines()] for k, r in runs.items()}
    col = logs["a"][0].index("val_error")
    # the same validation curve and stopping point whatever the test split holds ...
    assert [row[col] for row in logs["a"]] == [row[col] for row in logs["b"]]
    # ... and the same final weights
    wa = torch.load(runs["a"] / "model.pt", weights_only=True)["model"]
    wb = torch.load(runs["b"] / "model.pt", weights_only=True)["model"]
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    m = json.loads((runs["a"] / "metrics.json").read_text())
    assert 1 <= m["val_best_epoch"] <= 8 and np.isfinite(m["val_best_mm"])
    test_col = logs["a"][0].index("p_mpjpe_mm")
    assert logs["a"][1][test_col] != logs["b"][1][test_col]  # the test splits did differ
