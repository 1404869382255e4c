"""memory_format: auto takes channels-last only when it measures clearly faster; the layout changes no
model's outputs beyond rounding, and weights saved in one layout load into the other."""

import pytest
import torch

from semipose.engine import memory_format as M
from semipose.models.heatmap_net import Pose2DModelConfig, build_heatmap_net


@pytest.fixture
def cpu():
    return torch.device("cpu")


def test_auto_follows_the_measurement_with_a_margin(monkeypatch, cpu):
    def measured(contiguous: float, channels_last: float) -> M.LayoutChoice:
        rates = {"contiguous": contiguous, "channels_last": channels_last}
        monkeypatch.setattr(M, "measure_rates", lambda step, names, device: {n: rates[n] for n in names})
        return M.resolve_memory_format("auto", cpu, step=lambda layout: 1)

    fast = measured(100.0, 200.0)
    assert fast.used == "channels_last" and fast.rates == {"contiguous": 100.0, "channels_last": 200.0}
    assert fast.reason == "channels_last measured 2.00x the rate of contiguous"
    assert measured(200.0, 100.0).used == "contiguous"
    # a near tie keeps the plain layout: the choice must not flip with timing noise
    assert measured(100.0, 105.0).used == "contiguous" and measured(100.0, 110.0).used == "channels_last"


def test_a_forced_layout_is_kept_unmeasured_and_a_bad_one_named(cpu):
    def never(_layout):
        raise AssertionError("no measurement expected")

    for layout in ("contiguous", "channels_last"):
        choice = M.resolve_memory_format(layout, cpu, step=never)
        assert choice.used == layout and choice.reason == "forced by train.memory_format"
    with pytest.raises(ValueError, match="train.memory_format must be one of auto, contiguous, channels_last"):
        M.resolve_memory_format("nhwc", cpu)


def test_the_probe_measures_both_layouts_and_caches_them(monkeypatch, tmp_path, cpu):
    monkeypatch.setenv("SEMIPOSE_CACHE", str(tmp_path))
    model = build_heatmap_net(Pose2DModelConfig(width=8), 5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    choice = M.resolve_memory_format("auto", cpu, model, torch.randn(4, 3, 32, 32))
    assert set(choice.rates) == {"contiguous", "channels_last"} and all(r > 0 for r in choice.rates.values())
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # a copy was measured
    assert all(p.is_contiguous() for p in model.parameters())
    monkeypatch.setattr(M, "measure_rates", lambda *a, **k: pytest.fail("measured again instead of the cache"))
    assert M.resolve_memory_format("auto", cpu, model, torch.randn(4, 3, 32, 32)).rates == choice.rates


def test_channels_last_gives_the_same_heatmaps_and_weights_that_load_either_way(cpu):
    torch.manual_seed(0)
    plain = build_heatmap_net(Pose2DModelConfig(width=8, stacks=2), 5).eval()
    nhwc = build_heatmap_net(Pose2DModelConfig(width=8, stacks=2), 5).eval()
    nhwc.load_state_dict(plain.state_dict())
    choice = M.memory_format_for_run("channels_last", cpu, [nhwc], torch.randn(2, 3, 32, 32), "fp32", False)
    assert choice.used == "channels_last"
    conv = next(m for m in nhwc.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = plain(x)
        assert torch.allclose(nhwc(x), expected, atol=1e-5)
        back = build_heatmap_net(Pose2DModelConfig(width=8, stacks=2), 5).eval()
        back.load_state_dict(nhwc.state_dict())  # channels-last weights into a plain model
        assert torch.allclose(back(x), expected, atol=1e-5)
