import numpy as np
import pytest
import torch

from semipose.data.windows import WindowSampler, flip_2d, flip_3d, pad_sequence
from semipose.lift.evaluate import length_batches, predict_sequences
from semipose.models.tcn import TCNConfig, TemporalModel, TemporalModelStrided, build_tcn
from semipose.skeletons import HUMANEVA15


@pytest.mark.parametrize("widths,rf", [([3, 3, 3], 27), ([3, 3, 3, 3], 81), ([3, 3, 3, 3, 3], 243), ([5, 3], 15)])
def test_receptive_field(widths, rf):
    model = build_tcn(TCNConfig(widths, channels=32), 15)
    assert model.receptive_field == rf
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, rf, 15, 2)).shape == (2, 1, 15, 3)
        assert model(torch.randn(1, rf + 9, 15, 2)).shape == (1, 10, 15, 3)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("widths", [[3, 3, 3], [3, 3, 3, 3], [5, 3]])
def test_strided_equals_dilated_on_same_weights(widths, causal):
    torch.manual_seed(0)
    dilated = build_tcn(TCNConfig(widths, channels=64, causal=causal), 15)
    strided = build_tcn(TCNConfig(widths, channels=64, causal=causal), 15, strided=True)
    # randomise BatchNorm statistics so they take part in the comparison
    for bn in [dilated.expand_bn, *dilated.layers_bn]:
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    strided.load_state_dict(dilated.state_dict())
    dilated.eval(), strided.eval()
    rf, frames = dilated.receptive_field, 20
    seq = torch.randn(1, frames + rf - 1, 15, 2)
    with torch.no_grad():
        whole = dilated(seq)[0]  # every frame in one pass
        windows = torch.stack([seq[0, t : t + rf] for t in range(frames)])
        one_by_one = strided(windows)[:, 0]
    torch.testing.assert_close(whole, one_by_one, rtol=1e-4, atol=1e-5)


def test_causal_model_ignores_the_future():
    torch.manual_seed(0)
    model = build_tcn(TCNConfig([3, 3, 3], channels=32, causal=True), 15).eval()
    x = torch.randn(1, 40, 15, 2)
    y = x.clone()
    y[:, 30:] += 1.0  # change frames 30.. only
    with torch.no_grad():
        a, b = model(x)[0], model(y)[0]
    # output k looks at input frames k .. k+26 (causal: output k belongs to input frame k+26)
    assert torch.equal(a[:4], b[:4])
    assert not torch.equal(a[4:], b[4:])


def test_strided_rejects_wrong_length_and_joint_count():
    model = build_tcn(TCNConfig([3, 3, 3], channels=16), 15, strided=True)
    with pytest.raises(ValueError, match="exactly 27 frames"):
        model(torch.randn(2, 30, 15, 2))
    with pytest.raises(ValueError, match="expected input"):
        model(torch.randn(2, 27, 17, 2))


def test_videopose3d_parameter_names():
    names = set(build_tcn(TCNConfig([3, 3, 3], channels=16), 15).state_dict())
    assert {
        "expand_conv.weight",
        "expand_bn.running_mean",
        "layers_conv.0.weight",
        "layers_conv.3.weight",
        "layers_bn.3.weight",
        "shrink.weight",
        "shrink.bias",
    } <= names
    assert isinstance(build_tcn(TCNConfig([3]), 15, strided=True), TemporalModelStrided)
    assert isinstance(build_tcn(TCNConfig([3]), 15), TemporalModel)


def test_window_sampler_matches_edge_padding():
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(n, 15, 2)).astype(np.float32) for n in (5, 12)]
    targets = [rng.normal(size=(n, 15, 3)).astype(np.float32) for n in (5, 12)]
    sampler = WindowSampler(seqs, targets, 9, HUMANEVA15, flip=True)
    assert len(sampler) == 2 * 17
    batch = sampler.gather(torch.tensor([0, 4, 5, 16, 17 + 5]))
    p0, p1 = pad_sequence(seqs[0], 9, False), pad_sequence(seqs[1], 9, False)
    np.testing.assert_array_equal(batch.inputs[0].numpy(), p0[0:9])
    np.testing.assert_array_equal(batch.inputs[0, :4].numpy(), np.repeat(seqs[0][:1], 4, 0))  # edge padding
    np.testing.assert_array_equal(batch.inputs[1].numpy(), p0[4:13])
    np.testing.assert_array_equal(batch.inputs[2].numpy(), p1[0:9])
    np.testing.assert_array_equal(batch.inputs[3].numpy(), p1[11:20])
    np.testing.assert_array_equal(batch.targets[3, 0].numpy(), targets[1][11])
    # the flipped copy: mirrored x, left and right swapped
    np.testing.assert_array_equal(batch.inputs[4].numpy(), flip_2d(p1[0:9], HUMANEVA15))
    t = batch.targets[4, 0].numpy()
    np.testing.assert_array_equal(t[2], targets[1][0][5] * [-1, 1, 1])


def test_causal_padding_puts_the_window_in_the_past():
    seq = np.arange(6, dtype=np.float32)[:, None, None].repeat(15, 1).repeat(2, 2)
    sampler = WindowSampler([seq], [np.zeros((6, 15, 3), np.float32)], 3, HUMANEVA15, causal=True, flip=False)
    w = sampler.gather(torch.tensor([3])).inputs[0, :, 0, 0]
    assert w.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("causal", [False, True])
def test_predict_sequences_batched_by_length_equals_one_pass_per_sequence(causal):
    skel = HUMANEVA15
    torch.manual_seed(0)
    model = build_tcn(TCNConfig([3, 3], channels=32, dropout=0.25, causal=causal), 15).eval()
    rng = np.random.default_rng(0)
    keypoints = [rng.normal(size=(n, 15, 2)).astype(np.float32) for n in (1, 5, 40, 3, 300, 7, 2000)]
    assert sorted(sum(length_batches([len(k) for k in keypoints], max_frames=100), [])) == list(range(7))
    for flip in (False, True):
        got = predict_sequences(model, keypoints, skel, flip=flip)
        for kp, pred in zip(keypoints, got):
            x = torch.from_numpy(pad_sequence(kp, model.receptive_field, causal)[None])
            with torch.no_grad():
                y = model(x)
                if flip:
                    y = (y + flip_3d(model(flip_2d(x, skel)), skel)) / 2
            np.testing.assert_allclose(pred, y[0].numpy(), rtol=0, atol=1e-6)
