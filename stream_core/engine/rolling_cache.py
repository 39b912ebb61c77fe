"""The context a causal model keeps of the frames that left the buffer: a rolling KV cache.

A causal video model (Self-Forcing, Causal Forcing, LongLive, Rolling Forcing) attends from the
frames it is denoising to the keys and values of the clean frames before them. An endless stream
cannot keep them all: the cache holds the first ``sink`` frames for good (the attention sink,
which steadies a long stream) and the last ``window`` frames before the buffer, so its memory
stays constant however long the stream runs.

Positions: the keys are stored rotated (RoPE) at the position they were written at. The cache
counts its frames from 0 without gaps: when a chunk drops out of the middle, the chunks after it
move down (``reposition`` rotates their keys), so the frames being denoised always sit right
after the cache, at most ``sink + window`` frames in, within the positions the model was trained on.
A cache that has dropped nothing holds every frame at its own index, exactly as a fixed-length
causal sampler's would.

A ``RollingCache`` writes into no tensor: it only ever replaces its list of chunks, so
``checkpoint()`` is a copy of that list (a failed step puts it back; ``rollback.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class CachedChunk:
    """One remembered chunk of ``frames`` latent frames: its clean ``latents`` [Bsz, n, C, H, W]
    (to write it again under another prompt), and per model layer its ``keys`` and ``values``
    [Bsz, tokens, heads, head_dim], the keys rotated to ``position`` (its first frame's)."""

    latents: torch.Tensor
    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]
    position: int

    @property
    def frames(self) -> int:
        return self.latents.shape[1]

    @property
    def nbytes(self) -> int:
        return self.latents.nbytes + sum(t.nbytes for t in (*self.keys, *self.values))


Reposition = Callable[[CachedChunk, int], CachedChunk]
"""``reposition(chunk, position)``: the chunk with its keys rotated to start at ``position``."""


class RollingCache:
    """The chunks a causal stream remembers, oldest first: the first chunks up to ``sink`` frames,
    and the newest up to ``window`` frames (whole chunks: a chunk is kept or dropped as one)."""

    def __init__(self, sink: int, window: int, reposition: Reposition):
        if sink < 0 or window < 1:
            raise ValueError(f"a rolling cache keeps sink >= 0 and window >= 1 frames, got sink={sink}, "
                             f"window={window}")
        self.sink, self.window, self._reposition = sink, window, reposition
        self.chunks: list[CachedChunk] = []
        self._sunk = 0            # how many of ``chunks`` (from the first) are the sink
        self.dropped = 0          # frames dropped so far

    @property
    def frames(self) -> int:
        """Frames held: the position of the next frame written."""
        return sum(chunk.frames for chunk in self.chunks)

    @property
    def nbytes(self) -> int:
        return sum(chunk.nbytes for chunk in self.chunks)

    def add(self, chunk: CachedChunk) -> None:
        """Remember ``chunk`` (written at position ``self.frames``); drop the oldest chunks past the
        sink that no longer fit the window, and move the ones after them down."""
        if chunk.position != self.frames:
            raise ValueError(f"a chunk joins the cache at position {self.frames}, got {chunk.position}")
        chunks = [*self.chunks, chunk]
        sunk = self._sunk
        if sunk == len(self.chunks) and sum(c.frames for c in chunks[:sunk]) < self.sink:
            sunk += 1                                       # the sink fills first
        recent = chunks[sunk:]
        while len(recent) > 1 and sum(c.frames for c in recent) > self.window:
            self.dropped += recent.pop(0).frames
        at, kept = 0, []
        for c in chunks[:sunk] + recent:
            kept.append(c if c.position == at else self._reposition(c, at))
            at += c.frames
        self.chunks, self._sunk = kept, sunk

    def replace(self, chunks: list[CachedChunk]) -> None:
        """Every chunk written again (under a new prompt), in the same places."""
        if [(c.position, c.frames) for c in chunks] != [(c.position, c.frames) for c in self.chunks]:
            raise ValueError("a re-written cache keeps its chunks' places")
        self.chunks = list(chunks)

    def layer(self, index: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The keys and the values of every chunk held at model layer ``index``, oldest first
        (each [Bsz, tokens, heads, head_dim]); two empty lists when nothing is held."""
        return [c.keys[index] for c in self.chunks], [c.values[index] for c in self.chunks]

    def checkpoint(self) -> Callable[[], None]:
        """The cache as it is now; the returned undo puts it back (a failed step)."""
        chunks, sunk, dropped = self.chunks, self._sunk, self.dropped

        def undo() -> None:
            self.chunks, self._sunk, self.dropped = chunks, sunk, dropped
        return undo
