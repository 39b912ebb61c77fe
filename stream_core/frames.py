"""Latent frames -> RGB images."""
from __future__ import annotations

import torch


def to_images(latents: torch.Tensor, latent: str) -> torch.Tensor:
    """Latents [n, C, H, W] -> images [n, H, W, 3] float32 in [0, 1] (ComfyUI's IMAGE layout).

    ``latent`` is the model config's latent space; "pixel" latents are RGB in [-1, 1].
    """
    if latent != "pixel":
        raise ValueError(f"no decoder for latent space {latent!r}")
    return ((latents.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().contiguous()
