"""A live stream: what its conditioning source offers, the session that keeps it between
queued runs, and the factory each model kind implements to make one.

The registry, the HTTP routes, the live view and the node runs use only these three
types; a new kind of model or conditioning is one ``ConditioningSource`` and one
``SessionFactory``, and nothing else changes.

Frame indices: the stream counts its own frames (``Stream.first_index``: latent frames
for a latent video model); ``ConditioningSource.output_frame`` maps them to frames of
the output video, the unit of prompt timelines, the panel and the HTTP API.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import torch

from .decoded_stream import DecodedStream
from .frame_input import VideoInput, check_strength, play
from .live_input import Encoder, LiveFrames
from .similarity_filter import check_threshold
from .stream import Stream
from .timeline import PromptTimeline


UNTIL_STOPPED = 0
"""A run's frames that mean: stream until stopped (a stop request, or the caller's cancel)."""


class ConditioningSource(Protocol):
    """A velocity (``integrator.Velocity``) whose prompts follow a timeline over output frames.

    ``accepts_text``: whether ``switch`` takes a typed prompt (the panel's prompt box);
    ``how_to_reprompt``: one sentence for the user saying how this stream takes a new prompt.
    """

    accepts_text: bool
    how_to_reprompt: str

    def __call__(self, x: torch.Tensor, tau: torch.Tensor, frame_index: torch.Tensor) -> torch.Tensor: ...

    @property
    def timeline(self) -> PromptTimeline:
        """Which prompt (or label) each output frame follows."""

    def follow(self, schedule: Any) -> None:
        """Follow ``schedule`` (the node's schedule input, of the source's own type) from now on,
        replacing the whole timeline, live switches included."""

    def switch(self, prompt: str, at_frame: int) -> None:
        """``prompt`` takes over from output frame ``at_frame`` on (later entries dropped).
        Only where ``accepts_text``; otherwise raises ``ScheduleError`` with ``how_to_reprompt``."""

    def unknown_words(self, *prompts: str) -> list[str]:
        """Words of ``prompts`` (default: the timeline's prompts) the source cannot follow."""

    def output_frame(self, index: int) -> int:
        """The first output frame that the stream's frame ``index`` becomes."""


class StopRequested(Exception):
    """The user pressed stop: the run ends with the frames it has."""


@dataclass
class Session:
    """One live stream between queued runs: its frames, its source, and its inbox.

    ``key``: what a run must match to continue the stream (model, seed, size, partition, ...);
    ``schedule``: the schedule input the source last followed. The browser's requests (new
    prompt, stop) wait until the run applies them between two steps; they coalesce: the
    newest prompt replaces one not yet applied, so no flood of requests can queue up work.
    ``attachments``: what the host keeps with the stream between runs (a recording, a
    pacing clock, a decoder's cache), counted in ``nbytes`` and closed with it.
    ``camera_encoder``: makes the encoder a camera's frames go through (``live_input.Encoder``;
    a fresh one per camera, as a causal video encoder keeps state); None when the model takes
    no video input. ``camera``: the live input the browser feeds (``feed``), the stream's
    input from the next step on until ``request_camera_off``.
    """

    frames: DecodedStream
    source: ConditioningSource
    key: tuple
    schedule: Any
    camera_encoder: Callable[[], Encoder] | None = None
    input_size: tuple[int, int] | None = None
    camera: LiveFrames | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: bool = False
    _requests: dict = field(default_factory=dict)          # "prompt": the newest, "stop": True
    _requests_lock: threading.Lock = field(default_factory=threading.Lock)
    attachments: dict[str, Any] = field(default_factory=dict)

    @property
    def stream(self) -> Stream:
        return self.frames.stream

    def nbytes(self) -> int:
        """Memory the stream holds between runs: its buffer, decoded frames waiting, camera
        frames waiting, and what its attachments report (``nbytes``)."""
        camera = 0 if self.camera is None else self.camera.nbytes
        return self.frames.nbytes + camera + sum(getattr(a, "nbytes", 0) for a in self.attachments.values())

    def close(self) -> None:
        """The stream is over (replaced or dropped): close what is attached to it."""
        for attachment in self.attachments.values():
            close = getattr(attachment, "close", None)
            if close is not None:
                close()
        self.attachments.clear()

    def follow(self, schedule: Any) -> None:
        """The node's schedule input at this run: when the user edited it since the last
        run, it replaces the timeline (live switches included); otherwise they stay."""
        if schedule != self.schedule:
            self.source.follow(schedule)
            self.schedule = schedule

    def request_prompt(self, prompt: str) -> None:
        with self._requests_lock:
            self._requests["prompt"] = prompt

    def request_stop(self) -> None:
        with self._requests_lock:
            self._requests["stop"] = True

    def request_strength(self, strength: float) -> None:
        """The input's strength from the next step (a camera's next frame brings its own again)."""
        strength = check_strength(strength)
        with self._requests_lock:
            self._requests["strength"] = strength

    def feed(self, image: torch.Tensor, strength: float, stamp: float = 0.0) -> None:
        """A live input frame (``image`` [H, W, 3]) from the browser; the first one turns the
        camera on (``live_input.LiveFrames`` has the queue policy)."""
        if self.camera_encoder is None:
            raise ValueError("this stream's model takes no video input")
        with self._requests_lock:
            if self.camera is None:
                self.camera = self._requests["camera"] = LiveFrames(self.camera_encoder(), strength,
                                                                    self.source.output_frame)
            camera = self.camera
        camera.push(image, strength, stamp)

    def request_camera_off(self) -> None:
        with self._requests_lock:
            self.camera, self._requests["camera"] = None, None

    def apply_requests(self) -> None:
        """Between two steps: a new prompt takes over every frame still in the buffer
        (no reset; near-clean frames barely change); the camera becomes the input, or stops
        being it (text-to-video again, no reset); a new strength applies to the input; a stop
        ends the run."""
        with self._requests_lock:
            requests, self._requests = self._requests, {}
        if "prompt" in requests:
            self.source.switch(requests["prompt"], at_frame=self.source.output_frame(self.stream.live_index))
        current = self.stream.frame_input
        if "camera" in requests and (requests["camera"] is not None or (current is not None and current.live)):
            self.stream.frame_input = requests["camera"]
        if "strength" in requests and self.stream.frame_input is not None:
            self.stream.frame_input.strength = requests["strength"]
        if requests.get("stop"):
            raise StopRequested()

    def report(self) -> dict:
        """What the panel and the HTTP API show of this stream."""
        p, s = self.stream.partition, self.stream
        return {"running": self.running, "frames": self.frames.images_out,
                "prompt": self.source.timeline.prompt_at(self.source.output_frame(s.newest_index)),
                "accepts_text": self.source.accepts_text, "how_to_reprompt": self.source.how_to_reprompt,
                "timeline": [list(entry) for entry in self.source.timeline.entries],
                "tau": s.chunk_tau, "partition": {"K": p.K, "N": p.N, "c": p.c, "s": p.s},
                "video_input": self.camera_encoder is not None,
                "camera": None if self.camera is None else self.camera.report(),
                "similarity_filter": s.similarity_filter.report()}


class SessionFactory(Protocol):
    """One model kind's way from a node run's inputs to a live session.

    Constructing it validates the inputs (bad ones raise with a message naming them);
    ``notes`` are warnings about inputs that work but may stream worse (shown on the node).
    """

    notes: tuple[str, ...]

    @property
    def key(self) -> tuple:
        """A running session continues only when its ``key`` equals this."""

    def create(self) -> Session:
        """A new session at frame 0."""

    def reconfigure(self, session: Session) -> None:
        """Apply this run's settings that keep the stream going (schedule, guidance, ...)."""


@dataclass(frozen=True, kw_only=True)
class StreamSettings:
    """What every shipped factory shares (its base): the node's video input and the similarity
    filter's threshold, checked on construction, and the one ``reconfigure``. A kind says the
    schedule its source follows (``followed``), sets its own settings on the running source
    (``tune``) and encodes a video input (``encode``)."""

    video: VideoInput | None = None   # video-to-video: the input frames and their strength
    skip_similar: float = 0.0         # the similarity filter's threshold (0 = off)

    def __post_init__(self):
        check_threshold(self.skip_similar)

    @property
    def followed(self) -> Any:
        """The schedule the session follows (``Session.follow``)."""
        raise NotImplementedError

    def tune(self, source: ConditioningSource) -> None:
        """This run's settings of the kind's own (guidance, ...) on the running ``source``."""
        raise NotImplementedError

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """A video input's images [F, H, W, 3] in [0, 1] -> latents [1, n, C, h, w]."""
        raise NotImplementedError

    def reconfigure(self, session: Session) -> None:
        """This run's settings that keep the stream going: the schedule, the kind's own, the
        video input (``frame_input.play``) and the similarity threshold."""
        session.follow(self.followed)
        self.tune(session.source)
        play(session.stream, self.video, self.encode)
        session.stream.similarity_filter.threshold = self.skip_similar
