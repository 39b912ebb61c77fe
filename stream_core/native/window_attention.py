"""Shifted 3D window attention over tokens [Bsz, F, h, w, D] (Swin-style, cyclic, masked).

Windows are non-overlapping blocks of ``[Fw, Hw, Ww]`` tokens. In a shifted layer the
token grid is rolled by half a window first, and a mask keeps tokens that the roll
brought together from opposite borders from attending to each other. A window that
covers a whole axis is clamped to it and never shifted on it, so a window covering
everything is exactly full attention.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def window_plan(grid: tuple[int, int, int], window: tuple[int, int, int] | None,
                shifted: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Window size and shift per axis for a token grid (F, h, w); errors name the axis."""
    if window is None:
        return tuple(grid), (0, 0, 0)
    sizes, shifts = [], []
    for axis, n, win in zip(("frames", "rows", "cols"), grid, window):
        win = min(win, n)
        if n % win:
            raise ValueError(f"window attention: {n} token {axis} is not a multiple of the window size {win}")
        sizes.append(win)
        shifts.append(win // 2 if shifted and win < n else 0)
    return tuple(sizes), tuple(shifts)


def _region_ids(n: int, win: int, shift: int) -> torch.Tensor:
    ids = torch.zeros(n, dtype=torch.long)
    if shift:
        ids[n - win:n - shift] = 1
        ids[n - shift:] = 2
    return ids


def to_windows(x: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """[Bsz, F, h, w, D] -> [Bsz * nW, Fw*Hw*Ww, D]."""
    b, f, h, w, d = x.shape
    fw, hw, ww = sizes
    x = x.view(b, f // fw, fw, h // hw, hw, w // ww, ww, d).permute(0, 1, 3, 5, 2, 4, 6, 7)
    return x.reshape(-1, fw * hw * ww, d)


def from_windows(x: torch.Tensor, grid: tuple[int, int, int], sizes: tuple[int, ...], batch: int) -> torch.Tensor:
    """Inverse of ``to_windows``."""
    f, h, w = grid
    fw, hw, ww = sizes
    x = x.view(batch, f // fw, h // hw, w // ww, fw, hw, ww, -1).permute(0, 1, 4, 2, 5, 3, 6, 7)
    return x.reshape(batch, f, h, w, -1)


def shift_mask(grid: tuple[int, int, int], sizes: tuple[int, ...], shifts: tuple[int, ...],
               device: torch.device) -> torch.Tensor | None:
    """Boolean mask [nW, n, n] (True = may attend) for a shifted layer; None when unshifted."""
    if not any(shifts):
        return None
    f, h, w = grid
    rf, rh, rw = (_region_ids(n, win, s) for n, win, s in zip(grid, sizes, shifts))
    region = (rf[:, None, None] * 9 + rh[None, :, None] * 3 + rw[None, None, :]).to(device)
    region = to_windows(region[None, ..., None], sizes)[..., 0]          # [nW, n]
    return region[:, :, None] == region[:, None, :]


def window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                     window: tuple[int, int, int] | None, shifted: bool) -> torch.Tensor:
    """Self-attention of q, k, v [Bsz, F, h, w, D] inside (shifted) windows -> [Bsz, F, h, w, D]."""
    b, *grid, d = q.shape
    grid = tuple(grid)
    sizes, shifts = window_plan(grid, window, shifted)
    roll = tuple(-s for s in shifts)
    if any(shifts):
        q, k, v = (t.roll(roll, dims=(1, 2, 3)) for t in (q, k, v))
    mask = shift_mask(grid, sizes, shifts, q.device)
    qw, kw, vw = (to_windows(t, sizes) for t in (q, k, v))            # [Bsz*nW, n, D]
    n = qw.shape[1]
    qw, kw, vw = (t.view(t.shape[0], n, heads, d // heads).transpose(1, 2) for t in (qw, kw, vw))
    if mask is not None:
        mask = mask[None].expand(b, -1, -1, -1).reshape(-1, 1, n, n)
    out = F.scaled_dot_product_attention(qw, kw, vw, attn_mask=mask)
    out = from_windows(out.transpose(1, 2).reshape(-1, n, d), grid, sizes, b)
    if any(shifts):
        out = out.roll(shifts, dims=(1, 2, 3))
    return out
