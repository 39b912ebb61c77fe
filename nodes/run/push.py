"""A stream pushed live to a media server: H.264 over RTMP (FLV) or SRT (MPEG-TS), with PyAV.

Where viewers outgrow one machine, a media server (MediaMTX, nginx-rtmp) or a platform's
ingest (Twitch, YouTube) carries the stream, not ComfyUI. One ``LivePush`` per stream, kept
between runs: the frames of every run go out as one continuous broadcast, timed at the
stream's fps. It never holds the stream up: frames wait in a short queue for the push's own
thread, and while the server is unreachable the newest wait and older ones are dropped (live
video has no use for them); the connection is tried again with a growing pause (1 s to 30 s).
What happens (connected, lost) is said through ``say`` (the run's node, set by each run).

The URL may name environment variables, ``${STREAMDIT_...}`` only (a stream key kept out of
the workflow file); it is never logged or shown whole: ``redacted`` keeps its scheme, host
and port.
"""
from __future__ import annotations

import os
import queue
import re
import threading
import time
import urllib.parse
import weakref
from fractions import Fraction
from typing import Callable

import av
import numpy as np
import torch

from .recorder import to_uint8

FORMATS = {"rtmp": "flv", "rtmps": "flv", "srt": "mpegts"}
"""URL scheme -> the container the server takes."""
QUEUE_FRAMES = 64              # frames waiting for the push's thread before the oldest are dropped
RETRY_FIRST, RETRY_MOST = 1.0, 30.0   # seconds between tries to connect: doubling from the first to the most
CONNECT_TIMEOUT = 10.0         # seconds a connection (and a blocked write) may take before it counts as lost
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_URL = 2048


class PushError(ValueError):
    """A push URL that cannot be used; the message says why (never the URL's secret parts)."""


def redacted(url: str) -> str:
    """What of ``url`` may be shown: scheme, host and port (user, path, query and stream key left out)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or '?'}{port}/…"
    except ValueError:
        return "(a push URL)"


def resolved(url: str) -> str:
    """``url`` with each ``${STREAMDIT_...}`` replaced by that environment variable; a PushError
    for an empty URL, a scheme other than rtmp, rtmps and srt, another variable or a missing one."""
    if not url.strip() or len(url) > MAX_URL:
        raise PushError(f"a push URL is 1 to {MAX_URL} characters")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in FORMATS:
        raise PushError(f"push to rtmp://, rtmps:// or srt:// (a media server's ingest URL), got {scheme or 'no'} "
                        "scheme")

    def value(match: re.Match) -> str:
        name = match.group(1)
        if not name.startswith("STREAMDIT_"):
            raise PushError(f"a push URL may name only environment variables starting STREAMDIT_, got ${{{name}}}")
        if name not in os.environ:
            raise PushError(f"the environment variable {name} that the push URL names is not set on the server")
        return os.environ[name]
    return _VARIABLE.sub(value, url.strip())


OPEN: "weakref.WeakSet[LivePush]" = weakref.WeakSet()   # every push not yet closed


def close_every() -> None:
    """End every live push (the frames queued sent first): the server's shutdown."""
    for push in list(OPEN):
        push.close()


class LivePush:
    """``send(images)`` hands frames [n, H, W, 3] in [0, 1] to the push (never waits);
    ``close()`` ends it (the frames queued go out first, for at most ``CONNECT_TIMEOUT``).
    ``state`` (connecting, connected, retrying, closed), ``sent``, ``dropped`` and ``connections``
    say how it goes. ``open`` (tests) makes the output container from (url, format)."""

    def __init__(self, url: str, fps: float, say: Callable[[str], None] = lambda text: None,
                 open: Callable[[str, str], object] | None = None):
        self.url, self.fps, self.say = url, fps, say
        self._target = resolved(url)
        self._format = FORMATS[self._target.split("://", 1)[0].lower()]
        self._open = open or (lambda target, fmt: av.open(target, "w", format=fmt,
                                                          timeout=(CONNECT_TIMEOUT, CONNECT_TIMEOUT)))
        self._frames: queue.Queue = queue.Queue(QUEUE_FRAMES)
        self._held: np.ndarray | None = None   # a frame taken from the queue that the next connection sends first
        self.sent = self.dropped = self.connections = 0
        self.state = "connecting"
        self.closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="streamdit-push", daemon=True)
        self._thread.start()
        OPEN.add(self)

    # --- the stream's side ------------------------------------------------------------------
    def send(self, images: torch.Tensor) -> None:
        for frame in to_uint8(images):
            while True:
                try:
                    self._frames.put_nowait(frame)
                    break
                except queue.Full:                  # the server is slower than the stream: drop the oldest
                    try:
                        self._frames.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        self._thread.join(CONNECT_TIMEOUT + 5)
        OPEN.discard(self)

    # --- the push's thread ------------------------------------------------------------------
    def _run(self) -> None:
        pause = RETRY_FIRST
        while not (self._stop.is_set() and self._frames.empty() and self._held is None):
            first = self._next()
            if first is None:
                continue
            try:
                self._broadcast(first)
                pause = RETRY_FIRST
            except Exception as e:   # noqa: BLE001 - a lost or refused connection: said, then tried again
                if self._stop.is_set():
                    break
                self._drop_waiting()
                self.state = "retrying"
                self.say(f"live push to {redacted(self.url)}: {type(e).__name__} (the connection failed or was "
                          f"lost); trying again in {pause:.0f} s, the stream goes on")
                self._stop.wait(pause)
                pause = min(RETRY_MOST, pause * 2)
        self.state = "closed"

    def _drop_waiting(self) -> None:
        """While the server is away, the frames waiting are old news: dropped (the newest come next)."""
        while True:
            try:
                self._frames.get_nowait()
                self.dropped += 1
            except queue.Empty:
                return

    def _next(self) -> np.ndarray | None:
        """The next frame to send, waiting a moment for one; None when none came."""
        if self._held is not None:
            frame, self._held = self._held, None
            return frame
        try:
            return self._frames.get(timeout=0.1)
        except queue.Empty:
            return None

    def _broadcast(self, first: np.ndarray) -> None:
        """One connection: open it, then encode and send frames until closed (or raise when lost)."""
        container = self._open(self._target, self._format)
        try:
            rate = Fraction(self.fps).limit_denominator(1000)
            video = container.add_stream("libx264", rate=rate)
            video.width, video.height, video.pix_fmt = first.shape[1], first.shape[0], "yuv420p"
            video.options = {"preset": "veryfast", "tune": "zerolatency", "g": str(max(1, round(self.fps))),
                             "bf": "0"}
            self.connections += 1
            self.state = "connected"
            self.say(f"live push to {redacted(self.url)}: connected")
            frame, index = first, 0
            while frame is not None:
                if frame.shape[:2] != (video.height, video.width):   # a new size: a new connection
                    self._held = frame
                    break
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                picture.pts, picture.time_base = index, 1 / rate
                for packet in video.encode(picture):
                    container.mux(packet)
                self.sent += 1
                index += 1
                frame = self._next()
                while frame is None and not self._stop.is_set():
                    frame = self._next()
            for packet in video.encode():
                container.mux(packet)
        finally:
            try:
                container.close()
            except Exception:   # noqa: BLE001 - a connection already lost closes as it can
                pass
