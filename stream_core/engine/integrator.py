"""Integrating a flow-matching velocity with per-frame times: the one place the sampler lives.

A *velocity* is any callable ``velocity(x, tau, frame_index) -> v`` with
``x, v: [Bsz, F, C, H, W]``, ``tau: [F]`` (float, 0 = noise, 1 = clean) and
``frame_index: [F]`` (long, each frame's index in the output video, used to look
up its prompt). The stream hands both ``tau`` and ``frame_index`` on the CPU (its schedule
bookkeeping never waits for the device); a velocity moves what it needs next to ``x``.
The stream and the plain sampler only ever call that.

An *integrator* advances ``x`` by one step of per-frame size ``dtau`` along a *field*
``field(x, tau) -> v`` (a velocity with its frame indices bound; tau [F] or [Bsz, F]),
drawing any fresh noise it needs from ``noise(like)`` (standard Gaussian noise shaped as
``like``, from the caller's seeded generator, so a stream's frames stay reproducible).
``Stream``, ``sample_uniform`` and the distillation teacher all step through one, so a
new sampler is one new integrator. One that keeps state between steps (a multistep
sampler's history) also has ``checkpoint() -> undo``: the stream calls it before each step
and ``undo()`` when the step fails, so a failed step changes nothing there either.
"""
from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import torch

from .flow import clean_from_velocity, noisy, per_frame

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Noise = Callable[[torch.Tensor], torch.Tensor]


class Velocity(Protocol):
    def __call__(self, x: torch.Tensor, tau: torch.Tensor, frame_index: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class RemembersFrames(Protocol):
    """A velocity that keeps the frames that left the buffer as context for the ones still in it
    (a causal model's KV cache, ``rolling_cache.py``): the stream hands it every chunk once, as
    it leaves, clean: ``remember(frames [Bsz, c, C, H, W], first_index)``. It is part of the step
    (a failed step undoes it through the velocity's ``checkpoint()``)."""

    def __call__(self, x: torch.Tensor, tau: torch.Tensor, frame_index: torch.Tensor) -> torch.Tensor: ...

    def remember(self, frames: torch.Tensor, first_index: int) -> None: ...


class Integrator(Protocol):
    def __call__(self, field: Field, x: torch.Tensor, tau: torch.Tensor, dtau: torch.Tensor,
                 noise: Noise) -> torch.Tensor: ...


def seeded_noise(generator: torch.Generator) -> Noise:
    """``noise(like)``: standard Gaussian noise shaped as ``like``, drawn on the CPU from
    ``generator`` (the same on every device), then moved next to ``like``."""
    def noise(like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=generator).to(like.device, like.dtype)
    return noise


def euler_step(x: torch.Tensor, v: torch.Tensor, dtau: torch.Tensor) -> torch.Tensor:
    """``x + v * dtau`` with one step size per frame: x, v [Bsz, F, ...], dtau [F] (shared
    by the batch) or [Bsz, F]."""
    return x + v * per_frame(dtau, x)


def euler(field: Field, x: torch.Tensor, tau: torch.Tensor, dtau: torch.Tensor, noise: Noise) -> torch.Tensor:
    """The Euler integrator: one evaluation of the field at (x, tau), then ``euler_step``;
    tau and dtau [F] or [Bsz, F]. Frames with dtau = 0 stay where they are. Draws no noise."""
    return euler_step(x, field(x, tau), dtau)


def renoise(field: Field, x: torch.Tensor, tau: torch.Tensor, dtau: torch.Tensor, noise: Noise) -> torch.Tensor:
    """The re-noising step few-step distilled models are sampled with (DMD, Self-Forcing;
    ComfyUI's ``ar_video`` sampler): one evaluation at (x, tau), the clean estimate it implies
    (``flow.clean_from_velocity``), noised again with fresh noise to ``tau + dtau``. A frame
    reaching tau = 1 is that estimate; frames with dtau = 0 stay where they are."""
    v = field(x, tau)
    moved = noisy(clean_from_velocity(v, x, tau), noise(x), tau + dtau)
    return torch.where(per_frame(dtau, x) > 0, moved, x)


INTEGRATORS: dict[str, Integrator] = {"euler": euler, "renoise": renoise}
"""The integrators a stream can be given by name."""


def sample_uniform(velocity: Velocity, noise: torch.Tensor, grid: torch.Tensor,
                   frame_index: torch.Tensor | None = None, integrator: Integrator = euler,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Plain full-clip sampling: every frame at the same time, from ``grid[0]`` to ``grid[-1]``;
    an integrator's fresh noise comes from ``generator`` (a new one seeded 0 when None).

    noise [Bsz, F, C, H, W] -> clean clip of the same shape.
    """
    frames = noise.shape[1]
    if frame_index is None:
        frame_index = torch.arange(frames)
    fresh = seeded_noise(torch.Generator().manual_seed(0) if generator is None else generator)

    def field(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        return velocity(x, tau, frame_index)

    x = noise
    for k in range(len(grid) - 1):
        x = integrator(field, x, grid[k].expand(frames), (grid[k + 1] - grid[k]).expand(frames), fresh)
    return x
