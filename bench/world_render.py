"""How fast the synthetic world renders training clips: clip by clip (the baseline) against
a batch at once, on the CPU and, where there is one, on the GPU the lab trains on
(``lab/device.py``). A training step of the shipped teacher draws 16 clips of 8 frames.

    python bench/world_render.py [--batch 16] [--repeats 20]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from stream_core.lab.world import World  # noqa: E402


def seconds_per_batch(draw, device: torch.device, repeats: int) -> float:
    """Median wall time of ``draw(i)`` over ``repeats`` calls after one warm-up call."""
    draw(0)
    times = []
    for i in range(1, repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        draw(i)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        world = World(seed=0, device=device)
        indices = lambda i: list(range(i * args.batch, (i + 1) * args.batch))  # noqa: E731
        rows.append((f"clip by clip, {device.type}", seconds_per_batch(
            lambda i: torch.stack([world.clip(j)[0] for j in indices(i)]), device, args.repeats)))
        rows.append((f"a batch at once, {device.type}", seconds_per_batch(
            lambda i: world.batch(indices(i)), device, args.repeats)))
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores{gpu}, torch {torch.__version__}; "
          f"{args.batch} clips of 8 frames at 64x64 a batch, median of {args.repeats}")
    print("| rendering | ms per batch | clips per second | speed-up over clip by clip on the CPU |")
    print("|---|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1e3:.1f} | {args.batch / seconds:.0f} | {rows[0][1] / seconds:.1f}x |")


if __name__ == "__main__":
    main()
