"""What every stream node has: stream id, action, seed, partition, frames, live delivery; their checks."""
from __future__ import annotations

import inspect
import time

from comfy_api.latest import io, ui

from ..stream_core.engine.partition import Partition, PartitionError
from ..stream_core.engine.session import UNTIL_STOPPED
from .comfy_nodes import MAX_RESOLUTION
from .live.registry import STREAMS, stream_id_problem
from .types import DEFAULT_FPS, StreamFrames, VideoInputType
from .validation import InputError, problem


def stream_inputs() -> list:
    return [
        io.String.Input("stream_id", default="stream-1",
                        tooltip="Name of the stream (letters, digits, spaces and - _ . :). Runs with the same id "
                                "continue one stream."),
        io.Combo.Input("action", options=["continue", "restart"], default="continue",
                       tooltip="continue: go on from where this stream id stopped (a new model, seed, size "
                               "or partition starts a new stream). restart: start from frame 0 every run."),
        io.Int.Input("seed", default=0, min=0, max=2**63 - 1, control_after_generate=False,
                     tooltip="Seed of all the stream's noise; the same seed gives the same frames."),
    ]


def size_inputs(width: int, height: int, step: int) -> list:
    return [
        io.Int.Input("width", default=width, min=step, max=MAX_RESOLUTION, step=step, tooltip="Frame width in pixels."),
        io.Int.Input("height", default=height, min=step, max=MAX_RESOLUTION, step=step,
                     tooltip="Frame height in pixels."),
    ]


def partition_inputs(K: int | None, N: int, c: int, s: int, unit: str = "frames") -> list:
    """The buffer's partition, named for people; the paper's letter (StreamDiT: K, N, c, s) in each
    tooltip, and in the input's id (what API prompts use). ``K`` None: no reference frames (a
    causal model keeps its context in its cache)."""
    references = [] if K is None else [
        io.Int.Input("K", display_name=f"reference {unit}", default=K, min=0, max=64,
                     tooltip=f"K: clean {unit} kept at the buffer's start as context for the rest (0 is enough for "
                             "most uses; 2 steadies motion)."),
    ]
    return [
        *references,
        io.Int.Input("N", display_name="chunks in buffer", default=N, min=1, max=64,
                     tooltip="N: chunks in the buffer, each at its own noise level; the buffer holds "
                             f"{'' if K is None else 'K + '}N*c {unit}."),
        io.Int.Input("c", display_name=f"{unit} per chunk", default=c, min=1, max=64,
                     tooltip=f"c: {unit} per chunk; c {unit} leave the buffer at a time."),
        io.Int.Input("s", display_name="steps per chunk", default=s, min=1, max=64,
                     tooltip=f"s: denoising steps per chunk position; every {unit[:-1]} gets N*s steps in all "
                             "(1 for a distilled model: one model pass per shift)."),
    ]


def frames_input(default: int) -> io.Int.Input:
    return io.Int.Input("frames", default=default, min=UNTIL_STOPPED, max=100000,
                        tooltip="Output frames to produce in this run; 0: stream until stopped (the live panel's "
                                "Stop, the viewer's, ComfyUI's Cancel or POST /streamdit/stop), the outputs then "
                                "holding what it made.")


def live_inputs() -> list:
    """How a run delivers its frames (``run.RunOptions``); optional, so older prompts still validate."""
    return [
        io.Float.Input("fps", default=DEFAULT_FPS, min=1.0, max=240.0, step=1.0, optional=True,
                       tooltip="The stream's frame rate: the live panel plays it at this rate, and the recording "
                               "and Frame Output's video use it."),
        io.Boolean.Input("realtime", default=False, optional=True,
                         tooltip="Make frames no faster than fps, for watching live (and endless runs); off: as "
                                 "fast as the model goes."),
        io.Boolean.Input("record", default=False, optional=True,
                         tooltip="Write every frame to one video per stream in output/streamdit/ that grows as "
                                 "runs continue (with a .json index of its prompts), and show it on the node."),
    ]


def push_input() -> io.String.Input:
    """Where the stream goes live (``run.push``), the last input of every stream node (older
    workflows keep their widgets' order)."""
    return io.String.Input("push_to", display_name="push to (RTMP / SRT URL, ndi://name)", default="", optional=True,
                           tooltip="Send the stream live at its fps: H.264 to a media server or a platform's ingest "
                                   "(rtmp://host/app/key, rtmps://…, srt://host:port), or as an NDI source on your "
                                   "network (ndi://<name>; needs the optional package cyndilib). Write a stream key as "
                                   "${STREAMDIT_...}, an environment variable of the server, to keep it out of the "
                                   "workflow. Empty: no push. A lost connection is retried; the stream goes on.")


def video_inputs() -> list:
    """The stream's input video and the similarity filter over it (and over the panel's camera)."""
    return [
        VideoInputType.Input("video_input", display_name="video input", optional=True,
                             tooltip="From StreamDiT Video Input: frames the stream re-draws under its prompt "
                                     "(video-to-video). Disconnect it to go back to text-to-video."),
        io.Float.Input("skip_similar", display_name="skip similar input", default=0.0, min=0.0, max=0.999,
                       step=0.001, optional=True,
                       tooltip="Similarity filter (StreamDiffusion's): when the input video or camera frame about to "
                               "be taken is at least this similar (correlation) to the one before, skip the step "
                               "with a probability rising to 1 for an identical frame, repeating the last frames: a "
                               "still input costs nothing. 0 = off; 0.98 suits a camera."),
    ]


def recording_ui(frames: StreamFrames) -> ui.PreviewVideo | None:
    """The stream's recording, shown on the stream node."""
    return None if frames.recording is None else ui.PreviewVideo([frames.recording])


class StreamNode(io.ComfyNode):
    """Base of the stream nodes: partition check before a run, never a cached continue."""

    @classmethod
    def node_id(cls) -> str | None:
        """The id of the node being run (to show text on it); None outside a queued prompt."""
        return cls.hidden.unique_id if cls.hidden is not None else None

    @classmethod
    def refuse_for_an_invalid_consumer(cls, consumers: dict) -> None:
        """Raise ``InputError`` when a node of this prompt that takes this node's frames was refused by
        its own check: ComfyUI then runs the prompt's other output nodes, this one among them, and
        the stream would move on for a run that failed. ``consumers``: node class -> its
        ``validate_inputs``, for the pack's nodes that take a stream's frames."""
        hidden = cls.hidden
        prompt, me = getattr(hidden, "prompt", None), getattr(hidden, "unique_id", None)
        if not isinstance(prompt, dict) or me is None:
            return
        for node_id, node in prompt.items():
            check = consumers.get(node.get("class_type")) if isinstance(node, dict) else None
            inputs = node.get("inputs", {}) if check is not None else {}
            if not any(isinstance(v, list) and v[:1] == [str(me)] for v in inputs.values()):
                continue
            literal = {k: v for k, v in inputs.items() if not isinstance(v, list)}
            names = inspect.signature(check).parameters
            why = check(**{k: v for k, v in literal.items() if k in names})
            if why is not True:
                raise InputError(f"node #{node_id} ({node['class_type']}) takes this stream's frames and was refused "
                                 f"({why}): the stream does not advance for a prompt that failed")

    @classmethod
    def validate_inputs(cls, K=None, N=None, c=None, s=None, stream_id=None):
        # ComfyUI leaves the bounds of the inputs named here to this check
        why = None if stream_id is None else stream_id_problem(stream_id)
        if why is not None:
            return f"stream_id = {stream_id!r}: {why}"
        values = {"K": K, "N": N, "c": c, "s": s}
        if None in values.values():   # linked from another node: checked when it runs
            return True
        try:
            Partition(K, N, c, s)
        except PartitionError as e:
            return f"impossible partition: {e}"
        specs = {spec.id: spec for spec in cls.define_schema().inputs}
        for name, value in values.items():
            why = problem(specs[name], value) if name in specs else None   # a node without K has K = 0
            if why is not None:
                return f"impossible partition: {name} = {value!r}: {why}"
        return True

    @classmethod
    def fingerprint_inputs(cls, action=None, stream_id=None, **_):
        # a continued stream gives new frames each run: never reuse the cached output; a restarted
        # one gives the same frames again unless a stop, live prompt or cancel changed its last run
        return time.monotonic_ns() if action == "continue" else (action, STREAMS.changes(stream_id))
