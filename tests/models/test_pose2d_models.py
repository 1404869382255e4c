"""2D heatmap models: output shapes for every variant, the HRU branch, FLOPs counting, torchvision names."""

import pytest
import torch
import torch.nn as nn

from semipose.models.hourglass import HRU, Residual, StackedHourglass
from semipose.models.profile import count_flops, count_parameters, describe
from semipose.models.simplebaseline import SimpleBaseline, load_resnet_weights


@pytest.mark.parametrize("unit", ["residual", "hru"])
@pytest.mark.parametrize("upsample", ["nearest", "deconv"])
@pytest.mark.parametrize("stacks", [1, 2, 8])
def test_hourglass_shapes(unit, upsample, stacks):
    model = StackedHourglass(17, stacks=stacks, width=16, unit=unit, upsample=upsample).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 48))
    assert out.shape == (2, stacks, 17, 16, 12)


def test_hourglass_rejects_bad_settings():
    with pytest.raises(ValueError, match="stacks"):
        StackedHourglass(16, stacks=9)
    with pytest.raises(ValueError, match="unit"):
        StackedHourglass(16, unit="dense")
    with pytest.raises(ValueError, match="upsample"):
        StackedHourglass(16, upsample="bilinear")


def test_hru_adds_a_wide_branch():
    torch.manual_seed(0)
    hru, res = HRU(8, 16), Residual(8, 16)
    assert count_parameters(hru) > count_parameters(res)
    x = torch.randn(1, 8, 9, 7)  # odd sizes: the pooled branch is brought back to the input size
    assert hru(x).shape == (1, 16, 9, 7)
    # the wide branch sees a pixel 4 away; the original unit's 3x3 does not
    res.load_state_dict({k: v for k, v in hru.state_dict().items() if not k.startswith("wide")})
    hru.eval(), res.eval()
    y = x.clone()
    y[..., 4, 0] += 5.0
    with torch.no_grad():
        assert torch.allclose(res(x)[..., 4, 4], res(y)[..., 4, 4])
        assert not torch.allclose(hru(x)[..., 4, 4], hru(y)[..., 4, 4])


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_simplebaseline_shapes(depth):
    model = SimpleBaseline(17, depth=depth).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1, 17, 16, 16)


def test_resnet_weights_load_by_torchvision_names(tmp_path):
    model = SimpleBaseline(17, depth=18)
    names = set(model.state_dict())
    assert {
        "conv1.weight",
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer4.1.bn2.running_var",
    } <= names
    backbone = {
        k: torch.randn_like(v) if v.dtype.is_floating_point else v
        for k, v in model.state_dict().items()
        if k.startswith(("conv1", "bn1", "layer"))
    }
    backbone["fc.weight"] = torch.zeros(1000, 512)  # a classifier, as torchvision files have
    torch.save(backbone, tmp_path / "resnet18.pth")
    fresh = SimpleBaseline(17, depth=18)
    assert load_resnet_weights(fresh, tmp_path / "resnet18.pth") == []
    assert torch.equal(fresh.layer3[1].conv2.weight, backbone["layer3.1.conv2.weight"])


def test_flops_hand_computed():
    conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    # conv: 8*4*4 outputs x 27 MACs = 3456; linear: 10 x 128 = 1280
    assert count_flops(conv, (1, 3, 4, 4)) == 2 * (3456 + 1280)
    deconv = nn.ConvTranspose2d(4, 2, 4, 2, 1)
    assert count_flops(deconv, (1, 4, 5, 5)) == 2 * (4 * 25 * 2 * 16)
    assert "M parameters" in describe(StackedHourglass(16, stacks=1, width=16), (1, 3, 64, 64))


@pytest.mark.parametrize(
    "depth,params",  # torchvision's published totals (resnet18 ... resnet152) less the 1000-way classifier
    [(18, 11_689_512), (34, 21_797_672), (50, 25_557_032), (101, 44_549_160), (152, 60_192_808)],
)
def test_every_configurable_resnet_depth_builds_torchvision_s_backbone(depth, params):
    model = SimpleBaseline(17, depth=depth)
    fc = (512 if depth < 50 else 2048) * 1000 + 1000
    backbone = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("conv1", "bn1", "layer")))
    assert backbone == params - fc
