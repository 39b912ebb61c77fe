"""Image analysis of synthetic-world frames: what colour and shape is there, and where.

Frames are RGB [3, H, W] in [-1, 1]. The shape is the set of saturated pixels (the
backgrounds are grey); its colour is the nearest world colour to their mean, its shape
the one whose fill of the bounding box is nearest (square 1, circle pi/4, triangle ~1/2),
its position the centroid, and its motion the steps of the centroid from frame to frame.
The world wraps around (``world.wrapped``): a shape over a border is seen whole, rolled
across it, and a step is the shortest way round.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import torch

from ..engine.partition import Partition
from .world import COLOURS, DIRECTIONS, object_radius, wrapped

FILL = {"square": 1.0, "circle": math.pi / 4, "triangle": 0.5}


@dataclass(frozen=True)
class Seen:
    colour: str | None   # None: no shape found
    shape: str | None
    x: float             # centroid, pixels
    y: float


SATURATED = 0.35   # a pixel whose saturation is above this is the shape's; the backgrounds are grey (0)


def saturation(frames: torch.Tensor) -> torch.Tensor:
    """Frames [..., 3, H, W] in [-1, 1] -> [..., H, W]: max minus min channel, in [0, 1]."""
    rgb = (frames.float().clamp(-1, 1) + 1) / 2
    return rgb.amax(-3) - rgb.amin(-3)


def shape_mask(frames: torch.Tensor) -> torch.Tensor:
    """Frames [..., 3, H, W] in [-1, 1] -> bool [..., H, W], True on the shape's (saturated) pixels."""
    return saturation(frames) > SATURATED


def gap_start(occupied: torch.Tensor) -> int:
    """Where the longest run of False in a circular bool [n] ends: rolling by minus this puts
    the occupied part in one piece (0 when nothing wraps)."""
    flags = occupied.tolist()
    n = len(flags)
    if all(flags) or not any(flags):
        return 0
    best = run = end = 0
    for i in range(2 * n):   # twice round, so a run over the end counts whole
        run = 0 if flags[i % n] else run + 1
        if run > best:
            best, end = run, (i + 1) % n
    return end


def look(frame: torch.Tensor, min_pixels: int = 6) -> Seen:
    """What one frame [3, H, W] in [-1, 1] shows. A shape over a border is rolled whole
    first; its centroid is in [0, W) x [0, H)."""
    rgb = (frame.float().clamp(-1, 1) + 1) / 2
    mask = shape_mask(frame)
    if int(mask.sum()) < min_pixels:
        return Seen(None, None, float("nan"), float("nan"))
    mean = rgb[:, mask].mean(1)
    colour = min(COLOURS, key=lambda c: float(((torch.tensor(COLOURS[c]) - mean) ** 2).sum()))
    h, w = mask.shape
    ry, rx = gap_start(mask.any(1)), gap_start(mask.any(0))
    ys, xs = torch.nonzero(mask.roll((-ry, -rx), (0, 1)), as_tuple=True)
    box = (int(ys.max() - ys.min()) + 1) * (int(xs.max() - xs.min()) + 1)
    fill = float(mask.sum()) / box
    shape = min(FILL, key=lambda s: abs(FILL[s] - fill))
    return Seen(colour, shape, (float(xs.float().mean()) + 0.5 + rx) % w, (float(ys.float().mean()) + 0.5 + ry) % h)


def steps(seen: list[Seen], size: int) -> list[tuple[float, float] | None]:
    """The centroid's step from each frame to the next, the shortest way round a frame of
    ``size`` pixels; None where either frame shows no shape."""
    return [(float(wrapped(b.x - a.x, size)), float(wrapped(b.y - a.y, size)))
            if a.colour is not None and b.colour is not None else None for a, b in zip(seen, seen[1:])]


def clear_steps(seen: list[Seen], direction: str, size: int) -> list[bool]:
    """For each clear step of the shape (the centroid moves >= 0.5 px between frames that
    show it, frames without one skipped), whether it goes ``direction`` more than across it."""
    dx, dy = DIRECTIONS[direction]
    return [mx * dx + my * dy > abs(mx * dy) + abs(my * dx)
            for mx, my in steps([s for s in seen if s.colour is not None], size) if max(abs(mx), abs(my)) >= 0.5]


def follows(seen: list[Seen], direction: str, size: int, first_steps: int = 3) -> bool:
    """Whether frames already looked at (``look``, frames of ``size`` pixels) start by moving
    in ``direction``: most of the first ``first_steps`` clear steps go that way. Always true
    on the world's own clips, never for the opposite direction."""
    first = clear_steps(seen, direction, size)[:first_steps]
    return sum(first) > len(first) / 2


def trajectory(seen: list[Seen], size: int) -> tuple[float, float]:
    """(speed, jerk) of the centroid over frames already looked at (frames of ``size``
    pixels), in pixels: the mean step between consecutive frames that show a shape, and the
    median change of that step over three such frames in a row (0 for steady motion). NaN
    where too few frames show a shape."""
    moves = steps(seen, size)
    lengths = [math.hypot(*m) for m in moves if m]
    jerks = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(moves, moves[1:]) if a and b]
    return (statistics.fmean(lengths) if lengths else math.nan, statistics.median(jerks) if jerks else math.nan)


def seam(seen: list[Seen], direction: str, size: int, c: int, K: int = 0) -> float:
    """How a stream's chunks join, in pixels: the mean step along ``direction`` from the last
    frame of a chunk to the first of the next, minus the mean step between frames of one
    chunk. Output frames 0..K-1 are references, chunks of ``c`` follow
    (``Partition.output_chunk``). 0 when chunks join as smoothly as their own frames;
    negative when each chunk starts behind where the last one left off.
    NaN for c = 1 (no frames share a chunk) or when a kind of step has no two shapes."""
    dx, dy = DIRECTIONS[direction]
    partition = Partition(K=K, N=1, c=c, s=1)
    inside, across = [], []
    for t, step in enumerate(steps(seen, size)):
        if step is not None:
            seam_between = partition.output_chunk(t) != partition.output_chunk(t + 1)
            (across if seam_between else inside).append(step[0] * dx + step[1] * dy)
    if c == 1 or not inside or not across:
        return math.nan
    return statistics.fmean(across) - statistics.fmean(inside)


def travel(seen: list[Seen], direction: str, size: int, window: int = 100) -> float:
    """How far the object goes along ``direction`` in ``window`` frames, in pixels: the sum
    of its steps that way (the shortest way round; frames without a shape add nothing),
    averaged over the whole windows in ``seen``. A stream that stops travels 0 however much
    it jitters; the world's own clips travel speed x window."""
    dx, dy = DIRECTIONS[direction]
    along = [m[0] * dx + m[1] * dy if m else 0.0 for m in steps(seen, size)]
    sums = [sum(along[i:i + window]) for i in range(0, len(along) - window + 1, window)]
    return statistics.fmean(sums) if sums else math.nan


def at_border(seen: Seen, size: int, margin: float = 4.0) -> bool:
    """Whether a shape's edge (its centroid +- the world's object radius) is within ``margin``
    pixels of a border, or over it (False without a shape)."""
    reach = object_radius(size) + margin
    return seen.colour is not None and min(seen.x, seen.y, size - seen.x, size - seen.y) < reach


def pinned(seen: list[Seen], size: int, margin: float = 4.0, still: int = 8) -> list[bool]:
    """Per frame: the shape sits at a border (``at_border``) and has moved less than one
    pixel, the shortest way round, over the last ``still`` frames: stuck there, as a shape
    that stops at the border it ran into is (a shape of the world crosses a border in a few
    frames). The first ``still`` frames are never pinned."""
    def moved(a: Seen, b: Seen) -> float:
        return math.hypot(wrapped(b.x - a.x, size), wrapped(b.y - a.y, size))

    return [t >= still and at_border(s, size, margin) and seen[t - still].colour is not None
            and moved(seen[t - still], s) < 1.0 for t, s in enumerate(seen)]
