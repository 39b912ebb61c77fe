"""Running streams by id: the sessions that outlive one queued run (V3 nodes keep no state)."""
from __future__ import annotations

import re
import threading
from collections import OrderedDict, deque

from ...stream_core.engine.session import Session

MAX_STREAMS = 8                  # streams kept at once, and
MAX_STREAM_BYTES = 4 * 2**30     # the memory they may hold between runs (Session.nbytes), together
REMEMBERED_DROPS = 256
MAX_STREAM_ID = 64               # characters of a stream id
STREAM_ID = re.compile(r"[\w .:-]+")   # letters (any script's), digits, space and - _ . :


def stream_id_problem(stream_id) -> str | None:
    """What is wrong with ``stream_id``, or None: the one rule of stream ids (checked before a prompt
    runs, and wherever an id arrives), so every id that passed is plain text everywhere it goes
    (file names, log lines, messages to the browser)."""
    if not isinstance(stream_id, str):
        return "a stream id is text"
    if not 1 <= len(stream_id) <= MAX_STREAM_ID:
        return f"a stream id has 1 to {MAX_STREAM_ID} characters, got {len(stream_id)}"
    if not STREAM_ID.fullmatch(stream_id):
        bad = next(ch for ch in stream_id if not STREAM_ID.fullmatch(ch))
        return (f"a stream id has letters, digits, spaces and - _ . : only, not {bad!r} "
                f"(U+{ord(bad):04X})")
    return None


class Registry:
    """Streams by id. Past ``MAX_STREAMS`` streams or ``MAX_STREAM_BYTES`` of their memory, the
    least recently used are dropped (and closed); ``put`` says which, and ``was_dropped``
    remembers them, so a run that continues one can say why it starts again.

    ``changes(stream_id)`` counts what happened to a stream outside its node's inputs (a
    stop, a live prompt, a cancelled run): a node whose result depends on it re-runs when
    the count moves, instead of handing back a cached result.
    """

    def __init__(self):
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._changes: dict[str, int] = {}
        self._dropped: deque[str] = deque(maxlen=REMEMBERED_DROPS)
        self._lock = threading.Lock()

    def get(self, stream_id: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(stream_id)
            if session is not None:
                self._sessions.move_to_end(stream_id)
            return session

    def put(self, stream_id: str, session: Session) -> list[str]:
        """Keep ``session`` as ``stream_id``; returns the ids dropped to make room."""
        with self._lock:
            replaced = self._sessions.pop(stream_id, None)
            self._sessions[stream_id] = session
            dropped = []
            while len(self._sessions) > 1 and (len(self._sessions) > MAX_STREAMS or
                                               sum(s.nbytes() for s in self._sessions.values()) > MAX_STREAM_BYTES):
                dropped.append(self._sessions.popitem(last=False))
            self._dropped.extend(old_id for old_id, _ in dropped)
            if stream_id in self._dropped:
                self._dropped.remove(stream_id)
            self._changes = {k: n for k, n in self._changes.items() if k in self._sessions}
        for old in ([replaced] if replaced is not None else []) + [s for _, s in dropped]:
            old.close()
        return [old_id for old_id, _ in dropped]

    def was_dropped(self, stream_id: str) -> bool:
        """Whether ``stream_id`` was dropped to make room (and not started again since)."""
        with self._lock:
            return stream_id in self._dropped

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
