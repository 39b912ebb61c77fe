"""Euler integration of a flow-matching velocity with per-frame times, and guidance.

A *velocity* is any callable ``velocity(x, tau, frame_index) -> v`` with
``x, v: [Bsz, F, C, H, W]``, ``tau: [F]`` (float, 0 = noise, 1 = clean) and
``frame_index: [F]`` (long, each frame's index in the output video, used to look
up its prompt). The stream and the plain sampler only ever call that.
"""
from __future__ import annotations

from typing import Protocol

import torch

GUIDANCE_UNTIL = 0.75   # default tau from which guidance stops: the cleanest chunk of an N = 4 buffer


class Velocity(Protocol):
    def __call__(self, x: torch.Tensor, tau: torch.Tensor, frame_index: torch.Tensor) -> torch.Tensor: ...


def euler_step(x: torch.Tensor, v: torch.Tensor, dtau: torch.Tensor) -> torch.Tensor:
    """``x + v * dtau`` with one step size per frame: x, v [Bsz, F, ...], dtau [F] (shared
    by the batch) or [Bsz, F]."""
    frames = (1, -1) if dtau.ndim == 1 else tuple(dtau.shape)
    return x + v * dtau.to(x.dtype).reshape(*frames, *([1] * (x.ndim - 2)))


def guide(v_cond: torch.Tensor, v_uncond: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    """Classifier-free guidance: ``v_uncond + scale * (v_cond - v_uncond)``, with v [Bsz, F, ...]
    and one scale, or one per frame: [F] or [Bsz, F] (``guidance_scales``)."""
    if torch.is_tensor(scale):
        scale = scale.to(v_cond.dtype).reshape(*scale.shape, *([1] * (v_cond.ndim - 2)))
    return v_uncond + scale * (v_cond - v_uncond)


def guidance_scales(tau: torch.Tensor, scale: float, until: float) -> torch.Tensor:
    """Per-frame guidance scale, same shape as ``tau``: ``scale`` while ``tau < until``, 1 (the
    conditional velocity alone) from ``until`` on. Guiding a chunk that is nearly clean
    exaggerates the motion between its own frames, so each chunk jumps back at the next
    one's start; guidance is for the noisy times, where colour and direction are decided.
    ``until = 1`` guides everywhere."""
    return torch.where(tau < until, torch.full_like(tau, scale), torch.ones_like(tau))


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

