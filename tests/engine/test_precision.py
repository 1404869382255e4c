"""precision: auto picks bf16 only where the hardware does it natively and it measures faster."""

import json
import time

import pytest
import torch

from semipose.engine import precision as P


def _never(_precision):
    raise AssertionError("no measurement expected")


def _rates(fp32, bf16):
    def step(precision):  # a fake step: each call "trains" samples in a fixed time ratio
        import time

        time.sleep(0.002 if precision == "fp32" else 0.002 * fp32 / bf16)
        return 1

    return step


@pytest.fixture
def cpu():
    return torch.device("cpu")


def test_auto_without_native_bf16_is_fp32_and_measures_nothing(monkeypatch, cpu):
    monkeypatch.setattr(P, "native_bf16", lambda device: (False, "CPU X (AVX2; avx512_bf16=no)"))
    choice = P.resolve_precision("auto", cpu, step=_never)
    assert choice.used == "fp32" and choice.requested == "auto"
    assert "no native bf16" in choice.reason and "AVX2" in choice.reason
    assert choice.rates == {}


def test_auto_with_native_bf16_follows_the_measurement(monkeypatch, cpu):
    monkeypatch.setattr(P, "native_bf16", lambda device: (True, "CPU Y (AVX512; avx512_bf16=yes)"))
    fast = P.resolve_precision("auto", cpu, step=_rates(fp32=1.0, bf16=3.0))
    assert fast.used == "bf16" and fast.rates["bf16"] > fast.rates["fp32"]
    assert "faster than fp32" in fast.reason
    slow = P.resolve_precision("auto", cpu, step=_rates(fp32=3.0, bf16=1.0))
    assert slow.used == "fp32" and "no faster" in slow.reason


def test_forced_precision_is_kept_and_warns_when_far_slower(monkeypatch, cpu):
    monkeypatch.setattr(P, "native_bf16", lambda device: (False, "CPU X"))
    said = []
    choice = P.resolve_precision("bf16", cpu, step=_rates(fp32=10.0, bf16=1.0), warn=said.append)
    assert choice.used == "bf16" and choice.reason == "forced by train.precision"
    assert len(said) == 1 and "train.precision=bf16" in said[0] and "fp32" in said[0]
    # forced fp32 without native bf16: nothing can beat it, nothing is measured
    assert P.resolve_precision("fp32", cpu, step=_never, warn=said.append).used == "fp32"
    # a forced choice that is not far slower stays quiet
    monkeypatch.setattr(P, "native_bf16", lambda device: (True, "CPU Y"))
    P.resolve_precision("fp32", cpu, step=_rates(fp32=1.0, bf16=1.5), warn=said.append)
    assert len(said) == 1
    with pytest.raises(ValueError, match="auto, fp32, bf16"):
        P.resolve_precision("fp16", cpu)


def test_native_check_reads_the_cpu_capabilities(monkeypatch, cpu):
    monkeypatch.setattr(P, "_cpu_capabilities", lambda: {"cpu_name": "Zen 3", "avx2": True, "avx512_bf16": False})
    ok, why = P.native_bf16(cpu)
    assert not ok and "Zen 3" in why and "avx512_bf16=no" in why
    monkeypatch.setattr(P, "_cpu_capabilities", lambda: {"cpu_name": "Sapphire Rapids", "amx_bf16": True})
    assert P.native_bf16(cpu)[0]


def test_native_check_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Some GPU")
    for supported in (True, False):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, s=supported, **k: s)
        ok, why = P.native_bf16(torch.device("cuda"))
        assert ok is supported and "Some GPU" in why


def test_measurement_is_cached_and_a_broken_cache_is_rebuilt(tmp_path):
    cache = tmp_path / "precision.json"
    calls = []

    def measure():
        calls.append(1)
        return {"fp32": 100.0, "bf16": 300.0}

    assert P.cached_rates("k1", measure, cache) == {"fp32": 100.0, "bf16": 300.0}
    assert P.cached_rates("k1", measure, cache) == {"fp32": 100.0, "bf16": 300.0}
    assert len(calls) == 1 and "k1" in json.loads(cache.read_text())
    cache.write_text("{not json")
    assert P.cached_rates("k1", measure, cache)["bf16"] == 300.0 and len(calls) == 2


def test_measuring_changes_no_random_stream_nor_the_model(cpu):
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 3)
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    example = torch.randn(32, 8)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    rates = P.measure_rates(P.step_probe(model, example, cpu), ("fp32", "bf16"), cpu, min_seconds=0.01)
    assert torch.equal(torch.rand(3), expected)
    assert set(rates) == {"fp32", "bf16"} and all(r > 0 for r in rates.values())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())


def test_key_depends_on_threads_and_batch_shape(cpu):
    model = torch.nn.Linear(4, 4)
    k = P.probe_key(model, torch.zeros(8, 4), cpu)
    assert k == P.probe_key(model, torch.zeros(8, 4), cpu)
    assert k != P.probe_key(model, torch.zeros(16, 4), cpu)
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads != 1 else 2)
    try:
        assert k != P.probe_key(model, torch.zeros(8, 4), cpu)
    finally:
        torch.set_num_threads(threads)


def test_benchmark_plan_skips_a_precision_far_slower(monkeypatch, tmp_path, cpu):
    monkeypatch.setenv("SEMIPOSE_CACHE", str(tmp_path))
    monkeypatch.setattr(P, "native_bf16", lambda device: (False, "CPU Z (AVX2)"))
    monkeypatch.setattr(P, "measure_rates", lambda *a, **k: {"fp32": 866.0, "bf16": 24.0})  # the AVX2 figures
    choice, run, skipped = P.benchmark_plan(torch.nn.Linear(4, 4), torch.zeros(8, 4), cpu)
    assert choice.used == "fp32" and run == ["fp32"] and "36x slower" in skipped["bf16"]
    monkeypatch.setattr(P, "native_bf16", lambda device: (True, "CPU Y"))
    monkeypatch.setattr(P, "measure_rates", lambda *a, **k: {"fp32": 1216.0, "bf16": 3329.0})
    choice, run, skipped = P.benchmark_plan(torch.nn.Linear(4, 5), torch.zeros(8, 4), cpu)
    assert choice.used == "bf16" and run == ["fp32", "bf16"] and skipped == {}


def test_a_step_slower_than_the_allowance_is_rated_by_its_samples(cpu):
    def slow(precision):  # 8 samples in 20 ms: 400 samples/s, whatever the allowance
        time.sleep(0.02)
        return 8

    rates = P.measure_rates(slow, ("fp32",), cpu, min_seconds=0.001, max_seconds=0.005)
    assert 200 < rates["fp32"] <= 400
