"""A stream whose finished latent frames are decoded into images as they come out.

Decoders may keep state across calls (a causal video VAE's feature cache): each
finished latent frame reaches ``decode`` exactly once, in stream order, so a stream
decoded piece by piece shows no seams.
"""
from __future__ import annotations

from typing import Callable

import torch

from .stream import Stream, StreamError

Decoder = Callable[[torch.Tensor], torch.Tensor]
"""latents [n, C, H, W] of batch item 0 -> images [m, H, W, 3] float in [0, 1] (m may differ from n)."""


def no_images() -> torch.Tensor:
    """What a decoder gives for no images: [0, 0, 0, 3]."""
    return torch.empty(0, 0, 0, 3)


class DecodedStream:
    """Images of batch item 0 of ``stream``; ``take`` counts images, not latent frames."""

    def __init__(self, stream: Stream, decode: Decoder):
        self.stream = stream
        self.decode = decode
        self._pending: list[torch.Tensor] = []   # decoded, not yet taken: [m, H, W, 3] each
        self.images_out = 0                      # images decoded so far

    @property
    def ready(self) -> int:
        """Images decoded but not yet taken."""
        return sum(len(images) for images in self._pending)

    @property
    def nbytes(self) -> int:
        """Memory held between calls: the stream's, and images decoded but not yet taken."""
        return self.stream.nbytes + sum(images.nbytes for images in self._pending)

    @property
    def frames_taken(self) -> int:
        """Images handed out by ``take`` (index of the next image ``take`` returns)."""
        return self.images_out - self.ready

    def deliver(self, frames: int, sink: Callable[[torch.Tensor], None]) -> None:
        """Hand the next ``frames`` images to ``sink`` in order, piece by piece as micro-steps
        decode them: ``sink(images [m, H, W, 3])``, called after every micro-step (m may be 0).
        Images a micro-step decodes beyond ``frames`` wait and come first in the next call.
        ``sink`` may raise to stop early; the images it was handed count as taken.
        """
        if frames < 0:
            raise StreamError(f"cannot take a negative number of frames ({frames})")
        while frames > 0:
            if not self._pending:
                finished = self.stream.step()[0]
                images = self.decode(finished) if len(finished) else no_images()
                if len(images):
                    self._pending.append(images)
                    self.images_out += len(images)
            piece = torch.cat(self._pending) if self._pending else no_images()
            piece, rest = piece[:frames], piece[frames:]
            self._pending = [rest.clone()] if len(rest) else []
            frames -= len(piece)
            sink(piece)

    def take(self, frames: int, progress: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
        """Advance until ``frames`` more images are decoded: [frames, H, W, 3].

        ``progress(ready, images)`` runs after every micro-step with the images it
        decoded [m, H, W, 3] (m may be 0); it may raise to stop early, and images
        decoded before that come first from the next call.
        """
        pieces: list[torch.Tensor] = []

        def collect(images: torch.Tensor) -> None:
            if len(images):
                pieces.append(images)
            if progress is not None:
                progress(sum(len(p) for p in pieces), images)

        try:
            self.deliver(frames, collect)
        except BaseException:
            self._pending = pieces + self._pending   # not taken after all
            raise
        return torch.cat(pieces) if pieces else torch.empty(0)
