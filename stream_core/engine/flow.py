"""The flow-matching parametrisation, with per-frame times (``tau``: 0 = noise, 1 = clean).

``x_tau = tau * x1 + (1 - (1 - sigma_min) * tau) * x0`` and the target velocity
``x1 - (1 - sigma_min) * x0``; ``x1`` is data, ``x0`` Gaussian noise, both
[Bsz, F, C, H, W]; ``tau`` is [Bsz, F] (one time per frame) or [F] (shared by the batch).
ComfyUI and Wan count the noise level ``sigma = 1 - tau`` instead (1 = noise).
"""
from __future__ import annotations

import torch

X_PREDICTION_MIN_A = 0.05   # the x-prediction divides by the noise coefficient, kept at least this


def per_frame(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-frame value t, [F] (shared by the batch) or [Bsz, F], shaped to broadcast over
    ``like`` [Bsz, F, ...] (and moved to its device, cast to its dtype)."""
    frames = (1, -1) if t.ndim == 1 else tuple(t.shape)
    return t.to(like.device, like.dtype).reshape(*frames, *([1] * (like.ndim - 2)))


def noisy(x1: torch.Tensor, x0: torch.Tensor, tau: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """The point at time ``tau`` on the straight path from noise ``x0`` to data ``x1``."""
    t = per_frame(tau, x1)
    return t * x1 + (1 - (1 - sigma_min) * t) * x0


def target_velocity(x1: torch.Tensor, x0: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """d x_tau / d tau, the regression target."""
    return x1 - (1 - sigma_min) * x0


def velocity_from_clean(x1: torch.Tensor, x: torch.Tensor, tau: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """The velocity that leads from ``x`` at time ``tau`` to the predicted clean frame ``x1``:
    ``(x1 - (1 - sigma_min) x) / a`` with ``a = 1 - (1 - sigma_min) tau`` kept >= ``X_PREDICTION_MIN_A``."""
    keep = 1 - sigma_min
    a = (1 - keep * per_frame(tau, x)).clamp(min=X_PREDICTION_MIN_A)
    return (x1 - keep * x) / a


def clean_from_velocity(v: torch.Tensor, x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """The clean frame ``x1 = x + (1 - tau) v`` a velocity ``v`` at ``x``, time ``tau``, points to
    (``sigma_min`` = 0, the stream's path); the inverse of ``velocity_from_clean`` there."""
    return x + v * per_frame(1 - tau, x)


def sigma_of(tau: torch.Tensor) -> torch.Tensor:
    """The noise level ``sigma = 1 - tau`` (1 = noise) of engine times ``tau``."""
    return 1.0 - tau


def tau_of(sigma: torch.Tensor) -> torch.Tensor:
    """Engine times ``tau = 1 - sigma`` (0 = noise) of noise levels ``sigma``."""
    return 1.0 - sigma
