"""Frames of running streams to the browser, over the pack's own websocket ``/streamdit/ws``.

Every frame a stream makes goes, as one binary message, to every viewer watching that
stream and to no one else:

    [u32 FRAME][u32 n][n bytes of JSON: stream_id, session, index, time, fps, made_fps, prompt, tau][JPEG]

(``session`` changes when the stream id starts a new stream; ``time`` is the server's clock;
``input_time``: the camera frame's ``stamp`` the frame was drawn from, when it was.)

Text messages are JSON: ``{"type": "status", "stream_id", ...Session.report()}`` when a run
starts or ends and when its timeline changes (to the stream's viewers, and to the browser
that queued the run, so its panel can follow the run), and ``{"type": "streams", "streams": {id: {"running", "frames"}}}``
to the viewers that asked for the list (``"list": true``: the panel, the viewer's stream picker), when
they ask and whenever a run starts or ends. A viewer sends JSON text
``{"watch": [stream ids], "list": true | false, "quality": 10..100, "max_fps": 1..240}`` and, as it
receives frames, ``{"ack": frames received on this connection}``. The server's first message is
``{"type": "hello", "token", "window": FRAME_WINDOW, "defaults": LIVE_DEFAULTS}``, which the viewer
echoes (``{"hello": token}``) to show it reads: frames go to a viewer once it has, and at most
``FRAME_WINDOW`` beyond the last it acknowledged, so one that does not read costs the streams nothing.
The server reads each socket at most ``READ_MESSAGES_PER_SECOND`` messages and
``READ_BYTES_PER_SECOND`` bytes a second. A viewer that falls
behind loses frames (of those waiting to be sent, the oldest), never a status.

The panel's camera sends its frames as binary messages, at most ``MAX_CAMERA_FPS`` a second:

    [u32 CAMERA][u32 n][n bytes of JSON: stream_id, strength 0..1, stamp][JPEG of at most MAX_CAMERA_PIXELS]

and turns off with the text ``{"camera_off": stream id}``; each becomes the stream's input
(``Session.feed``) from its next step on. A camera frame refused (no such stream, a model
without video input, a bad image) is answered ``{"type": "camera", "stream_id", "error"}``.
Text messages are at most ``MAX_TEXT_BYTES``; a larger message closes the connection.
The stream node's own preview (canvas and Nodes 2.0) goes through ComfyUI's progress
bar instead, a few times a second (``LiveView.preview``).
"""
from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
import struct
import threading
import time
import urllib.parse
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from aiohttp import WSMsgType, web
from PIL import Image

from ...stream_core.engine.frame_input import DEFAULT_STRENGTH
from ...stream_core.engine.session import Session
from ..types import DEFAULT_FPS
from .registry import STREAMS

FRAME = 1                 # binary message kind: one frame
CAMERA = 2                # binary message kind: one camera frame from the browser
MAX_TEXT_BYTES = 16 * 1024
MAX_CAMERA_BYTES = 2 * 2**20
MAX_CAMERA_PIXELS = 1920 * 1080
MAX_CAMERA_FPS = 60.0
FRAME_BACKLOG = 48        # frames a viewer may have waiting before its oldest are dropped
SEND_TIMEOUT = 10.0       # seconds one message may wait for a viewer to read it before it is closed
FRAME_WINDOW = 32         # frames a viewer is sent beyond the last it acknowledged ({"ack": frames received})
READ_MESSAGES_PER_SECOND = 2 * 60.0    # what the server reads of one socket, at most, on average:
READ_BYTES_PER_SECOND = 2 * 2**20      # more waits in the sender's own buffers (its camera stalls)
FRAME_BURST = 16          # frames a viewer may take at once above its max_fps (a chunk leaves at once)
MAX_WATCHED = 16          # streams one viewer may watch
VIEWER_DEFAULTS = {"quality": 85, "max_fps": 60.0}
LIVE_DEFAULTS = {**VIEWER_DEFAULTS, "strength": DEFAULT_STRENGTH, "fps": DEFAULT_FPS, "latency": 200}
"""What the browser starts from (the panel's settings and camera strength, the viewer page, the
player's jitter buffer in ms, the rate before a stream's first frame), served here only: in every
hello and at ``GET /streamdit/defaults``."""
VIEWER_LIMITS = {"quality": (10, 100), "max_fps": (1.0, 240.0)}


def prompt_server():
    """ComfyUI's running server, or None (in-process use without a server)."""
    try:
        from server import PromptServer
    except ImportError:
        return None
    return getattr(PromptServer, "instance", None)


def foreign(request: web.Request) -> bool:
    """Whether ``request`` comes from a page of another site (its Origin not this server)."""
    origin = request.headers.get("Origin")
    return origin is not None and urllib.parse.urlsplit(origin).netloc != request.host


def pixels(images: torch.Tensor) -> np.ndarray:
    """IMAGE [..., H, W, 3] float in [0, 1] -> uint8 [..., H, W, 3] (the one rounding every output uses)."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def to_pil(image: torch.Tensor) -> Image.Image:
    """[H, W, 3] float in [0, 1] -> a PIL image."""
    return Image.fromarray(np.ascontiguousarray(pixels(image)))


def jpeg(image: torch.Tensor, quality: int) -> bytes:
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def frame_message(meta: dict, image: bytes) -> bytes:
    header = json.dumps(meta).encode()
    return struct.pack(">II", FRAME, len(header)) + header + image


def listing() -> dict:
    """Every stream by id, with whether it runs (no prompts: those go to its viewers only)."""
    return {"type": "streams", "streams": {stream_id: {"running": s.running, "frames": s.frames.images_out}
                                           for stream_id, s in STREAMS.items()}}


def status(stream_id: str, session: Session) -> dict:
    return {"type": "status", "stream_id": stream_id, **session.report()}


def camera_message(data: bytes) -> tuple[dict, bytes]:
    """A camera message -> (its JSON header, the JPEG's bytes), read without decoding the image
    (this runs on the server's event loop); ValueError saying what is wrong otherwise."""
    if len(data) < 8:
        raise ValueError("a camera message is [u32 kind][u32 n][n bytes of JSON][JPEG]")
    kind, n = struct.unpack(">II", data[:8])
    if kind != CAMERA or n > MAX_TEXT_BYTES or 8 + n > len(data):
        raise ValueError("a camera message is [u32 2][u32 n][n bytes of JSON][JPEG]")
    try:
        header = json.loads(data[8:8 + n])
    except (ValueError, RecursionError):
        raise ValueError("the camera message's header is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("stream_id"), str):
        raise ValueError("the camera message's header needs a stream_id (a string)")
    stamp = header.get("stamp", 0.0)
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not np.isfinite(stamp):
        raise ValueError("the camera message's stamp must be a number")
    return header, data[8 + n:]


def camera_image(jpeg: bytes, size: tuple[int, int] | None) -> torch.Tensor:
    """A camera frame's JPEG -> [H, W, 3] uint8, at ``size`` (width, height) when given: decoded at
    the JPEG's nearest larger scale, then area-scaled, so a frame larger than the stream costs
    little more than one of its size, and what waits for the stream is at the stream's size. The
    image's size is checked before it is decoded; ValueError otherwise."""
    try:
        image = Image.open(io.BytesIO(jpeg), formats=["JPEG"])
        if image.width * image.height > MAX_CAMERA_PIXELS:
            raise ValueError(f"camera frames may have at most {MAX_CAMERA_PIXELS} pixels, got {image.width}x{image.height}")
        if size is not None and image.size != tuple(size):
            image.draft("RGB", tuple(size))
            image = image.convert("RGB").resize(tuple(size), Image.Resampling.BOX)
        pixels = np.asarray(image.convert("RGB"))
    except (OSError, Image.DecompressionBombError, SyntaxError):
        raise ValueError("the camera frame is not a JPEG image") from None
    return torch.from_numpy(pixels.copy())


CAMERA_DECODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streamdit-camera")


class Viewer:
    """One browser connection: what it watches, how it wants frames, what waits to be sent.
    ``offer_*`` run on the event loop; ``wants`` on the thread that makes frames."""

    def __init__(self, ws: web.WebSocketResponse, client_id: str | None):
        self.ws, self.client_id = ws, client_id
        self.watching: frozenset[str] = frozenset()
        self.listing = False                                 # whether it asked for the list of streams
        self.quality, self.max_fps = VIEWER_DEFAULTS["quality"], VIEWER_DEFAULTS["max_fps"]
        self.dropped = 0
        self.too_slow = False                                # it did not read for SEND_TIMEOUT: closed
        self.sent = self.acked = 0                           # frames handed to it; frames it says it received
        self.token = secrets.token_hex(8)                    # its hello, which it echoes once it reads
        self.reads = False
        self._frames: deque[bytes] = deque()
        self._texts: deque[str] = deque(maxlen=256)
        self._wake = asyncio.Event()
        self._budget: dict[str, tuple[float, float]] = {}   # stream id -> (frames allowed now, when)
        self._camera_at = 0.0                                # when the last camera frame was taken
        self._camera_error: str | None = None
        self._decoding = False                               # a camera frame of this viewer on the worker
        self._camera_waiting: tuple[dict, bytes] | None = None   # the newest that arrived meanwhile
        self._camera_epoch = 0                               # moves on at each camera-off: frames before it are void
        self.camera_dropped = 0                              # camera frames replaced while waiting

    def camera(self, data: bytes) -> None:
        """A camera frame from this browser into its stream (at most ``MAX_CAMERA_FPS`` a second;
        faster ones are dropped). Its header is read here, on the event loop; its image is decoded
        and scaled on the camera worker, one of this viewer's frames at a time (a frame that
        arrives while one is decoding waits in its place, replacing (dropping) any that waited),
        then fed to its stream back on the event loop, in order with this viewer's camera-off.
        A refusal is answered once, not once per frame."""
        now = time.monotonic()
        if now - self._camera_at < 1.0 / MAX_CAMERA_FPS:
            return
        self._camera_at = now
        try:
            header, jpeg = camera_message(data)
        except ValueError as e:
            self._camera_answer(None, str(e))
            return
        if self._decoding:
            self.camera_dropped += self._camera_waiting is not None
            self._camera_waiting = (header, jpeg)
            return
        self._decode_camera(header, jpeg)

    def _decode_camera(self, header: dict, jpeg: bytes) -> None:
        stream_id = header["stream_id"]
        session = STREAMS.get(stream_id)
        if session is None:
            self._camera_answer(stream_id, f"no stream with id {stream_id!r}: queue it first")
            return
        self._decoding = True
        done = asyncio.get_running_loop().run_in_executor(CAMERA_DECODER, camera_image, jpeg, session.input_size)
        epoch = self._camera_epoch
        done.add_done_callback(lambda future: self._camera_decoded(stream_id, session, header, epoch, future))

    def _camera_decoded(self, stream_id: str, session: Session, header: dict, epoch: int, future) -> None:
        """On the event loop, in order with this viewer's other messages: the decoded frame into its
        stream, unless the camera was turned off meanwhile (it would turn it back on)."""
        error = None
        try:
            if epoch == self._camera_epoch and STREAMS.get(stream_id) is session:
                was_on = session.camera is not None
                session.feed(future.result(), header.get("strength", DEFAULT_STRENGTH), header.get("stamp", 0.0))
                if not was_on:
                    STREAMS.changed(stream_id)
        except ValueError as e:
            error = str(e)
        except Exception:   # noqa: BLE001 - a frame's failure must not end the viewer's connection
            logging.exception("[StreamDiT] a camera frame failed")
        self._camera_answer(stream_id, error)
        self._decoding = False
        if self._camera_waiting is not None and not self.ws.closed:
            waiting, self._camera_waiting = self._camera_waiting, None
            self._decode_camera(*waiting)

    def _camera_answer(self, stream_id: str | None, error: str | None) -> None:
        if error != self._camera_error:
            self._camera_error = error
            if error is not None:
                self.offer_text({"type": "camera", "stream_id": stream_id, "error": error})

    def wants(self, stream_id: str, now: float) -> bool:
        """Whether the next frame of ``stream_id`` goes to this viewer: it watches the stream, it has
        shown that it reads (it echoed its hello) and acknowledged all but ``FRAME_WINDOW`` of the
        frames it was sent (a viewer that does not read is sent nothing, or no more: it costs the
        stream nothing), and the frame fits ``max_fps`` on average (a token bucket of
        ``FRAME_BURST`` frames)."""
        if stream_id not in self.watching or not self.reads:
            return False
        if self.sent - self.acked >= FRAME_WINDOW:
            self.dropped += 1
            return False
        allowed, since = self._budget.get(stream_id, (FRAME_BURST, now))
        allowed = min(FRAME_BURST, allowed + (now - since) * self.max_fps)
        self._budget[stream_id] = (allowed - 1, now) if allowed >= 1 else (allowed, now)
        self.sent += allowed >= 1
        return allowed >= 1

    def offer_frame(self, message: bytes) -> None:
        if len(self._frames) >= FRAME_BACKLOG:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(message)
        self._wake.set()

    def offer_text(self, message: dict) -> None:
        self._texts.append(json.dumps(message))
        self._wake.set()

    def configure(self, text: str) -> list[str]:
        """Apply a viewer's JSON request; returns the stream ids it newly watches."""
        try:
            request = json.loads(text)
        except ValueError:
            return []
        if not isinstance(request, dict):
            return []
        camera_off = request.get("camera_off")
        session = STREAMS.get(camera_off) if isinstance(camera_off, str) else None
        if isinstance(camera_off, str):   # this viewer's frames still decoding or waiting are void
            self._camera_epoch += 1
            self._camera_waiting = None
        if session is not None:
            session.request_camera_off()
            STREAMS.changed(camera_off)   # a restart with the same inputs is no longer the cached one
            self._camera_error = None
        for name, (low, high) in VIEWER_LIMITS.items():
            value = request.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high:
                setattr(self, name, type(VIEWER_DEFAULTS[name])(value))
        if isinstance(request.get("list"), bool):
            self.listing = request["list"]
        if request.get("hello") == self.token:
            self.reads = True
        ack = request.get("ack")
        if isinstance(ack, int) and not isinstance(ack, bool) and self.acked < ack <= self.sent:
            self.acked = ack
        watch = request.get("watch")
        if not isinstance(watch, list):
            return []
        ids = frozenset(w for w in watch[:MAX_WATCHED] if isinstance(w, str) and len(w) <= 200)
        new = sorted(ids - self.watching)
        self.watching = ids
        return new

    async def pump(self) -> None:
        while not self.ws.closed:
            await self._wake.wait()
            self._wake.clear()
            while self._texts or self._frames:
                send = self.ws.send_str(self._texts.popleft()) if self._texts else self.ws.send_bytes(self._frames.popleft())
                try:
                    await asyncio.wait_for(send, SEND_TIMEOUT)
                except asyncio.TimeoutError:   # a viewer that does not read: it costs the others nothing more
                    self.too_slow = True
                    try:
                        await asyncio.wait_for(self.ws.close(code=1008, message=b"too slow: frames waited too long"),
                                               SEND_TIMEOUT)
                    except asyncio.TimeoutError:
                        pass   # the heartbeat ends the connection
                    return


class ReadPace:
    """How long to wait before reading one socket's next message, so that the server reads at most
    ``messages`` messages and ``bytes_per_second`` bytes a second of it on average (bursts of a
    tenth of a second pass at once): what a sender sends faster waits in its own buffers, and a
    flood stalls its sender instead of the server's event loop."""

    BURST = 0.1   # seconds of the budget a sender may spend at once

    def __init__(self, messages: float, bytes_per_second: float):
        self.messages, self.bytes_per_second = messages, bytes_per_second
        self._free_at = 0.0

    def wait(self, size: int, now: float) -> float:
        """Seconds to wait after a message of ``size`` bytes read at ``now``."""
        cost = max(1.0 / self.messages, size / self.bytes_per_second)
        self._free_at = max(self._free_at, now - self.BURST) + cost
        return max(0.0, self._free_at - now)


class LiveHub:
    """The connected viewers; safe to call from the thread that runs the streams."""

    def __init__(self):
        self._viewers: set[Viewer] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def viewers(self) -> list[Viewer]:
        with self._lock:
            return list(self._viewers)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if foreign(request):
            return web.json_response({"error": "the live view is for pages of this server"}, status=403)
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_CAMERA_BYTES)
        await ws.prepare(request)
        viewer = Viewer(ws, request.query.get("clientId"))
        self._loop = asyncio.get_running_loop()
        with self._lock:
            self._viewers.add(viewer)
        pump = asyncio.create_task(viewer.pump())
        viewer.offer_text({"type": "hello", "token": viewer.token, "window": FRAME_WINDOW,
                           "defaults": LIVE_DEFAULTS})
        pace = ReadPace(READ_MESSAGES_PER_SECOND, READ_BYTES_PER_SECOND)
        try:
            async for message in ws:
                size = len(message.data) if isinstance(message.data, (bytes, str)) else 0
                await asyncio.sleep(pace.wait(size, time.monotonic()))
                if message.type == WSMsgType.BINARY:
                    viewer.camera(message.data)
                    continue
                if message.type != WSMsgType.TEXT:
                    continue
                if len(message.data) > MAX_TEXT_BYTES:
                    await ws.close(code=1009, message=b"text messages are at most 16 KB")
                    break
                listed = viewer.listing
                for stream_id in viewer.configure(message.data):
                    session = STREAMS.get(stream_id)
                    if session is not None:
                        viewer.offer_text(status(stream_id, session))
                if viewer.listing and not listed:
                    viewer.offer_text(listing())
        finally:
            with self._lock:
                self._viewers.discard(viewer)
            pump.cancel()
        return ws

    def _call(self, callback, *args) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback, *args)

    def send_status(self, stream_id: str, session: Session, owner: str | None) -> None:
        """The stream's state to its viewers and to the browser ``owner`` that queued the run;
        the list of streams to the viewers that asked for it."""
        message, streams = status(stream_id, session), listing()
        for viewer in self.viewers():
            if stream_id in viewer.watching or (owner is not None and viewer.client_id == owner):
                self._call(viewer.offer_text, message)
            if viewer.listing:
                self._call(viewer.offer_text, streams)

    def send_frames(self, stream_id: str, first_index: int, images: torch.Tensor, meta: dict,
                    input_times: list) -> None:
        """Frames ``first_index``.. of ``stream_id`` (IMAGE [n, H, W, 3]) to the viewers watching it,
        each JPEG encoded once per quality asked for; ``input_times[n]``: the stamp of the camera
        frame frame n was drawn from, or None."""
        for n, image in enumerate(images):
            now = time.time()
            takers = [v for v in self.viewers() if not v.too_slow and v.wants(stream_id, now)]
            encoded: dict[int, bytes] = {}
            for viewer in takers:
                if viewer.quality not in encoded:
                    encoded[viewer.quality] = frame_message(
                        {"stream_id": stream_id, "index": first_index + n, "time": now, **meta,
                         **({} if input_times[n] is None else {"input_time": input_times[n]})},
                        jpeg(image, viewer.quality))
            if takers:   # one call onto the event loop a frame, however many viewers take it
                self._call(offer_to, [(viewer, encoded[viewer.quality]) for viewer in takers])


def offer_to(pairs: list) -> None:
    """(viewer, frame message) pairs: each message into its viewer's queue (on the event loop)."""
    for viewer, message in pairs:
        viewer.offer_frame(message)


HUB = LiveHub()
