"""Frames of a running stream to the browser, as they are made (websocket events)."""
from __future__ import annotations

import base64
import io
import time

import numpy as np
import torch
from PIL import Image

from ..stream_core.engine.session import Session

EVENT_FRAME = "streamdit.frame"     # one finished frame, with the stream's state
EVENT_STATUS = "streamdit.status"   # a run started or ended
MAX_MESSAGES_PER_SECOND = 30


def prompt_server():
    """ComfyUI's running server, or None (in-process use without a server)."""
    try:
        from server import PromptServer
    except ImportError:
        return None
    return getattr(PromptServer, "instance", None)


def jpeg_data_url(image: torch.Tensor, quality: int = 85) -> str:
    """[H, W, 3] float in [0, 1] -> a JPEG data URL."""
    pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


class LiveView:
    """Sends a stream's frames, at most ``MAX_MESSAGES_PER_SECOND`` (the newest wins)."""

    def __init__(self, stream_id: str, session: Session, node_id: str | None):
        self.stream_id, self.session, self.node_id = stream_id, session, node_id
        self.server = prompt_server()
        self._last_sent = 0.0
        self._fps = 0.0
        self._last_frame_time: float | None = None

    def _send(self, event: str, payload: dict) -> None:
        if self.server is not None:
            self.server.send_sync(event, {"stream_id": self.stream_id, "node": self.node_id, **payload})

    def status(self) -> None:
        self._send(EVENT_STATUS, self.session.report())

    def frames(self, images: torch.Tensor) -> None:
        """images: [n, H, W, 3] in [0, 1] that one micro-step finished (n may be 0)."""
        n = len(images)
        if n == 0 or self.server is None:
            return
        now = time.monotonic()
        if self._last_frame_time is not None:
            rate = n / max(now - self._last_frame_time, 1e-6)
            self._fps = rate if self._fps == 0 else 0.8 * self._fps + 0.2 * rate
        self._last_frame_time = now
        if now - self._last_sent < 1.0 / MAX_MESSAGES_PER_SECOND:
            return
        self._last_sent = now
        self._send(EVENT_FRAME, {"frame": self.session.frames.images_out - 1, "fps": round(self._fps, 2),
                                 "image": jpeg_data_url(images[-1]), **self.session.report()})
