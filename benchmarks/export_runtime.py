"""PyTorch against onnxruntime on the CPU for exported models: lifters (27, 81 and 243 frames, 1024 channels,
one 1,000-frame sequence) and a 2D hourglass (2 stacks, 256x256, batch 8); median of repeated runs, each
model's largest output difference beside it. Untrained weights: the cost does not depend on them.

    python benchmarks/export_runtime.py --out benchmarks/results/export_runtime.json
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import harness
import torch

from semipose.engine.saved import model_record
from semipose.export import export_model
from semipose.io import atomic_torch_save, atomic_write_text
from semipose.models.tcn import TCNConfig, build_tcn
from semipose.skeletons import COCO17, HUMANEVA15


def _median_ms(fn, repeats: int) -> float:
    return 1000 * harness.timed(fn, repeats)["median_s"]


def main() -> None:
    import onnxruntime as ort

    ap = harness.parser(__doc__, "export_runtime", threads=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    harness.start(args)
    channels, frames, side = (16, 40, 64) if args.smoke else (1024, 1000, 256)
    if args.smoke:
        args.repeats = 1
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cases = []
        for widths in ([3, 3, 3],) if args.smoke else ([3, 3, 3], [3, 3, 3, 3], [3, 3, 3, 3, 3]):
            cfg = TCNConfig(filter_widths=widths, channels=channels)
            model = build_tcn(cfg, 15).eval()
            path = tmp / f"lift{len(widths)}.pt"
            atomic_torch_save(model_record("lifting", model.state_dict(), vars(cfg), HUMANEVA15), path)
            x = torch.randn(1, frames + 3 ** len(widths) - 1, 15, 2)
            cases.append((f"lifter rf={3 ** len(widths)}", path, model, x, "keypoints_2d"))
        from semipose.config import dump_yaml
        from semipose.models.heatmap_net import build_heatmap_net
        from semipose.pose2d.config import load_pose2d_config

        cfg2 = load_pose2d_config(None, ["model.stacks=2", f"data.input_size=[{side},{side}]"])
        net = build_heatmap_net(cfg2.model, 17).eval()
        run = tmp / "run2d"
        run.mkdir()
        atomic_write_text(run / "config.yaml", dump_yaml(cfg2))
        atomic_torch_save(model_record("pose2d", net.state_dict(), vars(cfg2.model), COCO17), run / "model.pt")
        cases.append((f"hourglass 2 stacks {side}x{side} batch 8", run, net, torch.randn(8, 3, side, side), "images"))
        for name, path, model, x, input_name in cases:
            report = export_model(path, tmp / "m.onnx", "onnx")
            session = ort.InferenceSession(str(tmp / "m.onnx"), options, providers=["CPUExecutionProvider"])
            with torch.no_grad():
                torch_ms = _median_ms(lambda m=model, x=x: m(x), args.repeats)
            feed = {input_name: x.numpy()}
            ort_ms = _median_ms(lambda s=session, f=feed: s.run(None, f), args.repeats)
            row = {"model": name, "input_shape": list(x.shape), "torch_ms": round(torch_ms, 2),
                   "onnxruntime_ms": round(ort_ms, 2), "max_abs_diff": report["max_abs_diff"]}  # fmt: skip
            rows.append(row)
            print(f"{name}: torch {torch_ms:.1f} ms, onnxruntime {ort_ms:.1f} ms, max diff {row['max_abs_diff']:.1e}")
    harness.write(args, {"threads": args.threads, "results": rows})


if __name__ == "__main__":
    main()
