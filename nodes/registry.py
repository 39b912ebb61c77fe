"""Running streams by id: the state that outlives one queued run (V3 nodes keep none),
and the requests (new prompt, stop) that the browser sends to a stream."""
from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from ..stream_core.decoded import DecodedStream

MAX_STREAMS = 8


class StopRequested(Exception):
    """The user pressed stop: the run ends with the frames it has."""


@dataclass
class Session:
    """One stream, what decides whether a new run may continue it, and its inbox.

    ``velocity`` has a settable ``timeline`` (a ``PromptTimeline`` over output frames)
    and ``unknown(prompt)``: the words of a prompt it cannot follow (raises
    ``ScheduleError`` when it takes no text prompts at all). ``output_frame``
    maps a latent frame's index to the output frame it starts (identity for the
    native model; 4 video frames per latent after the first for Wan).
    """

    frames: DecodedStream
    velocity: object
    key: tuple
    schedule: object                          # what the schedule input was at the last run
    output_frame: Callable[[int], int] = lambda index: index
    lock: threading.Lock = field(default_factory=threading.Lock)
    inbox: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    running: bool = False

    def request_prompt(self, prompt: str) -> None:
        self.inbox.put(("prompt", prompt))

    def request_stop(self) -> None:
        self.inbox.put(("stop", None))

    def apply_requests(self) -> None:
        """Between two steps: a new prompt takes over every frame still in the buffer
        (no reset; near-clean frames barely change); a stop ends the run."""
        stop = False
        while True:
            try:
                kind, value = self.inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "prompt":
                first = self.output_frame(self.stream.first_index + self.stream.partition.K)
                self.velocity.timeline = self.velocity.timeline.switched(value, at_frame=first)
            else:
                stop = True
        if stop:
            raise StopRequested()

    @property
    def stream(self):
        return self.frames.stream

    def report(self) -> dict:
        """What the panel and the HTTP API show of this stream."""
        p, s = self.stream.partition, self.stream
        newest = self.output_frame(s.first_index + p.B - 1)
        return {"running": self.running, "frames": self.frames.images_out,
                "prompt": self.velocity.timeline.prompt_at(newest),
                "tau": [float(s.tau[p.chunk_slice(i).start]) for i in range(p.N)],
                "partition": {"K": p.K, "N": p.N, "c": p.c, "s": p.s}}


class Registry:
    """Streams by id, the least recently used dropped past ``MAX_STREAMS``."""

    def __init__(self):
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, stream_id: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(stream_id)
            if session is not None:
                self._sessions.move_to_end(stream_id)
            return session

    def put(self, stream_id: str, session: Session) -> None:
        with self._lock:
            self._sessions[stream_id] = session
            self._sessions.move_to_end(stream_id)
            while len(self._sessions) > MAX_STREAMS:
                self._sessions.popitem(last=False)

    def items(self) -> list[tuple[str, Session]]:
        with self._lock:
            return list(self._sessions.items())


STREAMS = Registry()
