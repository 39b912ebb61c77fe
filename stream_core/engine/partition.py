"""The buffer partition of StreamDiT: K reference frames, N chunks of c frames, s micro-steps.

Time convention (everywhere in this pack): flow-matching time ``tau`` in [0, 1],
0 = pure noise, 1 = clean. Buffer position 0 is the oldest (cleanest) frame; the
last position is the newest (noisiest). Positions ``0..K-1`` hold the reference
frames; chunk ``i`` (0 = cleanest) holds positions ``K + i*c .. K + (i+1)*c - 1``.

A frame enters at the noisy end at ``grid[0]`` (= 0), spends ``s`` micro-steps in
each of the ``N`` chunk positions and leaves at ``grid[T]`` (= 1), so it takes each
of the ``T = s*N`` steps of the time grid exactly once.

This class is the one owner of that rule: the stream, its warm-up, training,
distillation and the evaluator's chunk boundaries all ask it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .time_grid import tau_grid


class PartitionError(ValueError):
    """A partition that breaks one of the rules; the message names the rule."""


@dataclass(frozen=True)
class Partition:
    """(K, N, c, s): reference frames, chunks, frames per chunk, micro-steps per chunk."""

    K: int = 0
    N: int = 4
    c: int = 2
    s: int = 4

    def __post_init__(self):
        for name, lowest in (("K", 0), ("N", 1), ("c", 1), ("s", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise PartitionError(f"{name} must be an integer, got {value!r}")
            if value < lowest:
                rule = {"K": "K (reference frames) must be >= 0",
                        "N": "N (chunks) must be >= 1",
                        "c": "c (frames per chunk) must be >= 1",
                        "s": "s (micro-steps per chunk) must be >= 1"}[name]
                raise PartitionError(f"{rule}, got {name}={value}")

    @classmethod
    def uniform(cls, frames: int, steps: int) -> "Partition":
        """One chunk holding the whole clip: ordinary text-to-video sampling."""
        return cls(K=0, N=1, c=frames, s=steps)

    @classmethod
    def diagonal(cls, frames: int) -> "Partition":
        """FIFO-Diffusion: one frame per chunk, one step per shift."""
        return cls(K=0, N=frames, c=1, s=1)

    @staticmethod
    def fits(frames: int, K: int, c: int) -> bool:
        """Whether chunks of c frames fill a buffer of ``frames`` frames less K references."""
        return c >= 1 and frames - K >= c and (frames - K) % c == 0

    @classmethod
    def filling(cls, frames: int, K: int = 0, c: int = 1, s: int = 1) -> "Partition":
        """The partition of a buffer of ``frames`` frames into K references and chunks of c."""
        if not cls.fits(frames, K, c):
            raise PartitionError(f"chunk sizes must divide the buffer of {frames} frames less the K = {K} "
                                 f"reference frames, got c = {c}")
        return cls(K=K, N=(frames - K) // c, c=c, s=s)

    @property
    def B(self) -> int:
        """Frames in the buffer, B = K + N*c."""
        return self.K + self.N * self.c

    @property
    def T(self) -> int:
        """Denoising steps each frame sees, T = s*N."""
        return self.s * self.N

    def level(self, i: int | torch.Tensor) -> int | torch.Tensor:
        """Grid index at which chunk i (0 = cleanest) starts its ``s`` micro-steps: ``(N-1-i)*s``."""
        return (self.N - 1 - i) * self.s

    def step_index(self, micro: int) -> torch.Tensor:
        """Grid index of every buffer position at micro-step ``micro`` (0..s-1): long [B].

        Reference frames sit at index T (clean); chunk i at ``level(i) + micro``.
        """
        if not 0 <= micro < self.s:
            raise PartitionError(f"micro-step must lie in 0..s-1 = 0..{self.s - 1}, got {micro}")
        chunk = torch.arange(self.N).repeat_interleave(self.c)
        return torch.cat([torch.full((self.K,), self.T, dtype=torch.long), self.level(chunk) + micro])

    def warmup_captures(self) -> dict[int, int]:
        """Start-up from one uniform generation: {grid index: chunk}, chunk i is taken from
        the uniform trajectory when it reaches ``level(i)``, the time it needs in the buffer."""
        return {self.level(i): i for i in range(self.N)}

    def segments(self, grid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Each position's span of time in the buffer: start and length, two float64 [B].

        Chunk i spans ``grid[level(i)]`` to ``grid[level(i) + s]`` (on the uniform grid,
        ``(N-1-i)/N`` to ``(N-i)/N``); references start clean (1) and do not move (0).
        Training draws chunk times from these strata; distillation learns each as one step.
        """
        grid = tau_grid(self.T) if grid is None else grid.to(torch.float64)
        chunk = torch.arange(self.N).repeat_interleave(self.c)
        start, end = grid[self.level(chunk)], grid[self.level(chunk) + self.s]
        return (torch.cat([torch.ones(self.K, dtype=torch.float64), start]),
                torch.cat([torch.zeros(self.K, dtype=torch.float64), end - start]))

    def output_chunk(self, frame: int) -> int:
        """Which chunk output frame ``frame`` of a stream left the buffer with, counting the
        chunks as they leave: -1 for the K references a stream generates first, then
        ``(frame - K) // c``. Two frames in a row with different values meet at a chunk seam."""
        return -1 if frame < self.K else (frame - self.K) // self.c

    def times(self, micro: int, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame ``tau`` and step size ``dtau`` at micro-step ``micro``: two [B] tensors.

        ``grid`` is the increasing time grid [T+1] from 0 to 1. References get dtau = 0.
        """
        if grid.shape != (self.T + 1,):
            raise PartitionError(f"time grid must have T+1 = {self.T + 1} entries, got shape {tuple(grid.shape)}")
        index = self.step_index(micro).to(grid.device)
        tau = grid[index]
        dtau = grid[(index + 1).clamp(max=self.T)] - tau
        return tau, dtau

    def chunk_slice(self, i: int) -> slice:
        """Buffer positions of chunk i (0 = cleanest)."""
        return slice(self.K + i * self.c, self.K + (i + 1) * self.c)
