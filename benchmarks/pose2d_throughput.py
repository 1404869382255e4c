"""2D heatmap models' throughput: training images/s (forward, heatmap loss with intermediate
supervision, backward, Adam step), teacher images/s (a forward pass without gradient in training mode, as the
2D semi-supervised methods' teachers run) and inference images/s, for every model at 64x64, 96x128, 128x128
and 256x192 inputs (random images: the models' cost does not depend on the pixels).

    python benchmarks/pose2d_throughput.py --out benchmarks/results/pose2d_throughput.json

Each setting runs ``--warmup`` steps, then as many timed steps as fit in ``--seconds`` (at least
``--min-steps``). The device is ``--device`` (cpu, cuda or auto), so the same script times a GPU.
``--precisions`` (default fp32,bf16) are timed in turn; each row also says what
``train.precision=auto`` picks, and a precision that a short probe measures more than 5x slower
than the other is skipped with a note instead of spending minutes on it. ``--memory-formats`` (default
contiguous,channels_last) times each setting with the weights in each layout (``train.memory_format``).
"""

from __future__ import annotations

import harness
import torch

from semipose.engine.memory_format import set_layout
from semipose.engine.precision import benchmark_plan
from semipose.engine.runtime import resolve_device
from semipose.methods.base import autocast
from semipose.methods.heatmap_ops import heatmap_loss
from semipose.models.heatmap_net import Pose2DModelConfig, build_heatmap_net
from semipose.models.profile import count_flops, count_parameters

MODELS = {  # name: Pose2DModelConfig fields
    "hourglass-1-residual-w32": dict(name="hourglass", stacks=1, width=32, unit="residual"),  # the 2D SSL studies'
    "hourglass-1-residual-w64": dict(name="hourglass", stacks=1, width=64, unit="residual"),
    "hourglass-1-hru-w64": dict(name="hourglass", stacks=1, width=64, unit="hru"),
    "hourglass-2-residual-w64": dict(name="hourglass", stacks=2, width=64, unit="residual"),
    "hourglass-8-residual-w64": dict(name="hourglass", stacks=8, width=64, unit="residual"),
    "hourglass-1-residual-w256": dict(name="hourglass", stacks=1, width=256, unit="residual"),
    "simplebaseline-resnet18": dict(name="simplebaseline", resnet_depth=18),
    "simplebaseline-resnet50": dict(name="simplebaseline", resnet_depth=50),
}
SIZES = {"64x64": (64, 64), "96x128": (96, 128), "128x128": (128, 128), "256x192": (192, 256)}  # name: (w, h)


def _timed(step, warmup: int, seconds: float, min_steps: int, device: torch.device) -> float:
    """Seconds per step."""
    return harness.timed(step, min_steps, warmup, device, seconds)["median_s"]


def measure(
    spec: dict,
    size: tuple[int, int],
    batch: int,
    device: torch.device,
    precision: str,
    layout: str,
    warmup: int,
    seconds: float,
    min_steps: int,
) -> dict:
    torch.manual_seed(0)
    model = set_layout(build_heatmap_net(Pose2DModelConfig(**spec), 17).to(device), layout)
    w, h = size
    x = torch.randn(batch, 3, h, w, device=device)
    target = torch.rand(batch, 17, h // 4, w // 4, device=device)
    weight = torch.ones(batch, 17, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train_step():
        with autocast(device, precision):
            pred = model(x)
        loss = heatmap_loss(pred.float(), target, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @torch.no_grad()
    def infer_step():
        with autocast(device, precision):
            model(x)

    model.train()
    train_s = _timed(train_step, warmup, seconds, min_steps, device)
    teach_s = _timed(infer_step, warmup, seconds, min_steps, device)  # the 2D SSL methods' teachers: train mode
    model.eval()
    infer_s = _timed(infer_step, warmup, seconds, min_steps, device)
    return {"train_img_s": batch / train_s, "teach_img_s": batch / teach_s, "infer_img_s": batch / infer_s}


def main() -> None:
    ap = harness.parser(__doc__, "pose2d_throughput", threads=2, device=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--memory-formats", default="contiguous,channels_last")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--min-steps", type=int, default=2)
    args = ap.parse_args()
    if args.smoke:
        args.models, args.sizes, args.batch, args.precisions = "hourglass-1-residual-w32", "64x64", 2, "fp32"
        args.memory_formats, args.seconds, args.min_steps = "contiguous", 0.0, 1
    harness.start(args)
    device = resolve_device(args.device)
    results = []
    print(
        f"{'model':28s} {'input':>8s} {'params':>8s} {'GFLOPs':>7s} {'prec':>5s} {'layout':>13s} {'train img/s':>12s} "
        f"{'teach img/s':>12s} {'infer img/s':>12s}  auto"
    )
    for name in args.models.split(","):
        spec = MODELS[name]
        for size_name in args.sizes.split(","):
            w, h = SIZES[size_name]
            model = build_heatmap_net(Pose2DModelConfig(**spec), 17)
            example = torch.randn(args.batch, 3, h, w, generator=torch.Generator().manual_seed(0))
            choice, _, skipped = benchmark_plan(model, example, device, tuple(args.precisions.split(",")))
            base = {
                "model": name,
                "input": size_name,
                "parameters": count_parameters(model),
                "gflops": count_flops(model, (1, 3, h, w)) / 1e9,
                "auto_picks": choice.used,
            }
            for precision in args.precisions.split(","):
                if precision in skipped:
                    results.append({**base, "precision": precision, "skipped": skipped[precision]})
                    print(f"{name:28s} {size_name:>8s} {precision:>5s}: {skipped[precision]}", flush=True)
                    continue
                for layout in args.memory_formats.split(","):
                    timing = measure(
                        spec, (w, h), args.batch, device, precision, layout, args.warmup, args.seconds, args.min_steps
                    )
                    row = {**base, "precision": precision, "memory_format": layout, **timing}
                    results.append(row)
                    print(
                        f"{name:28s} {size_name:>8s} {row['parameters'] / 1e6:7.2f}M {row['gflops']:7.2f} "
                        f"{precision:>5s} {layout:>13s} {row['train_img_s']:12.1f} {row['teach_img_s']:12.1f} {row['infer_img_s']:12.1f}  "
                        f"{choice.used}",
                        flush=True,
                    )
    harness.write(
        args,
        {
            "device": str(device),
            "threads": args.threads,
            "batch": args.batch,
            "precisions": args.precisions,
            "memory_formats": args.memory_formats,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
