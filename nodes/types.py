"""What travels on the pack's custom wires."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from comfy_api.latest import io

from ..stream_core.model import StreamDiT

ModelType = io.Custom("STREAMDIT_MODEL")
ScheduleType = io.Custom("STREAMDIT_SCHEDULE")
FramesType = io.Custom("STREAMDIT_FRAMES")

CATEGORY = "StreamDiT"


@dataclass(frozen=True)
class LoadedModel:
    """A loaded StreamDiT; ``key`` identifies file, version, device and dtype."""

    model: StreamDiT
    key: tuple


@dataclass(frozen=True)
class StreamFrames:
    """Finished frames of one stream: latents [n, C, H, W] on the CPU, the first one's
    index in the stream's video, and the latent space to decode them from."""

    latents: torch.Tensor
    first_index: int
    stream_id: str
    latent: str
