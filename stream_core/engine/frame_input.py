"""Input frames for video-to-video: SDEdit into the moving buffer.

A stream with a ``FrameInput`` gives the frames in its buffer an input to follow. A frame
takes its input when the buffer's schedule brings it to the level its ``strength`` sets,
``tau = 1 - strength`` (1 = pure noise = text-to-video, 0 = the input unchanged): at the start
of the shift cycle in which the frame's chunk reaches that level (``entry_chunk``), the frame
is replaced by its input latent noised to exactly that level with the frame's own starting
noise, and it is denoised from there under the prompt like any other frame. The first step
from an off-grid level is the shorter one up to the next grid time (``waiting_at_floor``), so
the strength is continuous, not a choice of the grid's levels.

Before that the frame is made by the prompt alone, as context for the frames around it: the
input is taken as late as it can be, so a camera frame reaches the output after the steps
from its level on only (not the whole buffer's). The start-up buffer is one uniform
generation, so its frames take their input at the start and wait at its level. A strength
raised mid-stream moves the entry to a noisier chunk: the frames already past it keep the
prompt's alone.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Callable, Protocol

import torch

from .flow import noisy
from .similarity_filter import similarity


class FrameInput(Protocol):
    """What a stream asks its input for."""

    strength: float   # 1 = noise (text-to-video), 0 = the input unchanged
    live: bool        # fed as it streams (a camera): while it is on, a node's video waits

    def latents(self, index: int, count: int) -> torch.Tensor | None:
        """Input latents [Bsz, count, C, H, W] for stream frames ``index .. index+count-1``,
        or None: those frames start from noise alone (text-to-video)."""

    def similarity(self, index: int, count: int) -> float | None:
        """How alike the newest input frame for stream frames ``index .. index+count-1`` is to the
        input before it (``similarity_filter.similarity``), without taking it; None when there
        is nothing to compare."""

    def later(self, index: int, count: int) -> None:
        """The stream skipped a step: its frames from ``index`` on come out ``count`` stream
        frames later than they entered (what the input remembers of them moves with them)."""


DEFAULT_STRENGTH = 0.6
"""Where a video input and the camera start (the Video Input node, a camera message without one,
the shipped video-to-video workflows): the video-to-video student keeps the input's path and
takes the prompt's colour there. The panel's slider and the viewer page start there too
(``web/live/panel.js``, ``web/view.html``: the same number)."""

VIDEO_GUIDANCE = 1.0
"""The guidance of the shipped video-to-video workflows: with the embedded student at
``DEFAULT_STRENGTH`` the prompt's colour holds and the input's path is kept with one model pass a
step (``bench/video_to_video.py`` measures it against guidance 2, which the students before the
ten-colour one needed for the colour)."""


def check_strength(strength) -> float:
    """``strength`` as a float, or a ValueError saying what it must be."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
    return float(strength)


def resized(images: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Images [F, H, W, 3] at width x height (area-averaged when they differ)."""
    if images.shape[1:3] == (height, width):
        return images
    frames = torch.nn.functional.interpolate(images.movedim(-1, 1).float(), (height, width), mode="area")
    return frames.movedim(1, -1)


def entry_level(strength: float) -> float:
    """The time ``tau`` an input frame of ``strength`` enters at: ``1 - strength``."""
    return 1.0 - strength


def entry_chunk(chunk_tau: list[float], level: float) -> int:
    """The chunk (0 = cleanest) whose frames take their input at the start of a shift cycle,
    given each chunk's time then (``Stream.chunk_tau``, cleanest first, decreasing): the
    cleanest one not yet past ``level``. That chunk's cycle takes it across ``level``."""
    return next((i for i, tau in enumerate(chunk_tau) if tau <= level), len(chunk_tau) - 1)


def entering(noise: torch.Tensor, latents: torch.Tensor | None, level: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames taking their input, [Bsz, n, C, H, W], from their starting noise of that shape,
    and the time each waits at until the buffer's schedule reaches it (float64 [n]): the
    noise itself at 0 without input, else the input noised to ``level``."""
    n = noise.shape[1]
    if latents is None:
        return noise, torch.zeros(n, dtype=torch.float64)
    if latents.shape != noise.shape:
        raise ValueError(f"input latents must have shape {tuple(noise.shape)}, got {tuple(latents.shape)}")
    at = torch.full((n,), level, dtype=torch.float64)
    return noisy(latents.to(noise), noise, at), at


def waiting_at_floor(tau: torch.Tensor, dtau: torch.Tensor, floor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame times and steps [B] of a buffer whose frames wait at ``floor`` [B]: a frame
    is evaluated at ``max(tau, floor)`` and moves only where ``tau + dtau`` passes its floor."""
    floor = floor.to(tau)
    start = torch.maximum(tau, floor)
    return start, torch.maximum(tau + dtau, floor) - start


class LatentClip:
    """A ``FrameInput`` over a finite latent video [Bsz, F, C, H, W] played in order from
    stream frame ``start`` on, one input frame per stream frame (a file, not a camera:
    nothing is dropped). Frames past its end start from noise alone, and ``used`` counts
    the input frames taken, so the next run can go on from there."""

    live = False

    def __init__(self, latents: torch.Tensor, strength: float, start: int = 0, key: tuple = ()):
        if latents.ndim != 5 or latents.shape[1] < 1:
            raise ValueError(f"input latents must be [Bsz, F, C, H, W] with F >= 1, got {tuple(latents.shape)}")
        self.clip, self.strength, self.start, self.key = latents, check_strength(strength), start, key
        self.used = 0

    @property
    def frames(self) -> int:
        return self.clip.shape[1]

    def latents(self, index: int, count: int) -> torch.Tensor | None:
        first = index - self.start
        if first < 0 or first >= self.frames:
            return None
        taken = self.clip[:, first:first + count]
        self.used = max(self.used, first + taken.shape[1])
        missing = count - taken.shape[1]   # the clip ends inside this chunk: its last frame holds
        return torch.cat([taken, taken[:, -1:].expand(-1, missing, *taken.shape[2:])], dim=1) if missing else taken

    def later(self, index: int, count: int) -> None:
        pass   # a file's frames are remembered by nothing but their index

    def similarity(self, index: int, count: int) -> float | None:
        first = index - self.start
        if first < 1 or first >= self.frames:
            return None
        return similarity(self.clip[:, min(first + count, self.frames) - 1], self.clip[:, first - 1])


@dataclass(frozen=True, eq=False)
class VideoInput:
    """A video a stream node is given as its input: images [F, H, W, 3] in [0, 1] (ComfyUI's
    IMAGE layout) and the strength they enter with."""

    images: torch.Tensor
    strength: float

    def __post_init__(self):
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.shape[0] < 1:
            raise ValueError(f"input video must be images [F, H, W, 3] with F >= 1, got {tuple(self.images.shape)}")
        check_strength(self.strength)

    @functools.cached_property
    def key(self) -> tuple:
        """What tells this video from another between runs: its shape, dtype and a hash of its
        pixels, read in place (no copy; a CPU video) and worked out once per video."""
        pixels = self.images.detach().cpu().contiguous()
        digest = hashlib.blake2b(digest_size=16)
        digest.update(pixels.view(torch.uint8).reshape(-1).numpy())
        return tuple(pixels.shape), str(pixels.dtype), digest.hexdigest()


def play(stream, video: VideoInput | None, encode: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Make ``video`` the input of ``stream`` (``Stream.frame_input``); None makes it
    text-to-video again. The same video as the run before goes on where it left off, with
    this run's strength; a new one starts with the next frame that takes an input
    (``Stream.next_entry``). A live input (the panel's camera) stays the input while it is
    on: the node's video waits.
    ``encode(images [F, H, W, 3]) -> latents [Bsz, F, C, h, w]``."""
    current = stream.frame_input
    if current is not None and current.live:
        return
    if video is None:
        stream.frame_input = None
    elif isinstance(current, LatentClip) and current.key == video.key:
        current.strength = video.strength
    else:
        start = stream.next_entry(video.strength)
        stream.frame_input = LatentClip(encode(video.images), video.strength, start, video.key)
