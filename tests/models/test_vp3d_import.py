"""VideoPose3D checkpoints: a hand-built state dict in VideoPose3D's parameter names, saved as its run.py
saves (with the data generator's numpy random state), imported and run by semipose, gives the outputs of
a reference forward pass written from the paper with plain conv1d on the same tensors (<= 1e-6)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semipose.cli import main
from semipose.lift.model_file import load_model


def _vp3d_state(widths: list[int], joints: int, channels: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def bn(prefix: str, state: dict) -> None:
        state[f"{prefix}.weight"] = 1 + 0.1 * torch.randn(channels, generator=g)
        state[f"{prefix}.bias"] = 0.1 * torch.randn(channels, generator=g)
        state[f"{prefix}.running_mean"] = 0.1 * torch.randn(channels, generator=g)
        state[f"{prefix}.running_var"] = 1 + torch.rand(channels, generator=g)
        state[f"{prefix}.num_batches_tracked"] = torch.tensor(1000)

    state = {"expand_conv.weight": 0.1 * torch.randn(channels, joints * 2, widths[0], generator=g)}
    bn("expand_bn", state)
    for i, w in enumerate(widths[1:]):
        state[f"layers_conv.{2 * i}.weight"] = 0.05 * torch.randn(channels, channels, w, generator=g)
        bn(f"layers_bn.{2 * i}", state)
        state[f"layers_conv.{2 * i + 1}.weight"] = 0.05 * torch.randn(channels, channels, 1, generator=g)
        bn(f"layers_bn.{2 * i + 1}", state)
    state["shrink.weight"] = 0.1 * torch.randn(joints * 3, channels, 1, generator=g)
    state["shrink.bias"] = 0.1 * torch.randn(joints * 3, generator=g)
    return state


def _reference(state: dict, widths: list[int], causal: bool, x: torch.Tensor) -> torch.Tensor:
    """The temporal model of Pavllo et al. in eval mode, from the state dict alone."""

    def block(y, conv, bn, dilation=1):
        y = F.conv1d(y, state[f"{conv}.weight"], dilation=dilation)
        y = F.batch_norm(y, state[f"{bn}.running_mean"], state[f"{bn}.running_var"], state[f"{bn}.weight"],
                         state[f"{bn}.bias"], training=False, eps=1e-5)  # fmt: skip
        return F.relu(y)

    b, t, j, _ = x.shape
    y = block(x.reshape(b, t, j * 2).permute(0, 2, 1), "expand_conv", "expand_bn")
    dilation = widths[0]
    for i, w in enumerate(widths[1:]):
        pad = (w - 1) * dilation // 2
        shift = pad if causal else 0
        res = y[:, :, pad + shift : y.shape[2] - pad + shift]
        y = block(y, f"layers_conv.{2 * i}", f"layers_bn.{2 * i}", dilation)
        y = res + block(y, f"layers_conv.{2 * i + 1}", f"layers_bn.{2 * i + 1}")
        dilation *= w
    y = F.conv1d(y, state["shrink.weight"], state["shrink.bias"])
    return y.permute(0, 2, 1).reshape(b, -1, j, 3)


@pytest.mark.parametrize(
    "widths,causal", [(w, causal) for causal in (False, True) for w in ([3, 3, 3], [3, 3, 3, 3], [3, 3, 3, 3, 3])]
)
def test_videopose3d_weights_give_the_reference_outputs(tmp_path, widths, causal):
    joints = 17
    state = _vp3d_state(widths, joints, channels=32, seed=len(widths) + causal)
    checkpoint = {"epoch": 80, "lr": 0.0009, "random_state": np.random.RandomState(1234), "model_pos": state}
    torch.save(checkpoint, tmp_path / "vp3d.bin")
    argv = ["lift", "import-vp3d", str(tmp_path / "vp3d.bin"), "-o", str(tmp_path / "model.pt")]
    assert main(argv + (["--causal"] if causal else [])) == 0
    model, skel = load_model(tmp_path / "model.pt")
    assert skel.name == "h36m17" and model.receptive_field == 3 ** len(widths) and model.causal == causal
    x = torch.randn(2, model.receptive_field + 20, joints, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, ref = model(x), _reference(state, widths, causal, x)
    assert ours.shape == (2, 21, joints, 3) and (ours - ref).abs().max() <= 1e-6


def test_a_checkpoint_that_is_not_a_temporal_model_or_holds_code_is_refused(tmp_path, capsys):
    torch.save({"model_pos": {"fc.weight": torch.zeros(2, 2)}}, tmp_path / "other.bin")
    capsys.readouterr()
    assert main(["lift", "import-vp3d", str(tmp_path / "other.bin"), "-o", str(tmp_path / "m.pt")]) == 2
    assert "other.bin: not a VideoPose3D temporal model" in capsys.readouterr().err

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"model_pos": {}, "x": Evil()}, tmp_path / "evil.bin")
    assert main(["lift", "import-vp3d", str(tmp_path / "evil.bin"), "-o", str(tmp_path / "m.pt")]) == 2
    out = capsys.readouterr()
    assert "evil.bin: not a readable checkpoint, or one holding code" in out.err and "ran" not in out.out
    assert not (tmp_path / "m.pt").exists()
