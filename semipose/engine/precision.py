"""Which precision a run trains in: ``fp32``, ``bf16`` (autocast) or ``auto``.

bf16 pays only where the hardware multiplies bf16 matrices natively (AVX-512 BF16 or AMX on x86 CPUs,
most CUDA GPUs since Ampere); elsewhere it is emulated and can be 36x slower than fp32. ``auto``
takes bf16 only where the device reports native support *and* a short micro-benchmark of one
training step of the run's own model confirms it is faster. Measured rates are cached per
machine, model and thread count, so the benchmark costs a second or two once.

A forced choice (``fp32`` or ``bf16``) is kept, with a one-line warning when it measures far
slower than the other precision.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..io import atomic_write_json
from ..methods.base import autocast

PRECISIONS = ("auto", "fp32", "bf16")
FAR_SLOWER = 2.0  # a forced precision this many times slower than the other earns a warning
CPU_PROBE_BATCH = 32


@dataclass
class PrecisionChoice:
    """What a run trains in, and why (written to ``run_info.json``)."""

    requested: str
    used: str
    reason: str
    native_bf16: bool | None = None
    rates: dict[str, float] = field(default_factory=dict)  # measured training samples/s per precision

    def record(self) -> dict[str, Any]:
        return asdict(self)


def _cpu_capabilities() -> dict[str, Any]:
    get = getattr(torch.cpu, "get_capabilities", None)  # torch >= 2.7
    try:
        return dict(get()) if get else {}
    except Exception:
        return {}


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` multiplies bf16 matrices in hardware, and what that judgement rests on."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        ok = bool(torch.cuda.is_bf16_supported())
        return ok, f"{name} {'supports' if ok else 'does not support'} bf16"
    caps = _cpu_capabilities()
    name = caps.get("cpu_name") or platform.processor() or platform.machine()
    flags = {k: bool(caps.get(k)) for k in ("avx512_bf16", "amx_bf16")}
    if platform.machine().lower() in ("aarch64", "arm64"):
        flags["bf16"] = bool(caps.get("bf16") or caps.get("sve_bf16"))
    ok = any(flags.values())
    shown = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in flags.items())
    capability = torch.backends.cpu.get_cpu_capability()
    return ok, f"CPU {name} ({capability}; {shown})"


StepFn = Callable[[str], int]  # runs one training step in the given precision, returns its samples


def step_probe(
    model: torch.nn.Module,
    example: torch.Tensor,
    device: torch.device,
    configure: Callable[[torch.nn.Module, str], str] | None = None,
) -> StepFn:
    """One forward and backward pass of a copy of ``model`` on ``example`` (the run's batch shape).

    The copy leaves the run's weights, BatchNorm statistics and gradients untouched. On a CPU the
    batch is cut to ``CPU_PROBE_BATCH``: emulated bf16 can take seconds a sample, and the ratio of
    the two precisions, which is all the choice needs, hardly depends on the batch there. A step is
    named by its precision, or, with ``configure``, by a setting that ``configure(copy, name)`` applies to
    the copy before it returns the precision to train in (the memory-layout probe)."""
    probe = copy.deepcopy(model).to(device).train()
    x = (example[:CPU_PROBE_BATCH] if device.type == "cpu" else example).to(device)

    def step(name: str) -> int:
        precision = configure(probe, name) if configure is not None else name
        with autocast(device, precision):
            out = probe(x)
        out.float().square().mean().backward()
        probe.zero_grad(set_to_none=True)
        return int(x.shape[0])

    return step


def measure_rates(
    step: StepFn, precisions: tuple[str, ...], device: torch.device, min_seconds: float = 0.3, max_seconds: float = 3.0
) -> dict[str, float]:
    """Training samples/s of ``step`` in each precision: one warm-up step, then timed steps until
    ``min_seconds`` (at least two), never more than ``max_seconds`` however slow a step is.

    The random-number state is restored afterwards, so measuring changes no run's results."""
    devices = [device] if device.type == "cuda" else []
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rates: dict[str, float] = {}
    with torch.random.fork_rng(devices=devices):
        for precision in precisions:
            t0 = time.perf_counter()
            warmup = step(precision)  # warm-up: kernels chosen, memory allocated
            sync()
            if time.perf_counter() - t0 > max_seconds:  # one step alone took the whole allowance
                rates[precision] = warmup / (time.perf_counter() - t0)
                continue
            samples, t0 = 0, time.perf_counter()
            while True:
                samples += step(precision)
                sync()
                spent = time.perf_counter() - t0
                if (spent >= min_seconds and samples >= 2) or spent >= max_seconds:
                    break
            rates[precision] = samples / spent
    return rates


def _cache_path() -> Path:
    root = os.environ.get("SEMIPOSE_CACHE") or Path.home() / ".cache" / "semipose"
    return Path(root) / "precision.json"


def probe_key(model: torch.nn.Module, example: torch.Tensor, device: torch.device, **more: str) -> str:
    """What a measurement depends on: machine, torch, threads, model and batch shape (and ``more``: what
    else a probe holds fixed, e.g. the precision of a memory-layout probe)."""
    machine = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else (_cpu_capabilities().get("cpu_name") or platform.processor() or platform.machine())
    )
    what = {
        "machine": machine,
        "capability": torch.backends.cpu.get_cpu_capability(),
        "device": device.type,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "model": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "input": list(example.shape),
        **more,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:20]


def cached_rates(
    key: str,
    measure: Callable[[], dict[str, float]],
    cache: Path | None = None,
    names: tuple[str, ...] = ("fp32", "bf16"),
) -> dict[str, float]:
    """Rates of ``names`` from the cache file, or measured now and added to it (an unreadable cache is
    rebuilt)."""
    cache = cache or _cache_path()
    try:
        table = json.loads(cache.read_text())
        if not isinstance(table, dict):
            table = {}
    except (OSError, ValueError):
        table = {}
    hit = table.get(key)
    if (
        isinstance(hit, dict)
        and all(isinstance(v, (int, float)) for v in hit.get("rates", {}).values())
        and set(names) <= set(hit.get("rates", {}))
    ):
        return {k: float(v) for k, v in hit["rates"].items()}
    rates = measure()
    table[key] = {"rates": rates, "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        atomic_write_json(cache, table)
    except OSError:  # a read-only home: measure again next time
        pass
    return rates


def resolve_precision(
    requested: str,
    device: torch.device,
    model: torch.nn.Module | None = None,
    example: torch.Tensor | None = None,
    cache: Path | None = None,
    warn: Callable[[str], None] = print,
    step: StepFn | None = None,
) -> PrecisionChoice:
    """Turn ``train.precision`` into the precision a run uses (see the module's docstring).

    ``model`` and ``example`` (one training batch's input) drive the micro-benchmark; without them
    ``auto`` trusts the capability check alone and forced choices are not measured."""
    if requested not in PRECISIONS:
        raise ValueError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    native, why = native_bf16(device)
    rates: dict[str, float] = {}
    measurable = step is not None or (model is not None and example is not None)

    def measure() -> dict[str, float]:
        if step is not None:
            return measure_rates(step, ("fp32", "bf16"), device)
        assert model is not None and example is not None
        key = probe_key(model, example, device)
        return cached_rates(
            key, lambda: measure_rates(step_probe(model, example, device), ("fp32", "bf16"), device), cache
        )

    if requested == "auto":
        if not native:
            return PrecisionChoice(requested, "fp32", f"{why}: no native bf16 matrix products", native)
        if not measurable:
            return PrecisionChoice(requested, "bf16", f"{why}: native bf16 (not measured)", native)
        rates = measure()
        if rates["bf16"] > rates["fp32"]:
            return PrecisionChoice(
                requested,
                "bf16",
                f"{why}: bf16 measured {rates['bf16'] / rates['fp32']:.1f}x faster than fp32",
                native,
                rates,
            )
        return PrecisionChoice(
            requested, "fp32", f"{why}: bf16 is native but measured no faster than fp32", native, rates
        )
    choice = PrecisionChoice(requested, requested, "forced by train.precision", native)
    if measurable and (native or requested == "bf16"):  # fp32 without native bf16 cannot be beaten
        choice.rates = rates = measure()
        other = "fp32" if requested == "bf16" else "bf16"
        if rates[other] > FAR_SLOWER * rates[requested]:
            warn(
                f"warning: train.precision={requested} trains at {rates[requested]:.0f} samples/s here, "
                f"{other} at {rates[other]:.0f} ({rates[other] / rates[requested]:.1f}x faster); "
                f"train.precision=auto picks the faster one"
            )
    return choice


def precision_for_run(
    requested: str, device: torch.device, model: torch.nn.Module, example: torch.Tensor, verbose: bool = True
) -> PrecisionChoice:
    """:func:`resolve_precision` for a training run: says what it chose (and warns) on stderr."""
    import sys

    choice = resolve_precision(requested, device, model, example, warn=lambda m: print(m, file=sys.stderr))
    if verbose:
        print(f"precision: {choice.used} ({choice.reason})", file=sys.stderr)
    return choice


def benchmark_plan(
    model: torch.nn.Module,
    example: torch.Tensor,
    device: torch.device,
    precisions: tuple[str, ...] = ("fp32", "bf16"),
    skip_slower: float = 5.0,
) -> tuple[PrecisionChoice, list[str], dict[str, str]]:
    """For benchmarks: what ``auto`` picks here, which of ``precisions`` to time, and a note for each
    one left out because the probe measured it more than ``skip_slower`` times slower than the other."""
    choice = resolve_precision("auto", device, model, example)
    rates = choice.rates or cached_rates(
        probe_key(model, example, device),
        lambda: measure_rates(step_probe(model, example, device), ("fp32", "bf16"), device),
    )
    best = max(rates.values())
    run, skipped = [], {}
    for p in precisions:
        if rates[p] * skip_slower < best:
            skipped[p] = (
                f"skipped {p}: the probe measured {rates[p]:.0f} samples/s against {best:.0f} "
                f"({best / rates[p]:.0f}x slower)"
            )
        else:
            run.append(p)
    return choice, run, skipped
