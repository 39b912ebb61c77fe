"""Native streams: the session factory that turns a Stream node's inputs into a live session."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..engine.decoded_stream import DecodedStream
from ..engine.frame_input import resized
from ..engine.guidance import GUIDANCE_UNTIL
from ..engine.partition import Partition
from ..engine.session import Session, StreamSettings
from ..engine.stream import Stream
from ..engine.timeline import PromptTimeline
from .conditioning import TextVelocity
from .images import to_images
from .model import StreamDiT


MAX_ATTENTION_BYTES = 512 * 2**20   # one self-attention's scores over the buffer, guided (two passes)


def max_tokens(model: StreamDiT) -> int:
    """The most tokens a buffer may hold: its attention scores (tokens² per head, float32, twice
    for guidance) stay within ``MAX_ATTENTION_BYTES``; 4096 for 4 heads, a pass of about a
    second on a 2-core CPU, so Cancel acts within about a second."""
    return math.isqrt(MAX_ATTENTION_BYTES // (model.config.heads * 4 * 2))


def frame_shape(model: StreamDiT, width: int, height: int, frames: int = 1) -> tuple[int, int, int]:
    """(C, h, w) of one latent frame for an output of width x height pixels, in a buffer of
    ``frames`` frames that must fit ``max_tokens``."""
    cfg = model.config
    step = cfg.patch * cfg.factor
    if width % step or height % step:
        raise ValueError(f"width and height must be multiples of {step} for this model, got {width}x{height}")
    tokens = frames * (width // step) * (height // step)
    if tokens > max_tokens(model):
        raise ValueError(f"a buffer of {frames} frames of {width}x{height} is {tokens} tokens; this model takes at most "
                         f"{max_tokens(model)} ({cfg.width * cfg.factor}x{cfg.height * cfg.factor} frames, "
                         f"{cfg.frames} in the buffer, are what it was trained on): make the frames smaller or the "
                         "buffer (K + N*c) shorter")
    return cfg.channels, height // cfg.factor, width // cfg.factor


def trained_notes(model: StreamDiT, width: int, height: int, partition: Partition) -> tuple[str, ...]:
    """Warnings where a stream leaves what the model was trained on: its buffer (K + N*c frames)
    and its frame size. They stream, but worse."""
    cfg, notes = model.config, []
    if partition.B != cfg.frames:
        notes.append(f"this model was trained on a buffer of {cfg.frames} frames; K + N*c = {partition.B} may stream "
                     f"worse (e.g. K=0 N={cfg.frames // 2} c=2, or K=2 N={(cfg.frames - 2) // 2} c=2)")
    trained = (cfg.width * cfg.factor, cfg.height * cfg.factor)
    if (width, height) != trained:
        notes.append(f"this model was trained on {trained[0]}x{trained[1]} frames; {width}x{height} may stream worse")
    return tuple(notes)


@dataclass(frozen=True, kw_only=True)
class NativeStreamFactory(StreamSettings):
    """A ``session.SessionFactory`` for the pack's own StreamDiT.

    ``model_key`` identifies the loaded file (a new file starts a new stream); the stream
    runs on the model's device and dtype and decodes through its autoencoder.
    """

    model: StreamDiT
    model_key: tuple
    schedule: PromptTimeline
    seed: int
    width: int
    height: int
    partition: Partition
    guidance: float = 1.0
    guidance_until: float = GUIDANCE_UNTIL
    shape: tuple[int, int, int] = field(init=False)   # (C, h, w) of a latent frame
    notes: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "shape", frame_shape(self.model, self.width, self.height, self.partition.B))
        object.__setattr__(self, "notes", trained_notes(self.model, self.width, self.height, self.partition))

    @property
    def key(self) -> tuple:
        return self.model_key, self.seed, self.shape, self.partition

    def create(self) -> Session:
        source = TextVelocity(self.model, self.schedule, self.guidance, self.guidance_until)
        weights = next(self.model.parameters())
        stream = Stream(source, self.partition, self.shape, seed=self.seed, device=weights.device, dtype=weights.dtype)
        return Session(DecodedStream(stream, lambda latents: to_images(self.model, latents)), source, self.key,
                       self.schedule, camera_encoder=lambda: self.encode, input_size=(self.width, self.height))

    @property
    def followed(self) -> PromptTimeline:
        return self.schedule

    def tune(self, source: TextVelocity) -> None:
        source.guidance, source.guidance_until = self.guidance, self.guidance_until

    @torch.inference_mode()
    def encode(self, images: torch.Tensor, piece: int = 64) -> torch.Tensor:
        """Input images [F, H, W, 3] in [0, 1] -> latents [1, F, C, h, w] of this stream's
        frames, resized to width x height first when they differ."""
        weights = next(self.model.parameters())
        latents = []
        for part in images.split(piece):
            frames = resized(part.to(weights.device, torch.float32), self.width, self.height).permute(0, 3, 1, 2)
            latents.append(self.model.encode_frames((frames * 2 - 1).to(weights.dtype)))
        return torch.cat(latents)[None]
