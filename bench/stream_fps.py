"""Streaming speed of the engine: frames per second, time to first frame, peak memory.

Streams images (decoded as the nodes do) from a small random-weight StreamDiT (64x64
RGB, pixel space), or from the model file ``--model``, with several partitions of the same buffer; the diagonal
scheme (FIFO-Diffusion) is the baseline measured in the same run. Each partition runs
in its own process so peak memory is its own.
Usage: python bench/stream_fps.py [--frames 64] [--device cpu|cuda] [--model FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PARTITIONS = {  # name: (K, N, c, s); every one holds B = 8 frames
    "diagonal (FIFO), T=8": (0, 8, 1, 1),
    "StreamDiT c=2 s=2, T=8": (0, 4, 2, 2),
    "StreamDiT c=2 s=1, T=4 (distilled)": (0, 4, 2, 1),
    "StreamDiT c=4 s=4, T=8": (0, 2, 4, 4),
    "StreamDiT K=2 c=2 s=2, T=6": (2, 3, 2, 2),
    "StreamDiT K=2 c=2 s=1, T=3 (distilled)": (2, 3, 2, 1),
    "uniform c=8, T=8": (0, 1, 8, 8),
}


def measure(partition: tuple[int, int, int, int], frames: int, device: str, path: str | None) -> dict:
    import torch

    from stream_core.engine.partition import Partition
    from stream_core.engine.timeline import PromptTimeline
    from stream_core.native.checkpoint import load
    from stream_core.native.model import StreamDiT, StreamDiTConfig
    from stream_core.native.session import NativeStreamFactory

    torch.manual_seed(0)
    if path:
        model = load(path, device=device)
    else:
        cfg = StreamDiTConfig(dim=96, depth=4, heads=4, window=(2, 8, 8), vocab=("a", "red", "ball"))
        model = StreamDiT(cfg).to(device).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 0.05)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    size = model.config.height * model.config.factor
    # the Stream node's own session (its factory), decoding as the node does
    images = NativeStreamFactory(model=model, model_key=(), schedule=PromptTimeline(((0, "a red ball"),)), seed=0,
                                 width=size, height=size, partition=Partition(*partition)).create().frames
    stream = images.stream
    start = time.perf_counter()
    images.take(1)
    sync()
    first = time.perf_counter() - start
    start = time.perf_counter()
    images.take(frames)
    sync()
    steady = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated() if device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"fps": frames / steady, "first_s": first, "peak_mib": peak / 2**20,
            "evals_per_frame": stream.evaluations / stream.frames_out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=64, help="frames timed after the first one")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", help="a StreamDiT .safetensors (default: a random-weight model)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(tuple(json.loads(args.one)), args.frames, args.device, args.model)))
        return
    rows = {}
    for name, part in PARTITIONS.items():
        out = subprocess.run([sys.executable, __file__, "--one", json.dumps(part), "--frames", str(args.frames),
                              "--device", args.device, *(["--model", args.model] if args.model else [])], capture_output=True, text=True, check=True)
        rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
    base = rows[next(iter(PARTITIONS))]
    peak_what = "peak CUDA MiB" if args.device.startswith("cuda") else "peak RSS MiB"
    what = args.model or "random weights, 64x64 RGB, dim 96, depth 4, window (2,8,8)"
    print(f"device={args.device}  frames timed={args.frames}  model: {what}")
    print(f"| partition (K,N,c,s) | FPS | FPS / diagonal | first frame s | first / diagonal | {peak_what} | evals/frame |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} {PARTITIONS[name]} | {r['fps']:.1f} | {r['fps'] / base['fps']:.2f} | {r['first_s']:.3f} | "
              f"{r['first_s'] / base['first_s']:.2f} | {r['peak_mib']:.0f} | {r['evals_per_frame']:.2f} |")


if __name__ == "__main__":
    main()
