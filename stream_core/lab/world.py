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
           "yellow": (1.0, 0.9, 0.1), "magenta": (0.95, 0.2, 0.9), "cyan": (0.1, 0.9, 0.95)}
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "up": (0, -1), "down": (0, 1)}
SPEEDS = {"": 1.5, "quickly": 3.0}
HELD_OUT = {("green", "triangle"), ("magenta", "square")}   # never in training clips
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
    shortest way round: in [-size/2, size/2). Numbers or arrays."""
    return (offset + size / 2) % size - size / 2


def footprint(shape: str, cx: float, cy: float, r: float, size: int) -> np.ndarray:
    """Boolean [size, size] mask of the pixels a shape of radius r centred at (cx, cy) in
    pixels; the frame wraps around, so a shape over a border shows on both sides."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx, dy = wrapped(x - cx, size), wrapped(y - cy, size)
    if shape == "circle":
        return dx ** 2 + dy ** 2 <= r ** 2
    if shape == "square":
        return (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    if shape == "triangle":   # pointing up
        return (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    raise ValueError(f"unknown shape {shape!r}")


def object_radius(size: int) -> float:
    """Radius in pixels of the world's shapes in frames of ``size`` pixels."""
    return size / 8


def background(stripes: bool, size: int) -> np.ndarray:
    """[size, size, 3] in [0, 1]: dark grey, or diagonal grey stripes."""
    bg = np.full((size, size, 3), 0.12, dtype=np.float32)
    if stripes:
        y, x = np.mgrid[0:size, 0:size]
        bg[((x + y) // 6) % 2 == 0] = 0.3
    return bg


def render(scene_per_frame: list[Scene], start: tuple[float, float], size: int, radius: float) -> torch.Tensor:
    """Frames [F, 3, size, size] in [-1, 1]; the shape moves by its scene's velocity each
    frame, wrapping around the borders."""
    (x, y), frames = start, []
    for scene in scene_per_frame:
        img = background(scene.stripes, size)
        img[footprint(scene.shape, x, y, radius, size)] = COLOURS[scene.colour]
        frames.append(img)
        dx, dy = DIRECTIONS[scene.direction]
        x, y = (x + dx * SPEEDS[scene.speed]) % size, (y + dy * SPEEDS[scene.speed]) % size
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2) * 2 - 1


class World:
    """Clips of ``frames`` frames at ``size`` x ``size``. ``clip(i)`` -> (frames, captions)."""

    def __init__(self, seed: int = 0, frames: int = 8, size: int = 64, held_out: bool = True,
                 change_probability: float = 0.2):
        self.seed, self.frames, self.size = seed, frames, size
        self.held_out, self.change_probability = held_out, change_probability
        self.radius = object_radius(size)

    def scene(self, rng: np.random.Generator) -> Scene:
        while True:
            colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
            if not (self.held_out and (colour, shape) in HELD_OUT):
                break
        return Scene(str(colour), str(shape), str(rng.choice(list(DIRECTIONS))),
                     str(rng.choice(list(SPEEDS))), bool(rng.random() < 0.3))

    def clip(self, index: int) -> tuple[torch.Tensor, list[str]]:
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
        start = tuple(rng.uniform(0, self.size, size=2))
        return render(scenes, start, self.size, self.radius), [s.caption() for s in scenes]

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, list[list[str]]]:
        """Clips [len(indices), F, 3, H, W] and their per-frame captions."""
        clips = [self.clip(i) for i in indices]
        return torch.stack([c for c, _ in clips]), [caps for _, caps in clips]
