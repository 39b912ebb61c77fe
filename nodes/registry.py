"""Running streams by id: the state that outlives one queued run (V3 nodes keep none),
and the requests (new prompt, stop) that the browser sends to a stream."""
from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ..stream_core.conditioning import TextVelocity
from ..stream_core.stream import Stream
from ..stream_core.timeline import PromptTimeline

MAX_STREAMS = 8


class StopRequested(Exception):
    """The user pressed stop: the run ends with the frames it has."""


@dataclass
class Session:
    """One stream, what decides whether a new run may continue it, and its inbox."""

    stream: Stream
    velocity: TextVelocity
    key: tuple
    schedule: PromptTimeline                 # the schedule node's timeline at the last run
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
                first = self.stream.first_index + self.stream.partition.K
                self.velocity.timeline = self.velocity.timeline.switched(value, at_frame=first)
            else:
                stop = True
        if stop:
            raise StopRequested()

    def report(self) -> dict:
        """What the panel and the HTTP API show of this stream."""
        p, s = self.stream.partition, self.stream
        newest = s.first_index + p.B - 1
        return {"running": self.running, "frames": s.frames_out, "prompt": self.velocity.timeline.prompt_at(newest),
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
