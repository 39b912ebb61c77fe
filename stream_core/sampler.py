"""Euler integration of a flow-matching velocity with per-frame times, and guidance.

A *velocity* is any callable ``velocity(x, tau, frame_index) -> v`` with
``x, v: [Bsz, F, C, H, W]``, ``tau: [F]`` (float, 0 = noise, 1 = clean) and
``frame_index: [F]`` (long, each frame's index in the output video, used to look
up its prompt). The stream and the plain sampler only ever call that.
"""
from __future__ import annotations

from typing import Protocol

import torch


class Velocity(Protocol):
    def __call__(self, x: torch.Tensor, tau: torch.Tensor, frame_index: torch.Tensor) -> torch.Tensor: ...


def euler_step(x: torch.Tensor, v: torch.Tensor, dtau: torch.Tensor) -> torch.Tensor:
    """``x + v * dtau`` with one step size per frame: x, v [Bsz, F, ...], dtau [F] (shared
    by the batch) or [Bsz, F]."""
    frames = (1, -1) if dtau.ndim == 1 else tuple(dtau.shape)
    return x + v * dtau.to(x.dtype).reshape(*frames, *([1] * (x.ndim - 2)))


def guide(v_cond: torch.Tensor, v_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: ``v_uncond + scale * (v_cond - v_uncond)``."""
    return v_uncond + scale * (v_cond - v_uncond)


def sample_uniform(velocity: Velocity, noise: torch.Tensor, grid: torch.Tensor,
                   frame_index: torch.Tensor | None = None) -> torch.Tensor:
    """Plain full-clip Euler sampling: every frame at the same time, from ``grid[0]`` to ``grid[-1]``.

    noise [Bsz, F, C, H, W] -> clean clip of the same shape.
    """
    frames = noise.shape[1]
    if frame_index is None:
        frame_index = torch.arange(frames)
    x = noise
    for k in range(len(grid) - 1):
        tau = grid[k].expand(frames)
        x = euler_step(x, velocity(x, tau, frame_index), (grid[k + 1] - grid[k]).expand(frames))
    return x

