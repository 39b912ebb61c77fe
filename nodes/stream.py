"""Stream node: create or continue a StreamDiT stream and advance it by some frames."""
from __future__ import annotations

from comfy_api.latest import io

from ..stream_core.conditioning import TextVelocity
from ..stream_core.decoded import DecodedStream
from ..stream_core.frames import to_images
from ..stream_core.partition import Partition
from ..stream_core.sampler import GUIDANCE_UNTIL
from ..stream_core.stream import Stream
from .registry import Session
from .inputs import StreamNode, frames_input, partition_inputs, size_inputs, stream_inputs
from .run import advance, open_session, tell_user
from .types import CATEGORY, FramesType, ModelType, ScheduleType


def frame_shape(model, width: int, height: int) -> tuple[int, int, int]:
    """(C, h, w) of one latent frame for an output of width x height pixels."""
    cfg = model.config
    step = cfg.patch * cfg.factor
    if width % step or height % step:
        raise ValueError(f"width and height must be multiples of {step} for this model, got {width}x{height}")
    return cfg.channels, height // cfg.factor, width // cfg.factor


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
                io.Float.Input("guidance_until", default=GUIDANCE_UNTIL, min=0.0, max=1.0, step=0.05, optional=True,
                               tooltip="Guidance stops for frames this clean (tau: 0 = noise, 1 = clean); 1 = guide "
                                       "every frame. Guiding the nearly clean chunk exaggerates the motion inside it, "
                                       "so objects jump back at every chunk boundary."),
            ],
            outputs=[FramesType.Output(display_name="frames")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, model, schedule, stream_id, action, seed, width, height, K, N, c, s, guidance,
                frames, guidance_until=GUIDANCE_UNTIL) -> io.NodeOutput:
        partition = Partition(K, N, c, s)
        shape = frame_shape(model.model, width, height)
        node_id = cls.hidden.unique_id if cls.hidden is not None else None

        def start() -> Session:
            velocity = TextVelocity(model.model, schedule, guidance, guidance_until)
            weights = next(model.model.parameters())
            stream = Stream(velocity, partition, shape, seed=seed, device=weights.device, dtype=weights.dtype)
            return Session(DecodedStream(stream, lambda latents: to_images(model.model, latents)), velocity, key, schedule)

        key = (model.key, seed, shape, partition)
        session = open_session(stream_id, action, key, start)
        with session.lock:
            if schedule != session.schedule:   # the user edited the schedule: it replaces live switches
                session.velocity.timeline = session.schedule = schedule
            session.velocity.guidance, session.velocity.guidance_until = guidance, guidance_until
            unknown = session.velocity.unknown_words()
            if unknown:
                tell_user(f"the model does not know the word(s): {', '.join(unknown)}; they are ignored", node_id)
            return io.NodeOutput(advance(session, stream_id, frames, node_id))
