"""Wan stream node: the StreamDiT buffer driven by a stock Wan 2.1 / 2.2 MODEL, with
stock CONDITIONING and VAE, decoded as it streams."""
from __future__ import annotations

import comfy.model_management
import comfy.samplers
from comfy_api.latest import io

from ..stream_core.decoded import DecodedStream
from ..stream_core.partition import Partition
from ..stream_core.stream import Stream
from .inputs import StreamNode, frames_input, partition_inputs, size_inputs, stream_inputs
from .registry import Session
from .run import advance, open_session
from .types import CATEGORY, ConditioningScheduleType, FramesType
from .wan import (ConditioningSchedule, WanModelError, WanVelocity, check_model, cross_attn, output_frame, tau_grid,
                  vae_latents)
from .wan_decode import WanStreamDecoder

PATCH = 2   # Wan's spatial patch size on latents


def full_schedule(positive, schedule: ConditioningSchedule | None) -> ConditioningSchedule:
    """The schedule with ``positive`` from frame 0, unless the schedule has its own frame-0 entry."""
    embedding = cross_attn(positive)
    if schedule is None:
        return ConditioningSchedule.single("positive", embedding)
    if any(frame == 0 for frame, _ in schedule.timeline.entries):
        return schedule
    return schedule.with_entry(0, "positive", embedding, schedule.timeline.transition)


class StreamDiTWanStream(StreamNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StreamDiTWanStream",
            display_name="StreamDiT Wan Stream",
            category=CATEGORY,
            description="Streams a stock Wan 2.1 / 2.2 text-to-video model (2.2 A14B: both experts), training-free: "
                        "a buffer of latent frames at rising noise levels, decoded by the Wan VAE as frames leave it "
                        "(no seams). Each run advances the stream by 'frames' video frames; queue again to continue.",
            inputs=[
                io.Model.Input("model", tooltip="A Wan 2.1 / 2.2 text-to-video model from the stock loaders."),
                io.Conditioning.Input("positive", tooltip="What to show (from frame 0)."),
                io.Conditioning.Input("negative", tooltip="What to avoid (used when guidance is not 1)."),
                io.Vae.Input("vae", tooltip="The model's Wan VAE."),
                *stream_inputs(),
                *size_inputs(832, 480, 16),
                *partition_inputs(K=0, N=5, c=2, s=4, unit="latents"),
                io.Combo.Input("scheduler", options=comfy.samplers.SCHEDULER_NAMES, default="simple",
                               tooltip="The model's sigma schedule (with its shift) that the N*s steps follow."),
                io.Float.Input("guidance", default=5.0, min=0.0, max=30.0, step=0.1,
                               tooltip="Classifier-free guidance (cfg); 1 = skip it (one model pass per step)."),
                frames_input(81),
                ConditioningScheduleType.Input("schedule", optional=True,
                                               tooltip="Later prompts, from StreamDiT Conditioning Schedule nodes."),
                io.Model.Input("model_low_noise", optional=True,
                               tooltip="Wan 2.2 A14B: the low-noise expert ('model' is then the high-noise one)."),
                io.Float.Input("boundary", default=0.875, min=0.0, max=1.0, step=0.005, optional=True,
                               tooltip="With model_low_noise: frames below this sigma use the low-noise expert "
                                       "(0.875 for Wan 2.2 T2V)."),
            ],
            outputs=[FramesType.Output(display_name="frames")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, model, positive, negative, vae, stream_id, action, seed, width, height, K, N, c, s,
                scheduler, guidance, frames, schedule=None, model_low_noise=None, boundary=0.875) -> io.NodeOutput:
        experts = [model] if model_low_noise is None else [model, model_low_noise]
        for expert in experts:
            check_model(expert)
        base = model.model
        if getattr(vae, "latent_channels", None) != base.latent_format.latent_channels:
            raise WanModelError(f"the VAE has {getattr(vae, 'latent_channels', '?')} latent channels and the model "
                                f"{base.latent_format.latent_channels}: use the VAE that belongs to the model "
                                "(wan_2.1_vae for Wan 2.1 and 2.2 A14B, wan2.2_vae for 2.2 5B)")
        stride = vae.spacial_compression_decode() * PATCH
        if width % stride or height % stride:
            raise ValueError(f"width and height must be multiples of {stride} for this model and VAE, "
                             f"got {width}x{height}")
        shape = (base.latent_format.latent_channels, height // (stride // PATCH), width // (stride // PATCH))
        partition = Partition(K, N, c, s)
        node_id = cls.hidden.unique_id if cls.hidden is not None else None
        wanted = full_schedule(positive, schedule)

        def start() -> Session:
            velocity = WanVelocity(model, wanted, cross_attn(negative), guidance, model_low_noise, boundary)
            decoder = WanStreamDecoder(vae)
            stream = Stream(velocity, partition, shape, seed=seed, grid=tau_grid(model, scheduler, partition.T),
                            device=model.load_device)
            return Session(DecodedStream(stream, lambda latents: decoder(vae_latents(model, latents))), velocity,
                           key, wanted.signature(), output_frame)

        key = (tuple(map(id, experts)), boundary, id(vae), seed, shape, partition, scheduler)
        session = open_session(stream_id, action, key, start)
        with session.lock:
            if wanted.signature() != session.schedule:   # the user edited the conditionings
                session.velocity.schedule, session.schedule = wanted, wanted.signature()
            session.velocity.negative = cross_attn(negative)
            session.velocity.guidance = guidance
            passes = len(wanted.embeddings) + (guidance != 1.0)
            batch = [passes, shape[0], partition.B, *shape[1:]]
            comfy.model_management.load_models_gpu(
                experts, memory_required=max(e.model.memory_required(batch) for e in experts))
            for expert in experts:
                expert.pre_run()
            try:
                return io.NodeOutput(advance(session, stream_id, frames, node_id))
            finally:
                for expert in experts:
                    expert.cleanup()
