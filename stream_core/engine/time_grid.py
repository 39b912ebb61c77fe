"""Time grids for flow matching: increasing ``tau`` from 0 (noise) to 1 (clean)."""
from __future__ import annotations

import torch

from .flow import sigma_of, tau_of


def tau_grid(steps: int, shift: float = 1.0) -> torch.Tensor:
    """Increasing time grid [steps+1] in float64, ``grid[0] = 0``, ``grid[-1] = 1``.

    ``shift > 1`` spends more steps near noise (the SD3/Wan timestep shift on
    ``sigma = 1 - tau``: ``sigma' = shift*sigma / (1 + (shift-1)*sigma)``).
    """
    if steps < 1:
        raise ValueError(f"a time grid needs at least 1 step, got {steps}")
    if not shift > 0:
        raise ValueError(f"shift must be > 0, got {shift}")
    return shift_tau(torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64), shift)


def shift_tau(tau: torch.Tensor, shift: float) -> torch.Tensor:
    """Times moved toward noise for ``shift > 1`` (monotone, 0 and 1 fixed): the shift
    ``sigma' = shift*sigma / (1 + (shift-1)*sigma)`` on ``sigma = 1 - tau``."""
    sigma = sigma_of(tau)
    return tau_of(shift * sigma / (1.0 + (shift - 1.0) * sigma))
