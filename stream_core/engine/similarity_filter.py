"""StreamDiffusion's stochastic similarity filter, for a buffer: when the input a stream is
about to take barely differs from the one it took last, skip the step.

A skipped shift cycle runs no model: the stream hands out its last finished chunk again as
its next ``c`` frames and moves its frame index on by ``c`` while the buffer's contents stay
as they are (``Stream.step``). A still input so gives a still output at no cost, and a stream
faster than its camera stops re-drawing frames it already holds. Frames in the buffer are
relabelled one chunk later per skip (and what the input remembers of them, ``later``), so
each output frame keeps the prompt of its own index and names the input it was drawn from.

The rule: similarity is the correlation of the two inputs (the cosine of each minus its
mean; StreamDiffusion takes the plain cosine, which a dark background pushes near 1 for any
two frames of the pack's world: 0.99 for a shape one step apart); below ``threshold``
nothing is skipped, above it a cycle is skipped with probability ``(similarity - threshold)
/ (1 - threshold)`` (1 for an identical input), and never more than ``MAX_SKIPS_IN_A_ROW``
cycles in a row, so a stream on a still input still takes a new prompt within a few chunks.
The draw for a cycle depends only on the stream's seed and frame index: the same stream
skips the same cycles, and a step undone by an error draws the same again. ``threshold`` 0
turns the filter off (StreamDiffusion's suggested value: 0.98).
"""
from __future__ import annotations

import random

import torch

MAX_SKIPS_IN_A_ROW = 4


def check_threshold(threshold) -> float:
    """``threshold`` as a float, or a ValueError saying what it must be."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold < 1.0:
        raise ValueError(f"the similarity threshold must be a number in [0, 1) (0 = off), got {threshold!r}")
    return float(threshold)


def similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    """How alike two inputs of one shape are (pixels, or latents), in [-1, 1]: the cosine of
    the two minus their means (their correlation), so a plain background does not make two
    different frames look alike; 1 for two identical inputs, flat ones included."""
    a, b = a.flatten().double(), b.flatten().double()
    if torch.equal(a, b):
        return 1.0
    a, b = a - a.mean(), b - b.mean()
    norms = float(a.norm() * b.norm())
    return 0.0 if norms == 0.0 else float(a @ b) / norms


def skip_probability(similarity: float, threshold: float) -> float:
    """0 below ``threshold`` (and for threshold 0: off), rising linearly to 1 at similarity 1."""
    if threshold <= 0.0 or similarity < threshold:
        return 0.0
    return min(1.0, (similarity - threshold) / (1.0 - threshold))


def draw(seed: int, index: int) -> float:
    """The uniform number in [0, 1) that decides the cycle whose chunk enters at frame ``index``."""
    return random.Random(f"streamdit-similarity:{seed}:{index}").random()


class SimilarityFilter:
    """One stream's filter: its threshold (settable between steps) and what it did.
    ``checked``: cycles it looked at (an input was there and the filter on); ``skipped``: of
    those, the ones skipped."""

    def __init__(self, threshold: float = 0.0):
        self.threshold = threshold
        self.checked = self.skipped = 0
        self.in_a_row = 0

    @property
    def threshold(self) -> float:
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = check_threshold(value)

    def decide(self, similarity: float | None, seed: int, index: int) -> bool:
        """Whether to skip the cycle whose chunk enters at stream frame ``index``, given how alike
        its input is to the last that entered (None: no input to compare). Counts nothing:
        ``record`` does, once the cycle is done."""
        if similarity is None or self.in_a_row >= MAX_SKIPS_IN_A_ROW:
            return False
        return draw(seed, index) < skip_probability(similarity, self.threshold)

    def record(self, looked: bool, skipped: bool) -> None:
        """A step is done: whether the filter looked at an input, and whether it skipped."""
        self.checked += looked
        self.skipped += skipped
        self.in_a_row = self.in_a_row + 1 if skipped else 0

    def report(self) -> dict:
        return {"threshold": self.threshold, "checked": self.checked, "skipped": self.skipped}
