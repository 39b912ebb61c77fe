"""Image analysis of synthetic-world frames: what colour and shape is there, and where.

Frames are RGB [3, H, W] in [-1, 1]. The shape is the set of saturated pixels (the
backgrounds are grey); its colour is the nearest world colour to their mean, its shape
the one whose fill of the bounding box is nearest (square 1, circle pi/4, triangle ~1/2),
its position the centroid, and its motion the steps of the centroid from frame to frame.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import torch

from ..engine.partition import Partition
from .world import COLOURS, DIRECTIONS, SPEEDS, object_radius

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


def follows(seen: list[Seen], direction: str, size: int, first_steps: int = 3) -> bool:
    """Whether frames already looked at (``look``, frames of ``size`` pixels) start by moving
    in ``direction``: most of the first ``first_steps`` clear steps (centroid moves >= 0.5 px)
    go that way. World objects bounce, so a step back counts too once the object has been
    within its bounce zone of the border ahead (its radius plus the fastest speed);
    a clip that starts there may already have bounced. On the world's own clips this is
    always true for the caption's direction, and for the opposite one in about 1 of 6."""
    dx, dy = DIRECTIONS[direction]
    zone = object_radius(size) + max(SPEEDS.values()) + 1.5
    points = [(s.x, s.y) for s in seen if s.colour is not None]

    def near_border(x: float, y: float) -> bool:
        along = x if dx else y
        return (size - along if dx + dy > 0 else along) < zone

    good = bad = 0
    may_reverse = bool(points) and near_border(*points[0])
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        mx, my = x1 - x0, y1 - y0
        if max(abs(mx), abs(my)) < 0.5:
            continue
        along, across = mx * dx + my * dy, abs(mx * dy) + abs(my * dx)
        if abs(along) > across and (along > 0 or may_reverse):
            good += 1
            may_reverse = may_reverse or near_border(x1, y1)
        else:
            bad += 1
        if good + bad == first_steps:
            break
    return good > bad


def trajectory(seen: list[Seen]) -> tuple[float, float]:
    """(speed, jerk) of the centroid over frames already looked at, in pixels: the mean step
    between consecutive frames that show a shape, and the median length of the second
    difference x[t+1] - 2 x[t] + x[t-1] over three such frames in a row (0 for steady
    motion; a bounce is one large value, which the median passes over). NaN where too few
    frames show a shape."""
    points = [(s.x, s.y) if s.colour is not None else None for s in seen]
    steps = [math.dist(a, b) for a, b in zip(points, points[1:]) if a and b]
    jerks = [math.hypot(c[0] - 2 * b[0] + a[0], c[1] - 2 * b[1] + a[1])
             for a, b, c in zip(points, points[1:], points[2:]) if a and b and c]
    return (statistics.fmean(steps) if steps else math.nan, statistics.median(jerks) if jerks else math.nan)


def seam(seen: list[Seen], direction: str, c: int, K: int = 0, first: int = 12) -> float:
    """How a stream's chunks join, in pixels: the mean step along ``direction`` from the last
    frame of a chunk to the first of the next, minus the mean step between frames of one
    chunk, over the first ``first`` frames (objects mostly reach a border later). Output
    frames 0..K-1 are references, chunks of ``c`` follow (``Partition.output_chunk``). 0 when
    chunks join as smoothly as their own frames; negative when each chunk starts behind
    where the last one left off.
    NaN for c = 1 (no frames share a chunk) or when a kind of step has no two shapes."""
    dx, dy = DIRECTIONS[direction]
    partition = Partition(K=K, N=1, c=c, s=1)
    inside, across = [], []
    for t in range(min(first, len(seen)) - 1):
        a, b = seen[t], seen[t + 1]
        if a.colour is not None and b.colour is not None:
            seam_between = partition.output_chunk(t) != partition.output_chunk(t + 1)
            (across if seam_between else inside).append((b.x - a.x) * dx + (b.y - a.y) * dy)
    if c == 1 or not inside or not across:
        return math.nan
    return statistics.fmean(across) - statistics.fmean(inside)
