"""Does Immiscible Diffusion's noise assignment speed convergence? Two small trainings,
with and without it, same seed and data; the held-out flow-matching loss (fixed clips,
times and noise) is printed every --every steps. Usage: python bench/immiscible.py [--steps 400]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from stream_core.native.checkpoint import load  # noqa: E402
from stream_core.lab.train import chunk_mixture, default_config, loss_on, stratified_times, train  # noqa: E402
from stream_core.lab.world import World  # noqa: E402


def held_out_loss(path: str) -> float:
    model = load(path)
    clips, captions = World(seed=99).batch(list(range(16)))
    g = torch.Generator().manual_seed(99)
    tau = stratified_times(16, 8, chunk_mixture(8), g)
    with torch.no_grad():
        return loss_on(model, clips, captions, tau, torch.randn(clips.shape, generator=g)).item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--every", type=int, default=100)
    args = ap.parse_args()
    config = dataclasses.replace(default_config(), dim=64, depth=2, heads=4)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flag in (("plain noise", False), ("immiscible", True)):
            out = os.path.join(tmp, name.replace(" ", "_") + ".safetensors")
            rows[name] = []
            for upto in range(args.every, args.steps + 1, args.every):
                train(upto, 8, out, config=config, immiscible_noise=flag, log_every=10**9, ema_decay=0.9)
                rows[name].append(held_out_loss(out))
    print("| steps | " + " | ".join(rows) + " | immiscible / plain |")
    print("|---|---|---|---|")
    for i, upto in enumerate(range(args.every, args.steps + 1, args.every)):
        plain, imm = rows["plain noise"][i], rows["immiscible"][i]
        print(f"| {upto} | {plain:.4f} | {imm:.4f} | {imm / plain:.3f} |")


if __name__ == "__main__":
    main()
