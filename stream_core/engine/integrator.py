"""Integrating a flow-matching velocity with per-frame times: the one place the sampler lives.

A *velocity* is any callable ``velocity(x, tau, frame_index) -> v`` with
``x, v: [Bsz, F, C, H, W]``, ``tau: [F]`` (float, 0 = noise, 1 = clean) and
``frame_index: [F]`` (long, each frame's index in the output video, used to look
up its prompt). The stream and the plain sampler only ever call that.

An *integrator* advances ``x`` by one step of per-frame size ``dtau`` along a *field*
``field(x, tau) -> v`` (a velocity with its frame indices bound; tau [F] or [Bsz, F]).
``Stream``, ``sample_uniform`` and the distillation teacher all step through one, so a
new sampler is one new function of the ``Integrator`` signature.
"""
from __future__ import annotations

from typing import Callable, Protocol

import torch

from .flow import per_frame

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Velocity(Protocol):
    def __call__(self, x: torch.Tensor, tau: torch.Tensor, frame_index: torch.Tensor) -> torch.Tensor: ...


class Integrator(Protocol):
    def __call__(self, field: Field, x: torch.Tensor, tau: torch.Tensor, dtau: torch.Tensor) -> torch.Tensor: ...


def euler_step(x: torch.Tensor, v: torch.Tensor, dtau: torch.Tensor) -> torch.Tensor:
    """``x + v * dtau`` with one step size per frame: x, v [Bsz, F, ...], dtau [F] (shared
    by the batch) or [Bsz, F]."""
    return x + v * per_frame(dtau, x)


def euler(field: Field, x: torch.Tensor, tau: torch.Tensor, dtau: torch.Tensor) -> torch.Tensor:
    """The Euler integrator: one evaluation of the field at (x, tau), then ``euler_step``;
    tau and dtau [F] or [Bsz, F]. Frames with dtau = 0 stay where they are."""
    return euler_step(x, field(x, tau), dtau)


def sample_uniform(velocity: Velocity, noise: torch.Tensor, grid: torch.Tensor,
                   frame_index: torch.Tensor | None = None, integrator: Integrator = euler) -> torch.Tensor:
    """Plain full-clip sampling: every frame at the same time, from ``grid[0]`` to ``grid[-1]``.

    noise [Bsz, F, C, H, W] -> clean clip of the same shape.
    """
    frames = noise.shape[1]
    if frame_index is None:
        frame_index = torch.arange(frames)

    def field(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        return velocity(x, tau, frame_index)

    x = noise
    for k in range(len(grid) - 1):
        x = integrator(field, x, grid[k].expand(frames), (grid[k + 1] - grid[k]).expand(frames))
    return x
