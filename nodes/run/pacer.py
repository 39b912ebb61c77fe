"""Real-time pacing: a live stream makes its frames no faster than its frame rate."""
from __future__ import annotations

import time
from typing import Callable

CHECK_EVERY = 0.05   # seconds between checks (cancel, stop) while waiting


class Pacer:
    """Holds a stream to ``fps`` frames per second of wall-clock time, across runs.

    Frame k after the first is due ``k / fps`` seconds after it; ``made(n)`` says n more
    frames exist and waits until the next one is due. A stream slower than ``fps`` is
    never pushed to catch up by more than ``slack`` seconds, so a slow moment (a model
    load, the gap between two queued runs) does not turn into a burst of frames.
    """

    def __init__(self, fps: float, slack: float = 0.25, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if not fps > 0:
            raise ValueError(f"a pacer needs fps > 0, got {fps}")
        self.fps, self.slack, self._clock, self._sleep = fps, slack, clock, sleep
        self._origin: float | None = None
        self._frames = 0

    def made(self, frames: int, check: Callable[[], None] = lambda: None, wait: bool = True) -> None:
        """``frames`` more frames were made: sleep until the next one is due, calling
        ``check()`` every ``CHECK_EVERY`` seconds (it may raise to cut the wait short).
        ``wait`` False: counted, no sleep (a run's last frames: the next run, which waits as
        its first frames come due, can start meanwhile)."""
        now = self._clock()
        if self._origin is None:
            self._origin = now
        self._frames += frames
        due = self._origin + self._frames / self.fps
        if due < now - self.slack:                      # behind: forgive all but ``slack`` of it
            self._origin += now - self.slack - due
            due = now - self.slack
        while wait and (left := due - self._clock()) > 0:
            check()
            self._sleep(min(left, CHECK_EVERY))
