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

Layout: per model layer, one contiguous key and one value tensor holds every chunk in order and,
after them, room for the tokens of one model call (which the model writes there, as into
ComfyUI's own KV cache), so a call hands the model the cache as it is, copying nothing; the
chunks are views into it. Only a change of the cache (a chunk added, the cache written again)
builds new tensors, once per chunk; nothing held is ever written in place, so ``checkpoint()``
keeps the current tensors and list, and a failed step puts them back (``rollback.py``).
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
        self.chunks: list[CachedChunk] = []     # views into ``_layers``
        self._layers: list[tuple[torch.Tensor, torch.Tensor]] = []   # per layer: keys, values (chunks, then room)
        self._room = 0            # tokens after the chunks in ``_layers``
        self._sunk = 0            # how many of ``chunks`` (from the first) are the sink
        self.dropped = 0          # frames dropped so far

    @property
    def frames(self) -> int:
        """Frames held: the position of the next frame written."""
        return sum(chunk.frames for chunk in self.chunks)

    @property
    def tokens(self) -> int:
        """Tokens held per layer."""
        return sum(chunk.keys[0].shape[1] for chunk in self.chunks)

    @property
    def nbytes(self) -> int:
        """The tensors held: the layers' keys and values (room included) and the chunks' latents."""
        return sum(k.nbytes + v.nbytes for k, v in self._layers) + sum(c.latents.nbytes for c in self.chunks)

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
        self._build(kept, self._room)
        self._sunk = sunk

    def replace(self, chunks: list[CachedChunk]) -> None:
        """Every chunk written again (under a new prompt), in the same places."""
        if [(c.position, c.frames) for c in chunks] != [(c.position, c.frames) for c in self.chunks]:
            raise ValueError("a re-written cache keeps its chunks' places")
        self._build(chunks, self._room)

    def layer(self, index: int, room: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Model layer ``index``'s keys and values, [Bsz, tokens + at least ``room``, heads, head_dim]:
        every chunk's tokens in order (``self.tokens`` of them), then room the caller may write
        into. Raises when nothing is held (the caller makes its own room)."""
        if not self.chunks:
            raise ValueError("the cache holds nothing")
        if room > self._room:
            self._build(self.chunks, room)
        return self._layers[index]

    def _build(self, chunks: list[CachedChunk], room: int) -> None:
        """New layer tensors holding ``chunks`` and ``room`` tokens after them; the chunks become views."""
        layers = []
        for index in range(len(chunks[0].keys) if chunks else 0):
            pair = []
            for held in ([c.keys[index] for c in chunks], [c.values[index] for c in chunks]):
                pair.append(torch.cat([*held, held[0].new_empty(held[0].shape[0], room, *held[0].shape[2:])], dim=1))
            layers.append((pair[0], pair[1]))
        at, viewed = 0, []
        for c in chunks:
            n = c.keys[0].shape[1]
            viewed.append(CachedChunk(c.latents, tuple(k[:, at:at + n] for k, _ in layers),
                                      tuple(v[:, at:at + n] for _, v in layers), c.position))
            at += n
        self.chunks, self._layers, self._room = viewed, layers, room

    def checkpoint(self) -> Callable[[], None]:
        """The cache as it is now; the returned undo puts it back (a failed step)."""
        kept = (self.chunks, self._layers, self._room, self._sunk, self.dropped)

        def undo() -> None:
            self.chunks, self._layers, self._room, self._sunk, self.dropped = kept
        return undo
