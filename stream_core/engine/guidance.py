"""Classifier-free guidance with one scale per frame, and the interval it applies in.

Velocities are [Bsz, F, C, H, W]; times ``tau`` 0 = noise, 1 = clean.
"""
from __future__ import annotations

import torch

from .flow import per_frame

GUIDANCE_UNTIL = 0.75   # default tau from which guidance stops: the cleanest chunk of an N = 4 buffer


def guide(v_cond: torch.Tensor, v_uncond: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    """Classifier-free guidance: ``v_uncond + scale * (v_cond - v_uncond)``, with v [Bsz, F, ...]
    and one scale, or one per frame: [F] or [Bsz, F] (``guidance_scales``)."""
    if torch.is_tensor(scale):
        scale = per_frame(scale, v_cond)
    return v_uncond + scale * (v_cond - v_uncond)


def guidance_scales(tau: torch.Tensor, scale: float, until: float) -> torch.Tensor:
    """Per-frame guidance scale, same shape as ``tau``: ``scale`` while ``tau < until``, 1 (the
    conditional velocity alone) from ``until`` on. Guiding a chunk that is nearly clean
    exaggerates the motion between its own frames, so each chunk jumps back at the next
    one's start; guidance is for the noisy times, where colour and direction are decided.
    ``until = 1`` guides everywhere."""
    return torch.where(tau < until, torch.full_like(tau, scale), torch.ones_like(tau))
