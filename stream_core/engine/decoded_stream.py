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
    def frames_taken(self) -> int:
        """Images handed out by ``take`` (index of the next image ``take`` returns)."""
        return self.images_out - self.ready

    def take(self, frames: int, progress: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
        """Advance until ``frames`` more images are decoded: [frames, H, W, 3].

        ``progress(ready, images)`` runs after every micro-step with the images it
        decoded [m, H, W, 3] (m may be 0); it may raise to stop early, and images
        decoded before that come first from the next call.
        """
        if frames < 0:
            raise StreamError(f"cannot take a negative number of frames ({frames})")
        while self.ready < frames:
            finished = self.stream.step()[0]
            images = self.decode(finished) if len(finished) else torch.empty(0, 0, 0, 3)
            if len(images):
                self._pending.append(images)
                self.images_out += len(images)
            if progress is not None:
                progress(min(self.ready, frames), images)
        pending = torch.cat(self._pending) if self._pending else torch.empty(0)
        out, rest = pending[:frames], pending[frames:]
        self._pending = [rest.clone()] if len(rest) else []
        return out
