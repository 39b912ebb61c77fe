"""Latent frames -> RGB images."""
from __future__ import annotations

import torch

from .model import StreamDiT


@torch.inference_mode()
def to_images(model: StreamDiT, latents: torch.Tensor) -> torch.Tensor:
    """Latents [n, C, h, w] of ``model`` -> images [n, H, W, 3] float32 in [0, 1] (ComfyUI's
    IMAGE layout), through the model's autoencoder when it has one."""
    frames = model.decode_frames(latents.to(next(model.parameters()).dtype))
    return ((frames.float() + 1) / 2).permute(0, 2, 3, 1).cpu().contiguous()
