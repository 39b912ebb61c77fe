"""Flow matching with per-frame times (``tau``: 0 = noise, 1 = clean).

``x_tau = tau * x1 + (1 - (1 - sigma_min) * tau) * x0`` and the target velocity
``x1 - (1 - sigma_min) * x0``; ``x1`` is data, ``x0`` Gaussian noise, both
[Bsz, F, C, H, W]; ``tau`` is [Bsz, F] (one time per frame).
"""
from __future__ import annotations

import torch


def _per_frame(tau: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return tau.to(like.dtype).reshape(*tau.shape, *([1] * (like.ndim - tau.ndim)))


def noisy(x1: torch.Tensor, x0: torch.Tensor, tau: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """The point at time ``tau`` on the straight path from noise ``x0`` to data ``x1``."""
    t = _per_frame(tau, x1)
    return t * x1 + (1 - (1 - sigma_min) * t) * x0


def target_velocity(x1: torch.Tensor, x0: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """d x_tau / d tau, the regression target."""
    return x1 - (1 - sigma_min) * x0
