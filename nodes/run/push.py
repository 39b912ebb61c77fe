"""A stream pushed live: to a media server as H.264 over RTMP (FLV) or SRT (MPEG-TS), with PyAV,
or as an NDI source on the local network (``ndi.py``).

Where viewers outgrow one machine, a media server (MediaMTX, nginx-rtmp) or a platform's
ingest (Twitch, YouTube) carries the stream, not ComfyUI. One ``LivePush`` per stream, kept
between runs: the frames of every run go out as one continuous broadcast, timed at the
stream's fps. It never holds the stream up: frames wait in a short queue for the push's own
thread, and while the server is unreachable the newest wait and older ones are dropped (live
video has no use for them); the connection is tried again with a growing pause (1 s to 30 s).
What happens (connected, lost) is said through ``say`` (the run's node, set by each run).
Each way out is an output with ``send(frame)`` and ``close()``, made for the first frame's size
(a new size: a new output).

The URL may name environment variables, ``${STREAMDIT_...}`` only (a stream key kept out of
the workflow file); it is never logged or shown whole: ``redacted`` keeps its scheme, host
and port.
"""
from __future__ import annotations

import os
import queue
import re
import threading
import urllib.parse
import weakref
from fractions import Fraction
from typing import Callable

import av
import numpy as np
import torch

from . import ndi
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


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def redacted(url: str) -> str:
    """What of ``url`` may be shown: scheme, host and port (user, path, query and stream key left
    out); an NDI source's name, which is public on the network anyway."""
    if scheme_of(url) == ndi.SCHEME:
        return url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or '?'}{port}/…"
    except ValueError:
        return "(a push URL)"


def resolved(url: str) -> str:
    """``url`` with each ``${STREAMDIT_...}`` replaced by that environment variable; a PushError
    for an empty URL, a scheme other than rtmp, rtmps, srt and ndi, another variable or a
    missing one, a bad NDI name, or NDI without its package."""
    if not url.strip() or len(url) > MAX_URL:
        raise PushError(f"a push URL is 1 to {MAX_URL} characters")
    scheme = scheme_of(url)
    if scheme not in FORMATS and scheme != ndi.SCHEME:
        raise PushError(f"push to rtmp://, rtmps:// or srt:// (a media server's ingest URL) or ndi://<name> (an NDI "
                        f"source), got {scheme or 'no'} scheme")
    if scheme == ndi.SCHEME:
        try:
            ndi.source_name(url)
        except ValueError as e:
            raise PushError(str(e)) from None
        if (why := ndi.missing()) is not None:
            raise PushError(why)

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

    def _connect(self, first: np.ndarray):
        """An output for frames like ``first``: an NDI source or a media server's connection."""
        height, width = first.shape[:2]
        if scheme_of(self._target) == ndi.SCHEME:
            return ndi.NdiOutput(ndi.source_name(self._target), self.fps, width, height)
        return MediaServerOutput(self._open(self._target, FORMATS[scheme_of(self._target)]), self.fps, width, height)

    def _broadcast(self, first: np.ndarray) -> None:
        """One connection: open it, then send frames of its size until closed (or raise when lost)."""
        output = self._connect(first)
        try:
            self.connections += 1
            self.state = "connected"
            self.say(f"live push to {redacted(self.url)}: connected")
            frame = first
            while frame is not None:
                if frame.shape != first.shape:   # a new size: a new connection
                    self._held = frame
                    break
                output.send(frame)
                self.sent += 1
                frame = self._next()
                while frame is None and not self._stop.is_set():
                    frame = self._next()
        finally:
            output.close()


class MediaServerOutput:
    """H.264 of frames [H, W, 3] uint8 of one size into ``container`` (FLV or MPEG-TS, open on a
    media server), each frame timed at ``fps``: ``send``, ``close``."""

    def __init__(self, container, fps: float, width: int, height: int):
        self._container, self._index = container, 0
        self._rate = Fraction(fps).limit_denominator(1000)
        try:
            self._video = container.add_stream("libx264", rate=self._rate)
            self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
            self._video.options = {"preset": "veryfast", "tune": "zerolatency", "g": str(max(1, round(fps))),
                                   "bf": "0"}
        except Exception:
            self.close()
            raise

    def send(self, frame: np.ndarray) -> None:
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        picture.pts, picture.time_base = self._index, 1 / self._rate
        for packet in self._video.encode(picture):
            self._container.mux(packet)
        self._index += 1

    def close(self) -> None:
        """The encoder's last frames sent, then the connection closed (one already lost closes as it can)."""
        try:
            for packet in self._video.encode():
                self._container.mux(packet)
        except Exception:   # noqa: BLE001
            pass
        try:
            self._container.close()
        except Exception:   # noqa: BLE001
            pass
