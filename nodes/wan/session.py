"""Wan streams: the session factory that turns a Wan Stream node's inputs into a live session."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from comfy.model_patcher import ModelPatcher
from comfy.sd import VAE

from ...stream_core.engine.decode_ahead import DecodeAhead
from ...stream_core.engine.decoded_stream import DecodedStream, no_images
from ...stream_core.engine.frame_input import VideoInput, play, resized
from ...stream_core.engine.partition import Partition
from ...stream_core.engine.rollback import checkpoint
from ...stream_core.engine.integrator import Integrator, euler
from ...stream_core.engine.session import Session, StreamSettings
from ...stream_core.engine.stream import Stream
from .decode import WanStreamDecoder
from .encode import FRAMES_PER_LATENT, WanStreamEncoder
from .previews import LatentRGBDecoder, load_tiny_decoder, tiny_decoder_files, vae_tiny_decoder
from .source import (EXPERT_BOUNDARY, ConditioningSchedule, WanModelError, WanVelocity, check_experts, cross_attn,
                     experts_loaded, model_latents, model_tau_grid, vae_latents)

PATCH = 2             # Wan's spatial patch size on latents
ENCODE_LATENTS = 8    # latents encoded at once when a video input is encoded (its memory)


def full_schedule(positive, schedule: ConditioningSchedule | None) -> ConditioningSchedule:
    """The schedule with ``positive`` from frame 0, unless the schedule has its own frame-0 entry."""
    embedding = cross_attn(positive)
    if schedule is None:
        return ConditioningSchedule.single("positive", embedding)
    if any(frame == 0 for frame, _ in schedule.timeline.entries):
        return schedule
    return schedule.with_entry(0, "positive", embedding, schedule.timeline.transition)


DECODERS = ("vae", "latent rgb")   # and the tiny decoders' files in vae_approx


class LatentTap:
    """The VAE-space latent frames a stream decoded since they were last taken, [n, C, h, w]
    (for the Wan stream's LATENT output); at most ``limit`` are kept, the newest."""

    def __init__(self, limit: int = 1024):
        self.limit, self.pieces = limit, []

    def add(self, latents: torch.Tensor) -> torch.Tensor:
        self.pieces.append(latents.detach().cpu())
        while sum(len(p) for p in self.pieces) > self.limit and len(self.pieces) > 1:
            self.pieces.pop(0)
        return latents

    def take(self) -> torch.Tensor | None:
        pieces, self.pieces = self.pieces, []
        return torch.cat(pieces) if pieces else None

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.pieces)


def stream_decoder(choice: str, model: ModelPatcher, vae: VAE, tap: LatentTap, ahead: bool = False):
    """(decode, parts): the stream's decode function, model-space latents [n, C, h, w] -> images
    [m, H, W, 3], by ``choice`` ("vae": the VAE input, exact, or that VAE's tiny decoder where it is
    a TAEHV that ComfyUI's VAELoader loaded; "latent rgb"; a tiny decoder's file in vae_approx), and what it holds between calls (the decoder, and the decode under way: their
    memory counts toward the session's, and they close with it). ``ahead``: decode on a worker
    thread while the next step denoises (``DecodeAhead``; a step's images come with the next
    step's). The latents of every image decoded also go, in the VAE's space, to ``tap``."""
    if choice == "latent rgb":                  # the RGB factors read the model's own latent space
        decoder = LatentRGBDecoder(model.model.latent_format, vae.spacial_compression_decode())
    elif choice == "vae":
        decoder = vae_tiny_decoder(vae, model.load_device) or WanStreamDecoder(vae)
    elif choice in tiny_decoder_files():
        decoder = load_tiny_decoder(choice, model.load_device)
        if decoder.latent_channels != model.model.latent_format.latent_channels:
            raise WanModelError(f"the tiny decoder {choice} takes {decoder.latent_channels} latent channels, the model "
                                f"makes {model.model.latent_format.latent_channels}: use taew2_1 for Wan 2.1 and 2.2 "
                                "A14B, taew2_2 for Wan 2.2 5B")
    else:
        raise WanModelError(f"unknown decoder {choice!r}: choose vae, latent rgb or a tiny decoder from models/vae_approx")

    def decode_now(latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        in_vae_space = vae_latents(model, latents)
        return in_vae_space, decoder(latents if choice == "latent rgb" else in_vae_space)

    run = DecodeAhead(decode_now) if ahead else decode_now

    def decode(latents: torch.Tensor) -> torch.Tensor:
        done = run(latents)
        if done is None:            # decoding ahead: the first step's images come with the next step
            return no_images()
        tap.add(done[0])
        return done[1]

    return decode, {**({"decoding": run} if ahead else {}), "decoder": decoder}   # the worker closes first


def latent_shape(model: ModelPatcher, vae: VAE, width: int, height: int) -> tuple[int, int, int]:
    """(C, h, w) of one latent frame of ``model`` for video frames of width x height pixels."""
    base = model.model
    if getattr(vae, "latent_channels", None) != base.latent_format.latent_channels:
        raise WanModelError(f"the VAE has {getattr(vae, 'latent_channels', '?')} latent channels and the model "
                            f"{base.latent_format.latent_channels}: use the VAE that belongs to the model "
                            "(wan_2.1_vae for Wan 2.1 and 2.2 A14B, wan2.2_vae for 2.2 5B)")
    factor = vae.spacial_compression_decode()
    if width % (factor * PATCH) or height % (factor * PATCH):
        raise ValueError(f"width and height must be multiples of {factor * PATCH} for this model and VAE, "
                         f"got {width}x{height}")
    return base.latent_format.latent_channels, height // factor, width // factor


@dataclass(frozen=True, eq=False, kw_only=True)
class WanSettings(StreamSettings):
    """What the factories of every Wan kind share: a stock ComfyUI ``model`` and ``vae``, the
    ``positive`` CONDITIONING and later ones (``schedule``), the size, the partition (in latent
    frames), the model's sigma schedule, the decoder, and the encoding of a video input. A kind
    adds its ``experts`` (checked on construction), ``key``, ``batch``, ``create`` and ``tune``."""

    model: ModelPatcher
    positive: list
    vae: VAE
    seed: int
    width: int
    height: int
    partition: Partition
    scheduler: str
    schedule: ConditioningSchedule | None = None
    decoder: str = "vae"
    overlap_decode: bool = False      # decode on a worker thread while the next step denoises
    notes: tuple[str, ...] = ()
    shape: tuple[int, int, int] = field(init=False)          # (C, h, w) of a latent frame
    wanted: ConditioningSchedule = field(init=False)         # the positive, then the schedule

    def __post_init__(self):
        super().__post_init__()
        self.check_models()
        object.__setattr__(self, "shape", latent_shape(self.model, self.vae, self.width, self.height))
        object.__setattr__(self, "wanted", full_schedule(self.positive, self.schedule))

    def check_models(self) -> None:
        """A ``WanModelError`` when a model is not of this kind."""
        raise NotImplementedError

    @property
    def experts(self) -> list[ModelPatcher]:
        """The diffusion models a step calls."""
        return [self.model]

    @property
    def batch(self) -> list[int]:
        """The latents' shape in one model call: [passes, C, F, h, w]."""
        raise NotImplementedError

    def models_loaded(self):
        """``experts_loaded`` for a run of this stream: the experts, and the VAE when the run uses it
        (the full decode, or a video input to encode), its decode alongside the model when it overlaps."""
        uses_vae = self.decoder == "vae" or self.video is not None
        return experts_loaded(self.experts, self.batch, self.vae if uses_vae else None,
                              self.overlap_decode and self.decoder == "vae")

    def session(self, source, integrator: Integrator = euler) -> Session:
        """A new session of ``source`` over this stream's buffer, decoded as this factory says."""
        tap = LatentTap()
        decode, parts = stream_decoder(self.decoder, self.model, self.vae, tap, self.overlap_decode)
        stream = Stream(source, self.partition, self.shape, seed=self.seed, integrator=integrator,
                        grid=model_tau_grid(self.model, self.scheduler, self.partition.T), device=self.model.load_device)
        session = Session(DecodedStream(stream, decode), source, self.key, self.wanted,
                          camera_encoder=lambda: WanVideoEncoder(self), input_size=(self.width, self.height))
        session.attachments.update(parts, latents=tap)   # their state counts toward the session's memory
        return session

    @property
    def followed(self) -> ConditioningSchedule:
        return self.wanted

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Input video frames [F, H, W, 3] in [0, 1] -> latents [1, 1 + (F-1)//4, C, h, w] in the
        model's space, one per stream frame (the first is one video frame, each later one 4;
        frames past the last whole latent are left out), encoded ``ENCODE_LATENTS`` at a time."""
        frames = images[:1 + (len(images) - 1) // FRAMES_PER_LATENT * FRAMES_PER_LATENT]
        encoder = WanVideoEncoder(self)
        cut = [0, 1 + FRAMES_PER_LATENT * (ENCODE_LATENTS - 1)]
        while cut[-1] < len(frames):
            cut.append(cut[-1] + FRAMES_PER_LATENT * ENCODE_LATENTS)
        return torch.cat([encoder(frames[a:b]) for a, b in zip(cut, cut[1:])], dim=1)


@dataclass(frozen=True, eq=False, kw_only=True)
class WanStreamFactory(WanSettings):
    """A ``session.SessionFactory`` for stock Wan 2.1 / 2.2 text-to-video models.

    ``model`` (and ``model_low_noise``, Wan 2.2 A14B's second expert) and ``vae`` are stock
    ComfyUI objects; ``positive`` / ``negative`` stock CONDITIONING; ``schedule`` later
    conditionings. The partition counts latent frames.
    """

    negative: list
    guidance: float
    model_low_noise: ModelPatcher | None = None
    boundary: float = EXPERT_BOUNDARY

    def check_models(self) -> None:
        check_experts(self.model, self.model_low_noise)

    @property
    def experts(self) -> list[ModelPatcher]:
        return [self.model] if self.model_low_noise is None else [self.model, self.model_low_noise]

    @property
    def key(self) -> tuple:
        return (tuple(map(id, self.experts)), self.boundary, id(self.vae), self.seed, self.shape, self.partition,
                self.scheduler, self.decoder, self.overlap_decode)

    @property
    def batch(self) -> list[int]:
        passes = len(self.wanted.embeddings) + (self.guidance != 1.0)
        return [passes, self.shape[0], self.partition.B, *self.shape[1:]]

    def create(self) -> Session:
        return self.session(WanVelocity(self.model, self.wanted, cross_attn(self.negative), self.guidance,
                                        self.model_low_noise, self.boundary))

    def tune(self, source: WanVelocity) -> None:
        source.negative, source.guidance = cross_attn(self.negative), self.guidance


class WanVideoEncoder:
    """Video frames into a Wan stream's latents, piece by piece (a ``live_input.Encoder``): the
    frames of n stream frames (4 each; 1 + 4(n-1) for the first piece of a video that starts
    with the stream) -> latents [1, n, C, h, w] in the model's space, resized to the stream's
    size first, through one causal encoder for the whole video. A video that starts
    mid-stream (a camera turned on) starts the encoder on its first frame twice and drops the
    latent of the first copy, so every call takes whole latents."""

    def __init__(self, factory: WanSettings):
        self.factory, self.encoder = factory, None

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        f = self.factory
        frames = resized(images, f.width, f.height)
        drop = 0
        if self.encoder is None:
            self.encoder = WanStreamEncoder(f.vae)
            if len(frames) % FRAMES_PER_LATENT == 0:
                frames, drop = torch.cat([frames[:1], frames]), 1
        return model_latents(f.model, self.encoder(frames)[drop:])[None]

    def checkpoint(self) -> Callable[[], None]:
        """The encoder as it is now (none yet, or its feature cache): the undo of a failed step."""
        encoder = self.encoder
        undo_cache = checkpoint(encoder)

        def undo() -> None:
            self.encoder = encoder
            undo_cache()
        return undo
