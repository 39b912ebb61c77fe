"""Stream node: create or continue a stream of the pack's own StreamDiT and advance it."""
from __future__ import annotations

from comfy_api.latest import io

from ..stream_core.engine.frame_input import VideoInput
from ..stream_core.engine.guidance import GUIDANCE_UNTIL
from ..stream_core.engine.partition import Partition
from ..stream_core.engine.timeline import PromptTimeline
from ..stream_core.native.session import NativeStreamFactory
from .frame_output import FRAME_CONSUMERS
from .inputs import (StreamNode, frames_input, live_inputs, partition_inputs, push_input, recording_ui, size_inputs,
                     stream_inputs, video_inputs)
from .run.queued_run import RunOptions, run_stream
from .types import CATEGORY, DEFAULT_FPS, FramesType, LoadedModel, ModelType, ScheduleType
from .validation import checked


class StreamDiTStream(StreamNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StreamDiTStream",
            display_name="StreamDiT Stream",
            category=CATEGORY,
            description="Runs a StreamDiT stream: a buffer of frames at rising noise levels. Each run advances "
                        "the stream by 'frames' output frames; queue again to continue the same stream.",
            inputs=[
                ModelType.Input("model", tooltip="From StreamDiT Loader."),
                ScheduleType.Input("schedule", tooltip="From StreamDiT Prompt Schedule. Changing it while a stream "
                                                       "continues re-prompts the running stream without a reset."),
                *stream_inputs(),
                *size_inputs(64, 64, 16),
                *partition_inputs(K=0, N=4, c=2, s=2),
                io.Float.Input("guidance", default=1.0, min=0.0, max=30.0, step=0.1,
                               tooltip="Classifier-free guidance scale; 1 = no guidance (one model pass per step)."),
                frames_input(48),
                io.Float.Input("guidance_until", display_name="guidance until (tau, 1 = clean)", default=GUIDANCE_UNTIL,
                               min=0.0, max=1.0, step=0.05, optional=True,
                               tooltip="Guidance stops for frames this clean (tau: 0 = noise, 1 = clean); 1 = guide "
                                       "every frame. Guiding the nearly clean chunk exaggerates the motion inside it, "
                                       "so objects jump back at every chunk boundary."),
                *live_inputs(),
                *video_inputs(),
                push_input(),
            ],
            outputs=[FramesType.Output(display_name="frames", tooltip="For Frame Output (VIDEO, fps, metadata)."),
                     io.Image.Output(display_name="images", tooltip="This run's frames as an image batch.")],
            hidden=[io.Hidden.unique_id, io.Hidden.prompt],
            is_output_node=True,
        )

    @classmethod
    @checked
    def execute(cls, model: LoadedModel, schedule: PromptTimeline, stream_id: str, action: str, seed: int, width: int,
                height: int, K: int, N: int, c: int, s: int, guidance: float, frames: int,
                guidance_until: float = GUIDANCE_UNTIL, fps: float = DEFAULT_FPS, realtime: bool = False,
                record: bool = False, video_input: VideoInput | None = None,
                skip_similar: float = 0.0, push_to: str = "") -> io.NodeOutput:
        factory = NativeStreamFactory(model=model.model, model_key=model.key, schedule=schedule, seed=seed, width=width,
                                      height=height, partition=Partition(K, N, c, s), guidance=guidance,
                                      guidance_until=guidance_until, video=video_input, skip_similar=skip_similar)
        cls.refuse_for_an_invalid_consumer(FRAME_CONSUMERS)
        out = run_stream(factory, stream_id, action, frames, cls.node_id(), RunOptions(fps, realtime, record, push_to))
        return io.NodeOutput(out, out.images, ui=recording_ui(out))
