"""Live input for video-to-video: frames that arrive at their own rate (a camera), taken by
the stream at its own.

The queue policy (StreamDiffusion's input queue, for a buffer that takes a chunk of ``c``
frames at a time): the frames arrive from another thread into a short queue; a chunk of
stream frames starting in the stream needs ``n`` input frames (one per output frame it
becomes: ``c`` for the native model, ``4c`` for Wan's latents), takes the newest ``n`` that
arrived since the last chunk, in the order they arrived, and the older ones are dropped
(counted). When fewer than ``n`` arrived, the newest frame seen is held (repeated, counted)
for the rest, so the stream never waits for its input; before the first frame arrives,
frames start from noise alone (text-to-video). Each output frame remembers the arrival time
and the sender's stamp of the input it took, so it can report the input-to-output latency.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from typing import Callable

import torch

from .frame_input import check_strength
from .rollback import Undo, checkpoint
from .similarity_filter import similarity

Encoder = Callable[[torch.Tensor], torch.Tensor]
"""images [F, H, W, 3] float in [0, 1], F = the output frames of n stream frames -> latents
[Bsz, n, C, h, w]; called with the frames in stream order, each once (it may keep state)."""

QUEUE_FRAMES = 64      # frames waiting at most; past it the oldest are dropped
STAMPS_KEPT = 4096     # stream frames whose input stamps are remembered until their output leaves


def unit(images: torch.Tensor) -> torch.Tensor:
    """Images (uint8, or float in [0, 1]) as float in [0, 1]."""
    return images.float() / 255 if images.dtype == torch.uint8 else images


class LiveFrames:
    """A ``frame_input.FrameInput`` fed from another thread (``push``) and read by the stream
    (``latents``). ``output_frame`` maps a stream frame to its first output frame: stream
    frame i takes ``output_frame(i + 1) - output_frame(i)`` input frames, and ``left`` counts
    output frames. ``strength`` may change with every pushed frame."""

    live = True

    def __init__(self, encode: Encoder, strength: float, output_frame: Callable[[int], int] = lambda index: index):
        self.encode, self.output_frame = encode, output_frame
        self.strength = check_strength(strength)
        self._waiting: deque[tuple[torch.Tensor, float, float]] = deque()   # (image, arrival, stamp)
        self._last: tuple[torch.Tensor, float, float] | None = None
        self._stamps: OrderedDict[int, tuple[float, float]] = OrderedDict()   # output frame -> (arrival, stamp)
        self._lock = threading.Lock()
        self.received = self.used = self.dropped = self.repeated = 0
        self.latency: float | None = None   # seconds from the newest output frame's input arriving to it leaving

    @property
    def nbytes(self) -> int:
        """Memory the waiting frames hold."""
        with self._lock:
            return sum(image.nbytes for image, _, _ in self._waiting)

    def push(self, image: torch.Tensor, strength: float, stamp: float = 0.0) -> None:
        """A frame arrived: ``image`` [H, W, 3] (uint8, or float in [0, 1]), ``stamp`` the sender's
        time for it (echoed back)."""
        strength = check_strength(strength)
        with self._lock:
            self.strength = strength
            self._waiting.append((image, time.monotonic(), float(stamp)))
            self.received += 1
            if len(self._waiting) > QUEUE_FRAMES:
                self._waiting.popleft()
                self.dropped += 1

    def latents(self, index: int, count: int) -> torch.Tensor | None:
        """Latents of the frames stream frames ``index..index+count-1`` start from, by the
        policy above; None before any frame arrived."""
        first = self.output_frame(index)
        needed = self.output_frame(index + count) - first
        with self._lock:
            fresh = list(self._waiting)[-needed:]
            self.dropped += len(self._waiting) - len(fresh)
            self._waiting.clear()
            if not fresh and self._last is None:
                return None
            taken = fresh + [fresh[-1] if fresh else self._last] * (needed - len(fresh))
            self.used += len(fresh)
            self.repeated += needed - len(fresh)
            self._last = taken[-1]
            for k, (_, arrival, stamp) in enumerate(taken):
                self._stamps[first + k] = (arrival, stamp)
            while len(self._stamps) > STAMPS_KEPT:
                self._stamps.popitem(last=False)
        return self.encode(unit(torch.stack([image for image, _, _ in taken])))

    def checkpoint(self) -> Undo:
        """The queue as it is now, for a step that may fail after taking from it: the undo puts
        the frames it took back in front of those that arrived since (the queue's bound still
        holds), with the counts, the held frame, the stamps and the encoder's state as they were."""
        with self._lock:
            waiting, last, stamps = list(self._waiting), self._last, OrderedDict(self._stamps)
            received, used, dropped, repeated = self.received, self.used, self.dropped, self.repeated
        undo_encoder = checkpoint(self.encode)

        def undo() -> None:
            undo_encoder()
            with self._lock:
                arrived = min(self.received - received, len(self._waiting))
                queue = waiting + (list(self._waiting)[-arrived:] if arrived else [])
                self._waiting = deque(queue[-QUEUE_FRAMES:])
                self._last, self._stamps = last, stamps
                self.used, self.repeated = used, repeated
                self.dropped = dropped + max(0, len(queue) - QUEUE_FRAMES)
        return undo

    def similarity(self, index: int, count: int) -> float | None:
        """The newest frame waiting against the newest frame taken (1 when none is waiting: the
        held frame would repeat); None before any frame was taken."""
        with self._lock:
            if self._last is None:
                return None
            if not self._waiting:
                return 1.0
            newest, last = self._waiting[-1][0], self._last[0]
        return similarity(unit(newest), unit(last))

    def later(self, index: int, count: int) -> None:
        """Stream frames from ``index`` on come out ``count`` stream frames later (a skipped step):
        their inputs' arrivals and stamps move with them."""
        first, shift = self.output_frame(index), self.output_frame(index + count) - self.output_frame(index)
        with self._lock:
            self._stamps = OrderedDict((frame + shift if frame >= first else frame, entry)
                                       for frame, entry in self._stamps.items())

    def left(self, output_index: int) -> float | None:
        """Output frame ``output_index`` is leaving now: the stamp of the input it took (None when
        it took none), and ``latency`` updated."""
        with self._lock:
            entry = self._stamps.pop(output_index, None)
        if entry is None:
            return None
        self.latency = time.monotonic() - entry[0]
        return entry[1]

    def report(self) -> dict:
        """What the panel shows of the input."""
        return {"strength": self.strength, "received": self.received, "used": self.used, "dropped": self.dropped,
                "repeated": self.repeated, "latency": None if self.latency is None else round(self.latency, 3)}

