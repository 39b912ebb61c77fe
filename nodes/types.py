"""What travels on the pack's custom wires."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from comfy_api.latest import io

from ..stream_core.model import StreamDiT

ModelType = io.Custom("STREAMDIT_MODEL")
ScheduleType = io.Custom("STREAMDIT_SCHEDULE")
FramesType = io.Custom("STREAMDIT_FRAMES")
ConditioningScheduleType = io.Custom("STREAMDIT_CONDITIONING_SCHEDULE")

CATEGORY = "StreamDiT"


@dataclass(frozen=True)
class LoadedModel:
    """A loaded StreamDiT; ``key`` identifies file, version, device and dtype."""

    model: StreamDiT
    key: tuple


@dataclass(frozen=True)
class StreamFrames:
    """Finished frames of one stream: images [n, H, W, 3] float in [0, 1] on the CPU,
    and the first one's index in the stream's video."""

    images: torch.Tensor
    first_index: int
    stream_id: str
