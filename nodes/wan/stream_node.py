"""Wan stream node: the StreamDiT buffer driven by a stock Wan 2.1 / 2.2 MODEL, with
stock CONDITIONING and VAE, decoded as it streams."""
from __future__ import annotations

import comfy.samplers
import torch
from comfy.model_patcher import ModelPatcher
from comfy.sd import VAE
from comfy_api.latest import io

from ...stream_core.engine.frame_input import VideoInput
from ...stream_core.engine.partition import Partition
from ..frame_output import FRAME_CONSUMERS
from ..inputs import (StreamNode, frames_input, live_inputs, partition_inputs, push_input, recording_ui, size_inputs,
                     stream_inputs, video_inputs)
from ..run.queued_run import RunOptions, run_stream
from ..types import CATEGORY, DEFAULT_FPS, FramesType
from ..validation import checked
from .previews import tiny_decoder_files
from .schedule_node import ConditioningScheduleType
from .session import DECODERS, WanSettings, WanStreamFactory
from .source import EXPERT_BOUNDARY, ConditioningSchedule


def delivery_inputs() -> list:
    """The inputs every Wan kind's node ends with: the decoder, the live delivery, the video input,
    the overlapped decode and the live push."""
    return [
        io.Combo.Input("decoder", options=[*DECODERS, *tiny_decoder_files()],
                       default="vae", optional=True,
                       tooltip="What turns latents into frames (live view, outputs, recording): vae, the full "
                               "Wan VAE (best, slowest); a tiny TAEHV decoder from models/vae_approx/ (taew2_1 "
                               "for Wan 2.1 and 2.2 A14B, taew2_2 for 2.2 5B; fast, softer); latent rgb "
                               "(instant, a rough colour preview)."),
        *live_inputs(),
        *video_inputs(),
        io.Boolean.Input("overlap_decode", display_name="overlap decode", default=False, optional=True,
                         tooltip="Decode each step's frames on a worker thread (its own CUDA stream) while "
                                 "the next step denoises: faster where the decode is a large share of the "
                                 "time (the full VAE on a GPU); the frames are the same and come one step "
                                 "later."),
        push_input(),
    ]


def wan_outputs() -> list:
    return [FramesType.Output(display_name="frames", tooltip="For Frame Output (VIDEO, fps, metadata)."),
            io.Image.Output(display_name="images", tooltip="This run's frames as an image batch."),
            io.Latent.Output(display_name="latent",
                             tooltip="The latent frames this run decoded, for stock nodes (VAE Decode, upscalers).")]


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
                io.Float.Input("boundary", display_name="expert boundary (sigma, 1 = noise)", default=EXPERT_BOUNDARY,
                               min=0.0,
                               max=1.0, step=0.005, optional=True,
                               tooltip="With model_low_noise: frames below this sigma use the low-noise expert "
                                       f"({EXPERT_BOUNDARY} for Wan 2.2 T2V)."),
                *delivery_inputs(),
            ],
            outputs=wan_outputs(),
            hidden=[io.Hidden.unique_id, io.Hidden.prompt],
            is_output_node=True,
        )

    @classmethod
    @checked
    def execute(cls, model: ModelPatcher, positive: list, negative: list, vae: VAE, stream_id: str, action: str,
                seed: int, width: int, height: int, K: int, N: int, c: int, s: int, scheduler: str, guidance: float,
                frames: int, schedule: ConditioningSchedule | None = None, model_low_noise: ModelPatcher | None = None,
                boundary: float = EXPERT_BOUNDARY, decoder: str = "vae", fps: float = DEFAULT_FPS,
                realtime: bool = False, record: bool = False, video_input: VideoInput | None = None,
                skip_similar: float = 0.0, overlap_decode: bool = False, push_to: str = "") -> io.NodeOutput:
        factory = WanStreamFactory(model=model, positive=positive, negative=negative, vae=vae, seed=seed, width=width,
                                   height=height, partition=Partition(K, N, c, s), scheduler=scheduler,
                                   guidance=guidance, schedule=schedule, model_low_noise=model_low_noise,
                                   boundary=boundary, decoder=decoder, video=video_input, skip_similar=skip_similar,
                                   overlap_decode=overlap_decode)
        return run_wan(cls, factory, stream_id, action, frames, RunOptions(fps, realtime, record, push_to))


def run_wan(node: type[StreamNode], factory: WanSettings, stream_id: str, action: str, frames: int,
            options: RunOptions) -> io.NodeOutput:
    """A Wan kind's run: its consumers checked, its models loaded, then the run; the node's outputs
    (frames, images, the latents it decoded, the recording on the node)."""
    node.refuse_for_an_invalid_consumer(FRAME_CONSUMERS)
    with factory.models_loaded():
        out = run_stream(factory, stream_id, action, frames, node.node_id(), options)
    latents = out.latents if out.latents is not None else torch.empty(0, *factory.shape)   # none decoded this run
    return io.NodeOutput(out, out.images, {"samples": latents.movedim(0, 1)[None]}, ui=recording_ui(out))
