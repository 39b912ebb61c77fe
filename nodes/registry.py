"""Running streams by id: the sessions that outlive one queued run (V3 nodes keep no state)."""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..stream_core.engine.session import Session

MAX_STREAMS = 8


class Registry:
    """Streams by id, the least recently used dropped (and closed) past ``MAX_STREAMS``.

    ``changes(stream_id)`` counts what happened to a stream outside its node's inputs (a
    stop, a live prompt, a cancelled run): a node whose result depends on it re-runs when
    the count moves, instead of handing back a cached result.
    """

    def __init__(self):
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._changes: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, stream_id: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(stream_id)
            if session is not None:
                self._sessions.move_to_end(stream_id)
            return session

    def put(self, stream_id: str, session: Session) -> None:
        with self._lock:
            replaced = self._sessions.pop(stream_id, None)
            self._sessions[stream_id] = session
            dropped = [self._sessions.popitem(last=False)[1] for _ in range(len(self._sessions) - MAX_STREAMS)]
            self._changes = {k: n for k, n in self._changes.items() if k in self._sessions}
        for old in ([replaced] if replaced is not None else []) + dropped:
            old.close()

    def items(self) -> list[tuple[str, Session]]:
        with self._lock:
            return list(self._sessions.items())

    def changed(self, stream_id: str) -> None:
        """Something outside the node's inputs changed the stream ``stream_id``."""
        with self._lock:
            self._changes[stream_id] = self._changes.get(stream_id, 0) + 1

    def changes(self, stream_id: str) -> int:
        with self._lock:
            return self._changes.get(stream_id, 0)


STREAMS = Registry()
