"""The training loop: logs, atomic checkpoints, and a resumed run identical to an uninterrupted one."""

import pytest
import torch

from semipose.engine import fit, load_checkpoint


class TinyRecipe:
    """Linear regression with dropout, so both the numpy and the torch random streams matter."""

    def __init__(self, fail_at_epoch=None):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
        self.model = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(4, 1))
        torch.manual_seed(1)
        self.model[1].reset_parameters()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=0.05)
        self.fail_at_epoch = fail_at_epoch

    def num_samples(self):
        return 64

    def start_epoch(self, epoch, num_epochs):
        if epoch == self.fail_at_epoch:
            raise KeyboardInterrupt("simulated interruption")
        return {"lr": 0.05}

    def batches(self, epoch, rng):
        order = torch.from_numpy(rng.permutation(64))
        for i in range(0, 64, 16):
            yield order[i : i + 16]

    def train_step(self, idx):
        loss = ((self.model(self.x[idx])[:, 0] - self.y[idx]) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": float(loss.detach()), "n": len(idx)}

    def evaluate(self):
        with torch.no_grad():
            self.model.eval()
            err = float(((self.model(self.x)[:, 0] - self.y) ** 2).mean())
            self.model.train()
        return {"test_mse": err}

    def state_dict(self):
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, s):
        self.model.load_state_dict(s["model"])
        self.opt.load_state_dict(s["opt"])

    def end_epoch(self, epoch):
        return {}

    def should_stop(self):
        return False

    def end_training(self):
        pass


@pytest.mark.parametrize("every_s, saved_epoch", [(0.0, 3), (3600.0, 0)])
def test_resume_continues_exactly(tmp_path, every_s, saved_epoch):
    """Checkpoints after every epoch (0 s), or only after the first and the last when epochs are
    short (an hour): either way the resumed run equals the uninterrupted one."""
    full = TinyRecipe()
    h_full = fit(full, tmp_path / "full", epochs=6, seed=3, eval_every=2, progress=False, checkpoint_every_s=every_s)

    interrupted = TinyRecipe(fail_at_epoch=4)
    try:
        fit(interrupted, tmp_path / "cut", epochs=6, seed=3, eval_every=2, progress=False, checkpoint_every_s=every_s)
    except KeyboardInterrupt:
        pass
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == saved_epoch
    assert len((tmp_path / "cut" / "log.csv").read_text().splitlines()) == saved_epoch + 2  # the log goes with it
    resumed = TinyRecipe()
    h_res = fit(
        resumed,
        tmp_path / "cut",
        epochs=6,
        seed=3,
        eval_every=2,
        resume=True,
        progress=False,
        checkpoint_every_s=every_s,
    )

    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, rtol=0, atol=0)
    assert [r["loss"] for r in h_res] == [r["loss"] for r in h_full]
    assert h_full[-1]["loss"] < h_full[0]["loss"]
    assert "test_mse" in h_full[1] and "test_mse" not in h_full[0]
    log = (tmp_path / "cut" / "log.csv").read_text().splitlines()
    assert len(log) == 7 and log[0].startswith("epoch,lr")
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["finished"]
    assert not [p for p in (tmp_path / "cut").iterdir() if p.name.endswith(".tmp")]


# --- wall-clock budgets ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class TimedRecipe(TinyRecipe):
    """Every step takes 10 fake seconds, every evaluation 100; the schedule follows the budget."""

    def __init__(self, clock, fail_at_step=None):
        super().__init__()
        from semipose.methods.base import Schedule

        self.clock, self.fail_at_step, self.steps = clock, fail_at_step, 0
        self.schedule = Schedule(epochs=10, lr=1e-2, lr_final=1e-4, bn_momentum=0.1, bn_momentum_final=0.001)
        self.fractions, self.lrs = [], []

    def set_progress(self, fraction):
        lr = self.schedule.lr_at_fraction(fraction)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.fractions.append(fraction)
        self.lrs.append(lr)
        return {"lr": lr}

    def train_step(self, idx):
        if self.steps == self.fail_at_step:
            raise KeyboardInterrupt("simulated kill")
        self.steps += 1
        out = super().train_step(idx)
        self.clock.now += 10.0
        return out

    def evaluate(self):
        self.clock.now += 100.0
        return super().evaluate()


def test_budget_ends_training_and_drives_the_schedule(tmp_path):
    clock = FakeClock()
    recipe = TimedRecipe(clock)
    history = fit(recipe, tmp_path, epochs=10, seed=0, minutes=1.0, progress=False, clock=clock)
    # 60 s of budget at 10 s a step: 6 steps, i.e. one epoch of 4 and half of the next
    assert recipe.steps == 6 and len(history) == 2
    assert recipe.fractions == pytest.approx([0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6])
    # lr = lr0 (lr_final / lr0)^fraction: 1e-2 at the start, one decade lower two thirds of the way
    assert recipe.lrs[0] == pytest.approx(1e-2) and recipe.lrs[4] == pytest.approx(1e-2 * 1e-2 ** (4 / 6))
    # evaluation (once, at the end) is not charged to the budget and is reported apart
    assert history[-1]["train_s"] == pytest.approx(60.0) and history[-1]["eval_s"] == pytest.approx(100.0)
    assert "test_mse" in history[-1] and "test_mse" not in history[0]
    assert history[-1]["budget_fraction"] == pytest.approx(1.0)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["finished"]


def test_eval_every_under_a_budget_is_not_charged(tmp_path):
    clock = FakeClock()
    recipe = TimedRecipe(clock)
    history = fit(recipe, tmp_path, epochs=10, seed=0, eval_every=1, minutes=1.0, progress=False, clock=clock)
    assert recipe.steps == 6 and history[-1]["eval_s"] == pytest.approx(200.0)
    assert history[-1]["train_s"] == pytest.approx(60.0)


def test_resume_under_a_budget_keeps_the_spent_time(tmp_path):
    clock = FakeClock()
    killed = TimedRecipe(clock, fail_at_step=5)  # killed in the second epoch, after the first was saved
    with pytest.raises(KeyboardInterrupt):
        fit(killed, tmp_path, epochs=10, seed=0, minutes=1.0, progress=False, clock=clock)
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    assert saved["epoch"] == 0 and saved["train_s"] == pytest.approx(40.0) and not saved["finished"]

    clock.now = 1000.0  # the time between the kill and the restart is not training time
    resumed = TimedRecipe(clock)
    history = fit(resumed, tmp_path, epochs=10, seed=0, minutes=1.0, resume=True, progress=False, clock=clock)
    assert resumed.steps == 2 and resumed.fractions == pytest.approx([40 / 60, 50 / 60])
    assert history[-1]["train_s"] == pytest.approx(60.0) and [r["epoch"] for r in history] == [1, 2]

    # a finished run resumed again trains no further
    again = TimedRecipe(clock)
    fit(again, tmp_path, epochs=10, seed=0, minutes=1.0, resume=True, progress=False, clock=clock)
    assert again.steps == 0
    # ... unless the budget is raised: it continues where the schedule stood
    more = TimedRecipe(clock)
    fit(more, tmp_path, epochs=10, seed=0, minutes=1.5, resume=True, progress=False, clock=clock)
    assert more.steps == 3 and more.fractions[0] == pytest.approx(60 / 90)


def test_a_recipe_without_set_progress_is_refused_under_a_budget(tmp_path):
    with pytest.raises(TypeError, match="set_progress"):
        fit(TinyRecipe(), tmp_path, epochs=2, seed=0, minutes=1.0, progress=False)


def test_schedule_by_fraction_matches_the_epoch_schedule():
    from semipose.methods.base import Schedule

    s = Schedule(epochs=11, lr=1e-3, lr_final=1e-5, bn_momentum=0.1, bn_momentum_final=0.001)
    for epoch in (0, 5, 10):
        assert s.lr_at_fraction(epoch / 10) == pytest.approx(s.lr_at(epoch))
        assert s.bn_momentum_at_fraction(epoch / 10) == pytest.approx(s.bn_momentum_at(epoch))
    assert s.lr_at_fraction(1.0) == pytest.approx(1e-5) and s.lr_at_fraction(2.0) == pytest.approx(1e-5)
    # without lr_final: the rate the per-epoch decay reaches at the last planned epoch
    d = Schedule(epochs=11, lr=1e-3, lr_decay=0.9)
    assert d.lr_at_fraction(1.0) == pytest.approx(1e-3 * 0.9**10)
