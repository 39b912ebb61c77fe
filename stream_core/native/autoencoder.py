"""A small per-frame convolutional autoencoder: RGB frames <-> latents ``factor``x smaller.

frames [N, 3, H, W] in [-1, 1]  <->  latents [N, C, H/f, W/f], about unit variance;
f = ``factor`` in 2, 4, 8 (one stride-2 stage each time the size halves).
The DiT then places a whole object with a few latent tokens instead of drawing its
pixels patch by patch. Trained on the synthetic world (``train_autoencoder``) with a
little Gaussian noise on the latents, so the decoder also takes slightly-off latents
(which is what diffusion samples are).
"""
from __future__ import annotations

import torch
from torch import nn

FACTORS = (2, 4, 8)
CONV_LAYOUT = torch.channels_last   # weights and activations; on a 2-core CPU 1.8x faster training steps than NCHW


def _stage(cin: int, cout: int, down: bool) -> nn.Sequential:
    conv = nn.Conv2d(cin, cout, 4, 2, 1) if down else nn.ConvTranspose2d(cin, cout, 4, 2, 1)
    return nn.Sequential(conv, nn.SiLU(), nn.Conv2d(cout, cout, 3, 1, 1), nn.SiLU())


class FrameAutoencoder(nn.Module):
    """``encode(frames) -> latents``, ``decode(latents) -> frames``; widths of the three
    stages of factor 8 (a smaller factor drops the outermost ones)."""

    def __init__(self, channels: int = 4, widths: tuple[int, int, int] = (16, 48, 96), factor: int = 8):
        super().__init__()
        if factor not in FACTORS:
            raise ValueError(f"autoencoder factor must be one of {FACTORS}, got {factor}")
        a, b, c = widths
        stages = FACTORS.index(factor) + 1
        down = [(a, a), (a, b), (b, c)][3 - stages:]
        self.factor = factor
        self.encoder = nn.Sequential(nn.Conv2d(3, down[0][0], 3, 1, 1), nn.SiLU(),
                                     *(_stage(i, o, True) for i, o in down), nn.Conv2d(c, channels, 1))
        self.decoder = nn.Sequential(nn.Conv2d(channels, c, 3, 1, 1), nn.SiLU(),
                                     *(_stage(o, i, False) for i, o in reversed(down)),
                                     nn.Conv2d(down[0][0], 3, 3, 1, 1))
        # latents = (encoder output - shift) / scale, fixed after training to unit variance
        self.register_buffer("shift", torch.zeros(channels))
        self.register_buffer("scale", torch.ones(channels))
        self.to(memory_format=CONV_LAYOUT)   # kept by load_state_dict and by .to(device)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] -> the encoder's output [N, C, H/factor, W/factor], not yet standardised."""
        return self.encoder(frames.contiguous(memory_format=CONV_LAYOUT)).contiguous()

    def reconstruct(self, features: torch.Tensor) -> torch.Tensor:
        """Encoder output [N, C, h, w] -> the decoder's frames [N, 3, factor*h, factor*w], unclamped."""
        return self.decoder(features.contiguous(memory_format=CONV_LAYOUT)).contiguous()

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] in [-1, 1] -> [N, C, H/factor, W/factor]."""
        return (self.features(frames) - self.shift[:, None, None]) / self.scale[:, None, None]

    def unstandardised(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents [N, C, h, w] -> the encoder's output scale the decoder takes (``encode``'s inverse step)."""
        return latents * self.scale[:, None, None] + self.shift[:, None, None]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """[N, C, h, w] -> [N, 3, factor*h, factor*w] in [-1, 1]."""
        return self.reconstruct(self.unstandardised(latents)).clamp(-1, 1)
