"""Running streams by id: the sessions that outlive one queued run (V3 nodes keep no state)."""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..stream_core.engine.session import Session

MAX_STREAMS = 8


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
