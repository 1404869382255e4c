"""The training loop: logs, atomic checkpoints, and a resumed run identical to an uninterrupted one."""
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
            yield order[i:i + 16]

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


def test_resume_continues_exactly(tmp_path):
    full = TinyRecipe()
    h_full = fit(full, tmp_path / "full", epochs=6, seed=3, eval_every=2, progress=False)

    interrupted = TinyRecipe(fail_at_epoch=4)
    try:
        fit(interrupted, tmp_path / "cut", epochs=6, seed=3, eval_every=2, progress=False)
    except KeyboardInterrupt:
        pass
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 3
    resumed = TinyRecipe()
    h_res = fit(resumed, tmp_path / "cut", epochs=6, seed=3, eval_every=2, resume=True, progress=False)

    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, rtol=0, atol=0)
    assert [r["loss"] for r in h_res] == [r["loss"] for r in h_full]
    assert h_full[-1]["loss"] < h_full[0]["loss"]
    assert "test_mse" in h_full[1] and "test_mse" not in h_full[0]
    log = (tmp_path / "cut" / "log.csv").read_text().splitlines()
    assert len(log) == 7 and log[0].startswith("epoch,lr")
    assert not [p for p in (tmp_path / "cut").iterdir() if p.name.endswith(".tmp")]
