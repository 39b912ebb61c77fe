"""WebRTC playback of a stream (WHEP: the browser POSTs its SDP offer, the answer comes back),
with aiortc (optional): a viewer on another machine sees the stream with less delay than the
JPEG websocket, which stays the fallback.

Each peer gets one video track per stream; the stream's frames are handed to every track of
their stream from the run's output thread (``send_frames``) and wait at most ``QUEUE_FRAMES``
(a slow peer gets the newest). Timestamps follow the frames' indices at the stream's fps, so
the browser plays a chunk's burst at the stream's pace. At most ``MAX_PEERS`` peers; one the
browser left (closed, failed, never connected within ``CONNECT_WITHIN``, or DELETE of its
``Location``) is closed and forgotten.
"""
from __future__ import annotations

import asyncio
import secrets
import threading
from fractions import Fraction

import numpy as np
import torch

from .hub import pixels

MAX_PEERS = 16
CONNECT_WITHIN = 30.0   # seconds a peer has to connect before it is closed (a page that left before ICE did)
MAX_OFFER_BYTES = 64 * 1024
QUEUE_FRAMES = 2
CLOCK = 90_000   # RTP's video clock: ticks a second


def missing() -> str | None:
    """Why WebRTC cannot be served here (its optional package absent); None when it can."""
    try:
        import aiortc  # noqa: F401
    except ImportError as e:
        return f"WebRTC playback needs the optional package aiortc (pip install aiortc): {e}"
    return None


def _track_class():
    from aiortc import MediaStreamTrack
    import av

    class StreamTrack(MediaStreamTrack):
        """Frames [H, W, 3] uint8 of one stream, offered on the event loop, as a video track."""

        kind = "video"

        def __init__(self):
            super().__init__()
            self._frames: asyncio.Queue = asyncio.Queue(QUEUE_FRAMES)
            self._pts, self._index = 0, None

        def offer(self, frame: np.ndarray, index: int, fps: float) -> None:
            if self._frames.full():
                self._frames.get_nowait()
            self._frames.put_nowait((frame, index, fps))

        async def recv(self):
            frame, index, fps = await self._frames.get()
            step = CLOCK / fps
            if self._index is not None:   # the frames' indices apart (a restarted stream: one frame)
                self._pts += round(step * (index - self._index if index > self._index else 1))
            self._index = index
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts, picture.time_base = self._pts, Fraction(1, CLOCK)
            return picture

    return StreamTrack


class Peer:
    """One browser's connection: its ``RTCPeerConnection`` and the track of ``stream_id``."""

    def __init__(self, pc, track, stream_id: str):
        self.pc, self.track, self.stream_id = pc, track, stream_id
        self.key = secrets.token_urlsafe(16)


class WebRtcPeers:
    """The open peers; ``send_frames`` is safe to call from any thread."""

    def __init__(self):
        self._peers: dict[str, Peer] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._track = None

    def count(self) -> int:
        with self._lock:
            return len(self._peers)

    async def answer(self, stream_id: str, offer: str) -> Peer:
        """A peer for ``stream_id`` from the browser's SDP ``offer``; its answer is ``peer.pc.localDescription``.
        RuntimeError when ``MAX_PEERS`` are open; ValueError for an offer aiortc cannot take."""
        from aiortc import RTCPeerConnection, RTCSessionDescription
        if self.count() >= MAX_PEERS:
            raise RuntimeError(f"at most {MAX_PEERS} WebRTC viewers at a time; close one, or use the websocket viewer")
        self._loop = asyncio.get_running_loop()
        self._track = self._track or _track_class()
        pc = RTCPeerConnection()
        peer = Peer(pc, self._track(), stream_id)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            pc.addTrack(peer.track)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as e:   # noqa: BLE001 - aiortc's refusals of a malformed offer are of many types
            await pc.close()
            raise ValueError(f"the SDP offer cannot be answered: {type(e).__name__}: {str(e)[:200]}") from None

        @pc.on("connectionstatechange")
        async def ended():
            if pc.connectionState in ("failed", "closed"):
                await self.close(peer.key)

        def unconnected():
            if pc.connectionState != "connected":
                asyncio.ensure_future(self.close(peer.key))

        with self._lock:
            self._peers[peer.key] = peer
        self._loop.call_later(CONNECT_WITHIN, unconnected)
        return peer

    async def close(self, key: str) -> bool:
        with self._lock:
            peer = self._peers.pop(key, None)
        if peer is not None:
            await peer.pc.close()
        return peer is not None

    def send_frames(self, stream_id: str, first_index: int, images: torch.Tensor, fps: float) -> None:
        """Frames ``first_index``.. (IMAGE [n, H, W, 3] in [0, 1]) to the tracks of ``stream_id``."""
        with self._lock:
            tracks = [p.track for p in self._peers.values() if p.stream_id == stream_id]
        if not tracks or self._loop is None or self._loop.is_closed():
            return
        offers = [(track, frame, first_index + n) for n, frame in enumerate(pixels(images)) for track in tracks]
        self._loop.call_soon_threadsafe(offer_to, offers, fps)   # one call onto the event loop a piece


def offer_to(offers: list, fps: float) -> None:
    """(track, frame, index) triples: each frame to its track (on the event loop), in order."""
    for track, frame, index in offers:
        track.offer(frame, index, fps)


PEERS = WebRtcPeers()
