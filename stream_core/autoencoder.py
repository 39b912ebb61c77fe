"""A small per-frame convolutional autoencoder: RGB frames <-> latents 8x smaller.

frames [N, 3, H, W] in [-1, 1]  <->  latents [N, C, H/8, W/8], about unit variance.
The DiT then places a whole object with a few latent tokens instead of drawing its
pixels patch by patch. Trained on the synthetic world (``train_autoencoder``) with a
little Gaussian noise on the latents, so the decoder also takes slightly-off latents
(which is what diffusion samples are).
"""
from __future__ import annotations

import torch
from torch import nn

FACTOR = 8   # three stride-2 stages


def _stage(cin: int, cout: int, down: bool) -> nn.Sequential:
    conv = nn.Conv2d(cin, cout, 4, 2, 1) if down else nn.ConvTranspose2d(cin, cout, 4, 2, 1)
    return nn.Sequential(conv, nn.SiLU(), nn.Conv2d(cout, cout, 3, 1, 1), nn.SiLU())


class FrameAutoencoder(nn.Module):
    """``encode(frames) -> latents``, ``decode(latents) -> frames``; widths per stage."""

    def __init__(self, channels: int = 4, widths: tuple[int, int, int] = (16, 48, 96)):
        super().__init__()
        a, b, c = widths
        self.encoder = nn.Sequential(nn.Conv2d(3, a, 3, 1, 1), nn.SiLU(), _stage(a, a, True), _stage(a, b, True),
                                     _stage(b, c, True), nn.Conv2d(c, channels, 1))
        self.decoder = nn.Sequential(nn.Conv2d(channels, c, 3, 1, 1), nn.SiLU(), _stage(c, b, False),
                                     _stage(b, a, False), _stage(a, a, False), nn.Conv2d(a, 3, 3, 1, 1))
        # latents = (encoder output - shift) / scale, fixed after training to unit variance
        self.register_buffer("shift", torch.zeros(channels))
        self.register_buffer("scale", torch.ones(channels))

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] in [-1, 1] -> [N, C, H/8, W/8]."""
        z = self.encoder(frames)
        return (z - self.shift[:, None, None]) / self.scale[:, None, None]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """[N, C, h, w] -> [N, 3, 8h, 8w] in [-1, 1]."""
        z = latents * self.scale[:, None, None] + self.shift[:, None, None]
        return self.decoder(z).clamp(-1, 1)
