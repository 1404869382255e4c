"""Streaming latency: milliseconds from one frame's 2D keypoints to its 3D pose with a causal lifter
(:class:`semipose.lift.stream.StreamingLifter`), for 27, 81 and 243-frame receptive fields, with and without
flip averaging; median and 95th percentile over the frames after a warm-up. Untrained weights: the cost
does not depend on them.

    python benchmarks/stream_latency.py --out benchmarks/results/stream_latency.json
"""

from __future__ import annotations

import time

import harness
import numpy as np
import torch

from semipose.engine.runtime import resolve_device
from semipose.lift.stream import StreamingLifter
from semipose.models.tcn import TCNConfig, build_tcn
from semipose.skeletons import HUMANEVA15

ARCHS = {27: [3, 3, 3], 81: [3, 3, 3, 3], 243: [3, 3, 3, 3, 3]}


def main() -> None:
    ap = harness.parser(__doc__, "stream_latency", threads=torch.get_num_threads(), device=True)
    ap.add_argument("--channels", type=int, default=1024)
    ap.add_argument("--frames", type=int, default=300)
    args = ap.parse_args()
    if args.smoke:
        args.channels, args.frames = 16, 24
    harness.start(args)
    device = resolve_device(args.device)
    rng = np.random.default_rng(0)
    pixels = rng.uniform(100, 500, (args.frames, 15, 2)).astype(np.float32)
    rows = []
    for rf, widths in list(ARCHS.items())[: 1 if args.smoke else None]:
        model = build_tcn(TCNConfig(filter_widths=widths, channels=args.channels, causal=True), 15).to(device).eval()
        for flip in (False, True):
            lifter = StreamingLifter(model, HUMANEVA15, 640, 480, flip)
            times = []
            for kp in pixels:
                start = time.perf_counter()
                lifter.push(kp)
                harness.synchronize(device)
                times.append(1000 * (time.perf_counter() - start))
            ms = np.array(times[20:])  # after a warm-up
            row = {"receptive_field": rf, "flip": flip, "channels": args.channels, "device": str(device),
                   "median_ms": round(float(np.median(ms)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3)}  # fmt: skip
            rows.append(row)
            print(f"rf={rf:3d} flip={flip!s:5}: median {row['median_ms']:.2f} ms, p95 {row['p95_ms']:.2f} ms a frame")
    harness.write(args, {"threads": args.threads, "results": rows})


if __name__ == "__main__":
    main()
