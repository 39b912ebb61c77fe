"""The pack's wires, typed with what travels on them (``io.comfytype``)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from comfy_api.latest import io

from ..stream_core.engine.frame_input import VideoInput
from ..stream_core.engine.timeline import PromptTimeline
from ..stream_core.native.model import StreamDiT

CATEGORY = "StreamDiT"
DEFAULT_FPS = 16.0   # a stream's frame rate unless its node says otherwise (Wan's own): pace, playback, recording


@dataclass(frozen=True)
class LoadedModel:
    """A loaded StreamDiT; ``key`` identifies file, version, device and dtype."""

    model: StreamDiT
    key: tuple


@dataclass(frozen=True)
class StreamFrames:
    """One run's frames of a stream: images [n, H, W, 3] float in [0, 1] on the CPU, the
    first one's index in the stream's video, the stream's frame rate, its timeline at the
    end of the run ((frame, prompt) entries, live switches included) and its recording
    (ComfyUI's {"filename", "subfolder", "type"}, or None); for a latent stream that taps them,
    the latent frames the run decoded, in the VAE's space [n, C, h, w] (or None)."""

    images: torch.Tensor
    first_index: int
    stream_id: str
    fps: float = DEFAULT_FPS
    timeline: tuple[tuple[int, str], ...] = ()
    recording: dict | None = None
    latents: torch.Tensor | None = None


@io.comfytype(io_type="STREAMDIT_MODEL")
class ModelType(io.ComfyTypeIO):
    Type = LoadedModel


@io.comfytype(io_type="STREAMDIT_SCHEDULE")
class ScheduleType(io.ComfyTypeIO):
    Type = PromptTimeline


@io.comfytype(io_type="STREAMDIT_FRAMES")
class FramesType(io.ComfyTypeIO):
    Type = StreamFrames


@io.comfytype(io_type="STREAMDIT_VIDEO_INPUT")
class VideoInputType(io.ComfyTypeIO):
    Type = VideoInput
