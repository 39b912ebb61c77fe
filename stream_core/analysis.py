"""Image analysis of synthetic-world frames: what colour and shape is there, and where.

Frames are RGB [3, H, W] in [-1, 1]. The shape is the set of saturated pixels (the
backgrounds are grey); its colour is the nearest world colour to their mean, its shape
the one whose fill of the bounding box is nearest (square 1, circle pi/4, triangle ~1/2),
and its position the centroid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .world import COLOURS, DIRECTIONS

FILL = {"square": 1.0, "circle": math.pi / 4, "triangle": 0.5}


@dataclass(frozen=True)
class Seen:
    colour: str | None   # None: no shape found
    shape: str | None
    x: float             # centroid, pixels
    y: float


def shape_mask(frames: torch.Tensor) -> torch.Tensor:
    """Frames [..., 3, H, W] in [-1, 1] -> bool [..., H, W], True on the shape's (saturated) pixels."""
    rgb = (frames.float().clamp(-1, 1) + 1) / 2
    return rgb.amax(-3) - rgb.amin(-3) > 0.35


def look(frame: torch.Tensor, min_pixels: int = 6) -> Seen:
    """What one frame [3, H, W] in [-1, 1] shows."""
    rgb = (frame.float().clamp(-1, 1) + 1) / 2
    mask = shape_mask(frame)
    if int(mask.sum()) < min_pixels:
        return Seen(None, None, float("nan"), float("nan"))
    mean = rgb[:, mask].mean(1)
    colour = min(COLOURS, key=lambda c: float(((torch.tensor(COLOURS[c]) - mean) ** 2).sum()))
    ys, xs = torch.nonzero(mask, as_tuple=True)
    box = (int(ys.max() - ys.min()) + 1) * (int(xs.max() - xs.min()) + 1)
    fill = float(mask.sum()) / box
    shape = min(FILL, key=lambda s: abs(FILL[s] - fill))
    return Seen(colour, shape, float(xs.float().mean()) + 0.5, float(ys.float().mean()) + 0.5)


def direction(frames: torch.Tensor) -> str | None:
    """Main direction of motion over frames [F, 3, H, W] (first to last centroid); None if unclear."""
    return motion([look(f) for f in frames])


def motion(seen: list[Seen]) -> str | None:
    """``direction`` from frames already looked at."""
    points = [(s.x, s.y) for s in seen if s.colour is not None]
    if len(points) < 2:
        return None
    dx, dy = points[-1][0] - points[0][0], points[-1][1] - points[0][1]
    if max(abs(dx), abs(dy)) < 1.0:
        return None
    step = (int(math.copysign(1, dx)), 0) if abs(dx) >= abs(dy) else (0, int(math.copysign(1, dy)))
    return next(name for name, d in DIRECTIONS.items() if d == step)
