"""Stream node: create or continue a StreamDiT stream and advance it by some frames."""
from __future__ import annotations

import logging
import time

import comfy.utils
from comfy_api.latest import io

from ..stream_core.conditioning import TextVelocity
from ..stream_core.partition import Partition, PartitionError
from ..stream_core.stream import Stream
from .live import LiveView, prompt_server
from .registry import STREAMS, Session, StopRequested
from .types import CATEGORY, FramesType, ModelType, ScheduleType, StreamFrames


def tell_user(text: str, node_id: str | None) -> None:
    """A warning in the log and, when a server runs, as text on the node."""
    logging.warning("[StreamDiT] %s", text)
    server = prompt_server()
    if server is not None and node_id is not None:
        server.send_progress_text(text, node_id)


def frame_shape(model, width: int, height: int) -> tuple[int, int, int]:
    """(C, H, W) of one latent frame for an output of width x height pixels."""
    cfg = model.config
    if width % cfg.patch or height % cfg.patch:
        raise ValueError(f"width and height must be multiples of {cfg.patch} for this model, got {width}x{height}")
    return cfg.channels, height, width


class StreamDiTStream(io.ComfyNode):
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
                io.String.Input("stream_id", default="stream-1",
                                tooltip="Name of the stream. Runs with the same id continue one stream."),
                io.Combo.Input("action", options=["continue", "restart"], default="continue",
                               tooltip="continue: go on from where this stream id stopped (a new model, seed, size "
                                       "or partition starts a new stream). restart: start from frame 0 every run."),
                io.Int.Input("seed", default=0, min=0, max=2**63 - 1, control_after_generate=False,
                             tooltip="Seed of all the stream's noise; the same seed gives the same frames."),
                io.Int.Input("width", default=64, min=8, max=4096, step=8, tooltip="Frame width in pixels."),
                io.Int.Input("height", default=64, min=8, max=4096, step=8, tooltip="Frame height in pixels."),
                io.Int.Input("K", default=0, min=0, max=64, tooltip="Reference frames: clean frames kept in the "
                                                                   "buffer as context (0 is enough for most uses)."),
                io.Int.Input("N", default=4, min=1, max=64, tooltip="Chunks in the buffer, each at its own noise level."),
                io.Int.Input("c", default=2, min=1, max=64, tooltip="Frames per chunk; c frames leave the buffer at a time."),
                io.Int.Input("s", default=2, min=1, max=64, tooltip="Micro-steps per chunk position; every frame gets "
                                                                   "s*N denoising steps."),
                io.Float.Input("guidance", default=1.0, min=0.0, max=30.0, step=0.1,
                               tooltip="Classifier-free guidance scale; 1 = no guidance (one model pass per step)."),
                io.Int.Input("frames", default=48, min=1, max=100000,
                             tooltip="Output frames to produce in this run."),
            ],
            outputs=[FramesType.Output(display_name="frames")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def validate_inputs(cls, K=None, N=None, c=None, s=None):
        if None in (K, N, c, s):   # linked from another node: checked when it runs
            return True
        try:
            Partition(K, N, c, s)
        except PartitionError as e:
            return f"impossible partition: {e}"
        return True

    @classmethod
    def fingerprint_inputs(cls, action=None, **_):
        # a continued stream gives new frames each run: never reuse the cached output
        return time.monotonic_ns() if action == "continue" else action

    @classmethod
    def execute(cls, model, schedule, stream_id, action, seed, width, height, K, N, c, s, guidance,
                frames) -> io.NodeOutput:
        partition = Partition(K, N, c, s)
        shape = frame_shape(model.model, width, height)
        key = (model.key, seed, shape, partition)
        node_id = cls.hidden.unique_id if cls.hidden is not None else None
        session = STREAMS.get(stream_id)
        if action == "restart" or session is None or session.key != key:
            velocity = TextVelocity(model.model, schedule, guidance)
            weights = next(model.model.parameters())
            stream = Stream(velocity, partition, shape, seed=seed, device=weights.device, dtype=weights.dtype)
            session = Session(stream, velocity, key, schedule)
            STREAMS.put(stream_id, session)
        with session.lock:
            if schedule != session.schedule:   # the user edited the schedule: it replaces live switches
                session.velocity.timeline = session.schedule = schedule
            session.velocity.guidance = guidance
            unknown = session.velocity.unknown_words()
            if unknown:
                tell_user(f"the model does not know the word(s): {', '.join(unknown)}; they are ignored", node_id)
            first = session.stream.frames_taken
            bar = comfy.utils.ProgressBar(frames)
            live = LiveView(stream_id, session, node_id, model.model.config.latent)

            def progress(ready, finished):
                live.frames(finished)
                bar.update_absolute(ready, frames)   # raises on the user's interrupt
                session.apply_requests()             # a new prompt, or stop

            session.running = True
            live.status()
            try:
                session.apply_requests()
                latents = session.stream.take(frames, progress=progress)
            except StopRequested:
                latents = session.stream.take(max(session.stream.ready, 1))
            finally:
                session.running = False
                live.status()
        return io.NodeOutput(StreamFrames(latents[0].float().cpu(), first, stream_id, model.model.config.latent))
