"""Causal Wan stream node: the StreamDiT buffer as the window of a causal (autoregressive) Wan
model (Self-Forcing, Causal Forcing, LongLive, Rolling Forcing), with stock CONDITIONING and VAE."""
from __future__ import annotations

import comfy.samplers
from comfy.model_patcher import ModelPatcher
from comfy.sd import VAE
from comfy_api.latest import io

from ...stream_core.engine.frame_input import VideoInput
from ...stream_core.engine.partition import Partition
from ..inputs import StreamNode, frames_input, partition_inputs, size_inputs, stream_inputs
from ..run.queued_run import RunOptions
from ..types import CATEGORY, DEFAULT_FPS
from ..validation import checked
from .causal_session import SAMPLERS, CausalWanStreamFactory
from .causal_source import SINK_FRAMES, WINDOW_FRAMES
from .schedule_node import ConditioningScheduleType
from .source import ConditioningSchedule
from .stream_node import delivery_inputs, run_wan, wan_outputs


class StreamDiTCausalWanStream(StreamNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StreamDiTCausalWanStream",
            display_name="StreamDiT Causal Wan Stream",
            category=CATEGORY,
            description="Streams a causal (autoregressive) Wan 2.1 model: Self-Forcing, Causal Forcing, LongLive, "
                        "Rolling Forcing (ComfyUI 0.33 or newer). Its window holds N chunks of c latent frames at "
                        "rising noise levels (N = 1: block by block, as these models are sampled; N > 1: Rolling "
                        "Forcing's joint window); what leaves it is kept in the model's KV cache (a few sink frames "
                        "and the last ones), so the stream runs endlessly in constant memory.",
            inputs=[
                io.Model.Input("model", tooltip="A causal Wan 2.1 text-to-video model from the stock loader (a "
                                                "checkpoint converted for ComfyUI, which it opens as CausalWanModel)."),
                io.Conditioning.Input("positive", tooltip="What to show (from frame 0)."),
                io.Vae.Input("vae", tooltip="The model's Wan VAE."),
                *stream_inputs(),
                *size_inputs(832, 480, 16),
                *partition_inputs(K=None, N=1, c=3, s=4, unit="latents"),
                io.Combo.Input("scheduler", options=comfy.samplers.SCHEDULER_NAMES, default="simple",
                               tooltip="The model's sigma schedule (with its shift) that the N*s steps follow."),
                io.Combo.Input("sampler", options=list(SAMPLERS), default=SAMPLERS[0],
                               tooltip="renoise: predict the clean frames and noise them again to the next level, "
                                       "as few-step causal models are distilled and ComfyUI's ar_video samples; "
                                       "euler: the flow's Euler step."),
                io.Int.Input("sink", display_name="sink latents", default=SINK_FRAMES, min=0, max=64,
                             tooltip="Latent frames from the stream's start the model always attends to (an "
                                     "attention sink: it steadies a long stream)."),
                io.Int.Input("window", display_name="cache latents", default=WINDOW_FRAMES, min=1, max=256,
                             tooltip="Latent frames before the window the model attends to (its KV cache; memory "
                                     "grows with it). The frames older than these are forgotten."),
                io.Boolean.Input("recache", display_name="re-cache on new prompt", default=True,
                                 tooltip="On: a new prompt writes the cache again under it (LongLive), so the scene "
                                         "follows it at once; off: the frames before keep the old prompt's context "
                                         "(a gentler change)."),
                frames_input(0),
                ConditioningScheduleType.Input("schedule", optional=True,
                                               tooltip="Later prompts, from StreamDiT Conditioning Schedule nodes."),
                *delivery_inputs(),
            ],
            outputs=wan_outputs(),
            hidden=[io.Hidden.unique_id, io.Hidden.prompt],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, N=None, c=None, s=None, stream_id=None):
        return super().validate_inputs(K=0, N=N, c=c, s=s, stream_id=stream_id)

    @classmethod
    @checked
    def execute(cls, model: ModelPatcher, positive: list, vae: VAE, stream_id: str, action: str, seed: int, width: int,
                height: int, N: int, c: int, s: int, scheduler: str, sampler: str, sink: int, window: int,
                recache: bool, frames: int, schedule: ConditioningSchedule | None = None, decoder: str = "vae",
                fps: float = DEFAULT_FPS, realtime: bool = False, record: bool = False,
                video_input: VideoInput | None = None, skip_similar: float = 0.0,
                overlap_decode: bool = False, push_to: str = "") -> io.NodeOutput:
        factory = CausalWanStreamFactory(model=model, positive=positive, vae=vae, seed=seed, width=width, height=height,
                                         partition=Partition(0, N, c, s), scheduler=scheduler, schedule=schedule,
                                         sampler=sampler, sink=sink, window=window, recache=recache, decoder=decoder,
                                         video=video_input, skip_similar=skip_similar, overlap_decode=overlap_decode)
        return run_wan(cls, factory, stream_id, action, frames, RunOptions(fps, realtime, record, push_to))
