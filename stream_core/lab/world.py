"""A synthetic video world with captions: coloured shapes moving over plain or striped
backgrounds, sometimes changing colour mid-clip. The world wraps around: a shape that
leaves one side re-enters on the other, so "moving right" stays true forever and an
endless stream always has somewhere to go.

Deterministic: clip ``index`` of world ``seed`` is always the same. Frames are RGB in
[-1, 1], [F, 3, H, W] float32; each frame has its own caption (a colour change changes
the caption from that frame on). Captions come from a small grammar:
``a {colour} {shape} moving {direction}[ quickly][ on stripes]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

COLOURS = {"red": (1.0, 0.15, 0.1), "green": (0.1, 0.9, 0.2), "blue": (0.15, 0.3, 1.0),
           "yellow": (1.0, 0.9, 0.1), "magenta": (0.95, 0.2, 0.9), "cyan": (0.1, 0.9, 0.95),
           "orange": (1.0, 0.55, 0.05), "purple": (0.55, 0.1, 1.0), "lime": (0.6, 1.0, 0.1),
           "teal": (0.05, 0.55, 0.5)}
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "up": (0, -1), "down": (0, 1)}
SPEEDS = {"": 1.5, "quickly": 3.0}
HELD_OUT = {("green", "triangle"), ("magenta", "square")}   # never in training clips


def names_held_out_pair(caption: str) -> bool:
    """Whether ``caption`` names a colour with a shape of ``HELD_OUT`` (a pairing no DiT trains on)."""
    words = caption.split()
    return any(colour in words and shape in words for colour, shape in HELD_OUT)


VOCAB = tuple(sorted({"a", "moving", "on", "stripes", *COLOURS, *SHAPES, *DIRECTIONS, "quickly"}))


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    direction: str
    speed: str = ""
    stripes: bool = False

    def caption(self) -> str:
        words = ["a", self.colour, self.shape, "moving", self.direction]
        words += [self.speed] if self.speed else []
        words += ["on", "stripes"] if self.stripes else []
        return " ".join(words)


def wrapped(offset, size: int):
    """An offset between two positions on a wrap-around line of ``size`` pixels, as the
    shortest way round: in [-size/2, size/2). Numbers, arrays or tensors."""
    return (offset + size / 2) % size - size / 2


def footprint(shape: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, r: float, size: int) -> torch.Tensor:
    """Boolean [..., size, size] masks of the pixels shapes of radius r cover: ``shape``
    indices into SHAPES, centres (cx, cy) in pixels, all [...] on one device; the frame wraps
    around, so a shape over a border shows on both sides."""
    grid = torch.arange(size, dtype=torch.float32, device=cx.device) + 0.5
    dx = wrapped(grid - cx[..., None, None], size)              # [..., 1, W]
    dy = wrapped(grid[:, None] - cy[..., None, None], size)     # [..., H, 1]
    masks = torch.stack(torch.broadcast_tensors(
        dx ** 2 + dy ** 2 <= r ** 2,                                              # circle
        (dx.abs() <= r * 0.85) & (dy.abs() <= r * 0.85),                          # square
        (dy <= r * 0.8) & (dy >= -r) & (dx.abs() <= (dy + r) * 0.6)), -3)         # triangle, pointing up
    which = shape[..., None, None, None] == torch.arange(len(SHAPES), device=shape.device)[:, None, None]
    return (masks & which).any(-3)


def object_radius(size: int) -> float:
    """Radius in pixels of the world's shapes in frames of ``size`` pixels."""
    return size / 8


def background(stripes: torch.Tensor, size: int) -> torch.Tensor:
    """[..., 3, size, size] in [0, 1] for bool ``stripes`` [...]: dark grey, or diagonal grey stripes."""
    y, x = torch.meshgrid(*[torch.arange(size, device=stripes.device)] * 2, indexing="ij")
    light = stripes[..., None, None] & (((x + y) // 6) % 2 == 0)
    return torch.where(light, 0.3, 0.12)[..., None, :, :].expand(*stripes.shape, 3, size, size)


def render(scenes: list[list[Scene]], starts: list[tuple[float, float]], size: int, radius: float,
           device: torch.device | str = "cpu") -> torch.Tensor:
    """Clips [B, F, 3, size, size] in [-1, 1] on ``device``, one per list of per-frame scenes
    (all F long) and start (x, y) in pixels; each shape moves by its scene's velocity each
    frame, wrapping around the borders."""
    def per_frame(value) -> torch.Tensor:
        return torch.tensor([[value(s) for s in clip] for clip in scenes], device=device)

    velocity = per_frame(lambda s: [d * SPEEDS[s.speed] for d in DIRECTIONS[s.direction]])      # [B, F, 2]
    moved = torch.cat([torch.zeros_like(velocity[:, :1]), velocity[:, :-1].cumsum(1)], 1)
    centre = (torch.tensor(starts, dtype=torch.float32, device=device)[:, None] + moved) % size
    mask = footprint(per_frame(lambda s: SHAPES.index(s.shape)), centre[..., 0], centre[..., 1], radius, size)
    colour = per_frame(lambda s: COLOURS[s.colour])[..., None, None]                             # [B, F, 3, 1, 1]
    frames = torch.where(mask[:, :, None], colour, background(per_frame(lambda s: s.stripes), size))
    return frames * 2 - 1


class World:
    """Clips of ``frames`` frames at ``size`` x ``size``, rendered on ``device`` (the training
    device: a GPU draws a batch at once). ``clip(i)`` -> (frames, captions)."""

    def __init__(self, seed: int = 0, frames: int = 8, size: int = 64, held_out: bool = True,
                 change_probability: float = 0.2, device: torch.device | str = "cpu"):
        self.seed, self.frames, self.size, self.device = seed, frames, size, device
        self.held_out, self.change_probability = held_out, change_probability
        self.radius = object_radius(size)

    def scene(self, rng: np.random.Generator) -> Scene:
        while True:
            colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
            if not (self.held_out and (colour, shape) in HELD_OUT):
                break
        return Scene(str(colour), str(shape), str(rng.choice(list(DIRECTIONS))),
                     str(rng.choice(list(SPEEDS))), bool(rng.random() < 0.3))

    def plan(self, index: int) -> tuple[list[Scene], tuple[float, float]]:
        """Clip ``index``'s scene per frame and its shape's start (x, y) in pixels."""
        rng = np.random.default_rng([self.seed, index])
        scene = self.scene(rng)
        scenes = [scene] * self.frames
        if rng.random() < self.change_probability:   # a colour change from frame `at` on
            at = int(rng.integers(1, self.frames))
            while True:
                changed = Scene(str(rng.choice(list(COLOURS))), scene.shape, scene.direction, scene.speed, scene.stripes)
                if changed.colour != scene.colour and not (self.held_out and (changed.colour, changed.shape) in HELD_OUT):
                    break
            scenes = scenes[:at] + [changed] * (self.frames - at)
        return scenes, tuple(float(v) for v in rng.uniform(0, self.size, size=2))

    def clip(self, index: int) -> tuple[torch.Tensor, list[str]]:
        """Frames [F, 3, H, W] and their captions."""
        clips, captions = self.batch([index])
        return clips[0], captions[0]

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, list[list[str]]]:
        """Clips [len(indices), F, 3, H, W] (on the world's device) and their per-frame captions."""
        plans = [self.plan(i) for i in indices]
        clips = render([scenes for scenes, _ in plans], [start for _, start in plans], self.size, self.radius, self.device)
        return clips, [[s.caption() for s in scenes] for scenes, _ in plans]
