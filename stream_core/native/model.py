"""The native StreamDiT model: an adaLN DiT with per-frame times, text cross-attention
and optional shifted 3D window attention.

Input latents x [Bsz, F, C, H, W], times tau [Bsz, F] (0 = noise, 1 = clean) or [Bsz]
(one time for all frames), context [Bsz, F, L, Dc] (one prompt per frame) or
[Bsz, L, Dc]; output the flow-matching velocity [Bsz, F, C, H, W].
Positions are relative to the buffer (frame 0..F-1), never absolute stream time, so
a stream can run for ever.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..engine.flow import velocity_from_clean
from .autoencoder import FACTORS, FrameAutoencoder
from .text import TextEncoder, Tokenizer
from .window_attention import window_attention


CONFIG_BOUNDS = {   # what a config may ask for: sizes of the weights and of the data it was made for
    "channels": (1, 64), "patch": (1, 32), "dim": (1, 4096), "depth": (1, 64), "heads": (1, 64),
    "mlp_ratio": (0.25, 16.0), "text_dim": (1, 4096), "text_depth": (0, 32), "text_heads": (1, 64),
    "text_length": (1, 512), "frames": (1, 1024), "height": (1, 1024), "width": (1, 1024),
    "sigma_min": (0.0, 0.5), "latent_factor": (1, 64)}
MAX_VOCAB = 100_000


@dataclass(frozen=True)
class StreamDiTConfig:
    """Everything that fixes the weights' shapes, plus the data it was made for.

    window: self-attention window in tokens (frames, rows, cols); None = full attention.
    frames, height, width: the buffer length and latent size the model was trained on.
    latent: "pixel": the latents are RGB in [-1, 1] (C = 3); "autoencoder": the model
      carries a ``FrameAutoencoder`` with C latent channels, frames are ``latent_factor``
      times the latent size.
    prediction: what the network's last layer predicts: "v" the velocity itself, or "x"
      the clean frame, turned into the velocity by ``flow.velocity_from_clean``. Large pixel
      patches need "x": a token cannot carry its patch's full noise back out, a clean frame it can.
    """

    channels: int = 3
    patch: int = 4
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    window: tuple[int, int, int] | None = None
    text_dim: int = 64
    text_depth: int = 2
    text_heads: int = 2
    text_length: int = 12
    vocab: tuple[str, ...] = ()
    frames: int = 8
    height: int = 64
    width: int = 64
    sigma_min: float = 0.0
    latent: str = "pixel"
    prediction: str = "x"
    latent_factor: int = 8

    def __post_init__(self):
        for name, (low, high) in CONFIG_BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name} must be a number from {low} to {high}, got {value!r}")
            if isinstance(low, int) and not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        if self.text_dim % self.text_heads:
            raise ValueError(f"text_dim={self.text_dim} must be divisible by text_heads={self.text_heads}")
        if len(self.vocab) > MAX_VOCAB or not all(isinstance(w, str) for w in self.vocab):
            raise ValueError(f"vocab must be at most {MAX_VOCAB} words (strings)")
        if self.window is not None:
            object.__setattr__(self, "window", tuple(int(n) for n in self.window))
            if len(self.window) != 3 or min(self.window) < 1:
                raise ValueError(f"window must be three positive sizes (frames, rows, cols), got {self.window}")
        object.__setattr__(self, "vocab", tuple(self.vocab))
        if self.dim % self.heads:
            raise ValueError(f"dim={self.dim} must be divisible by heads={self.heads}")
        if self.prediction not in ("v", "x"):
            raise ValueError(f"prediction must be 'v' or 'x', got {self.prediction!r}")
        if self.height % self.patch or self.width % self.patch:
            raise ValueError(f"height and width must be multiples of patch={self.patch}")
        if self.latent not in ("pixel", "autoencoder"):
            raise ValueError(f"latent must be 'pixel' or 'autoencoder', got {self.latent!r}")
        if self.latent_factor not in FACTORS:
            raise ValueError(f"latent_factor must be one of {FACTORS}, got {self.latent_factor}")

    @property
    def factor(self) -> int:
        """Image pixels per latent pixel along each side."""
        return self.latent_factor if self.latent == "autoencoder" else 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StreamDiTConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**d)


def sincos(position: torch.Tensor, dim: int, period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of positions [...] -> [..., dim] (dim even)."""
    freqs = torch.exp(-math.log(period) * torch.arange(dim // 2, dtype=torch.float32, device=position.device) / (dim // 2))
    angles = position.float()[..., None] * freqs
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


def position_embedding(frames: int, rows: int, cols: int, dim: int, device) -> torch.Tensor:
    """Fixed 3D embedding [F, h, w, dim]: about a third of the channels each for frame,
    row and column (an even count each); any channels left over are zero."""
    third = dim // 6 * 2
    f = sincos(torch.arange(frames, device=device), third)[:, None, None].expand(frames, rows, cols, third)
    r = sincos(torch.arange(rows, device=device), third)[None, :, None].expand(frames, rows, cols, third)
    c = sincos(torch.arange(cols, device=device), third)[None, None, :].expand(frames, rows, cols, third)
    return F.pad(torch.cat([f, r, c], dim=-1), (0, dim - 3 * third))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: x [Bsz, F, h, w, D], shift/scale [Bsz, F, D] (one per frame)."""
    return x * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


class TimeEmbedding(nn.Module):
    """tau [...] -> [..., dim]. tau in [0, 1] is scaled by 1000 before the sinusoid."""

    def __init__(self, dim: int, frequency_dim: int = 256):
        super().__init__()
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, tau: torch.Tensor) -> torch.Tensor:
        return self.mlp(sincos(tau * 1000.0, self.frequency_dim).to(self.mlp[0].weight.dtype))


class Block(nn.Module):
    """adaLN-Zero DiT block with (window) self-attention, cross-attention and an MLP."""

    def __init__(self, cfg: StreamDiTConfig, shifted: bool):
        super().__init__()
        d = cfg.dim
        self.heads, self.window, self.shifted = cfg.heads, cfg.window, shifted
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm_cross = nn.LayerNorm(d, eps=1e-6)
        self.cross = nn.MultiheadAttention(d, cfg.heads, kdim=cfg.text_dim, vdim=cfg.text_dim, batch_first=True)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: torch.Tensor, temb: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """x [Bsz, F, h, w, D], temb [Bsz, F, D], context [Bsz, F, L, Dc]."""
        b, f, h, w, d = x.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(temb).chunk(6, dim=-1)
        q, k, v = self.qkv(modulate(self.norm1(x), shift1, scale1)).chunk(3, dim=-1)
        attn = self.proj(window_attention(q, k, v, self.heads, self.window, self.shifted))
        x = x + gate1[:, :, None, None] * attn
        tokens = self.norm_cross(x).reshape(b * f, h * w, d)
        ctx = context.reshape(b * f, *context.shape[2:])
        x = x + self.cross(tokens, ctx, ctx, need_weights=False)[0].reshape(b, f, h, w, d)
        return x + gate2[:, :, None, None] * self.mlp(modulate(self.norm2(x), shift2, scale2))


class StreamDiT(nn.Module):
    """The model. ``forward(x, tau, context) -> velocity``; ``encode(prompts) -> context``."""

    def __init__(self, cfg: StreamDiTConfig):
        super().__init__()
        self.config = cfg
        p, d = cfg.patch, cfg.dim
        self.tokenizer = Tokenizer(cfg.vocab, cfg.text_length)
        self.text = TextEncoder(len(cfg.vocab), cfg.text_length, cfg.text_dim, cfg.text_depth, cfg.text_heads)
        self.patch_in = nn.Linear(cfg.channels * p * p, d)
        self.time = TimeEmbedding(d)
        self.blocks = nn.ModuleList(Block(cfg, shifted=bool(i % 2)) for i in range(cfg.depth))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.patch_out = nn.Linear(d, cfg.channels * p * p)
        for m in (self.ada_out[1], self.patch_out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
        if cfg.latent == "autoencoder":
            self.autoencoder = FrameAutoencoder(cfg.channels, factor=cfg.latent_factor).requires_grad_(False)

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Images [..., 3, H, W] in [-1, 1] -> latents [..., C, H/factor, W/factor]."""
        if self.config.latent == "pixel":
            return frames
        return self.autoencoder.encode(frames.flatten(0, -4)).unflatten(0, frames.shape[:-3])

    def decode_frames(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents [..., C, h, w] -> images [..., 3, h*factor, w*factor] in [-1, 1]."""
        if self.config.latent == "pixel":
            return latents.clamp(-1, 1)
        return self.autoencoder.decode(latents.flatten(0, -4)).unflatten(0, latents.shape[:-3])

    def encode(self, prompts: list[str]) -> torch.Tensor:
        """Prompts -> context [P, L, Dc]. Unknown words map to one 'unknown' token."""
        return self.text(self.tokenizer(prompts).to(self.patch_in.weight.device))

    def check_input(self, x: torch.Tensor, tau: torch.Tensor, context: torch.Tensor) -> None:
        cfg = self.config
        if x.ndim != 5 or x.shape[2] != cfg.channels or x.shape[3] % cfg.patch or x.shape[4] % cfg.patch:
            raise ValueError(f"latents must be [Bsz, F, {cfg.channels}, H, W] with H and W multiples of "
                             f"{cfg.patch}, got {tuple(x.shape)}")
        if tau.shape not in ((x.shape[0],), tuple(x.shape[:2])):
            raise ValueError(f"tau must be [Bsz] or [Bsz, F] = {tuple(x.shape[:2])}, got {tuple(tau.shape)}")
        if not torch.isfinite(tau).all():
            raise ValueError("tau contains NaN or Inf")
        if context.shape[-1] != cfg.text_dim or context.ndim not in (3, 4) or context.shape[0] != x.shape[0] \
                or (context.ndim == 4 and context.shape[1] != x.shape[1]):
            raise ValueError(f"context must be [Bsz, L, {cfg.text_dim}] or [Bsz, F, L, {cfg.text_dim}] "
                             f"for latents {tuple(x.shape)}, got {tuple(context.shape)}")

    def forward(self, x: torch.Tensor, tau: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        self.check_input(x, tau, context)
        b, f, c, hh, ww = x.shape
        p = self.config.patch
        h, w = hh // p, ww // p
        tokens = x.reshape(b, f, c, h, p, w, p).permute(0, 1, 3, 5, 2, 4, 6).reshape(b, f, h, w, c * p * p)
        tokens = self.patch_in(tokens) + position_embedding(f, h, w, self.config.dim, x.device).to(x.dtype)
        temb = self.time(tau.to(x.dtype))
        temb = temb[:, None].expand(b, f, -1) if tau.ndim == 1 else temb
        if context.ndim == 3:
            context = context[:, None].expand(b, f, *context.shape[1:])
        for block in self.blocks:
            tokens = block(tokens, temb, context)
        shift, scale = self.ada_out(temb).chunk(2, dim=-1)
        out = self.patch_out(modulate(self.norm_out(tokens), shift, scale))
        out = out.reshape(b, f, h, w, c, p, p).permute(0, 1, 4, 2, 5, 3, 6).reshape(b, f, c, hh, ww)
        if self.config.prediction == "v":
            return out
        tau = tau[:, None].expand(b, f) if tau.ndim == 1 else tau
        return velocity_from_clean(out, x, tau, self.config.sigma_min)
