"""One run's live output: what its frames show, read on the stream's thread, and the frames
handed (off that thread) to the websocket's viewers (``hub.py``) and the WebRTC peers
(``webrtc.py``); a few frames a second to the stream node."""
from __future__ import annotations

import time
from collections import deque
from typing import Callable

import torch

from ...stream_core.engine.session import Session
from .hub import HUB, prompt_server, to_pil
from .webrtc import PEERS

NODE_PREVIEW_FPS = 8.0    # the newest frame on the stream node, at most this often
NODE_PREVIEW_SIZE = 512   # pixels, longest side


class LiveView:
    """One run's live output: statuses and every frame to the hub, a few frames to the node."""

    def __init__(self, stream_id: str, session: Session, fps: float):
        self.stream_id, self.session, self.fps = stream_id, session, fps
        server = prompt_server()
        self.owner = getattr(server, "client_id", None)
        self._last_preview = 0.0
        self._made = deque(maxlen=32)   # (time, frames) of recent pieces, for the measured rate
        self._timeline: list | None = None

    def status(self) -> None:
        self._timeline = self.session.report()["timeline"]
        HUB.send_status(self.stream_id, self.session, self.owner)

    def frames(self, first_index: int, images: torch.Tensor, later: Callable[[Callable[[], None]], None]) -> None:
        """images: IMAGE [n, H, W, 3], frames ``first_index``.. of the stream (n may be 0). What they
        show (prompt, noise levels, camera) is read now; their encoding and sending is handed to
        ``later`` (a run's ``Backlog.submit``: off the stream's thread, in order)."""
        if not len(images):
            return
        now = time.monotonic()
        self._made.append((now, len(images)))
        span = now - self._made[0][0]
        made_fps = sum(n for _, n in list(self._made)[1:]) / span if span > 0 else 0.0
        report = self.session.report()
        if report["timeline"] != self._timeline:   # a live prompt switch: viewers get the new timeline
            self.status()
        source = self.session.stream.frame_input
        input_times = [source.left(first_index + n) if source is not None and source.live else None
                       for n in range(len(images))]
        meta = {"session": id(self.session), "fps": self.fps, "made_fps": round(made_fps, 2), "prompt": report["prompt"],
                "tau": report["tau"], "camera": report["camera"], "similarity_filter": report["similarity_filter"]}
        later(lambda: self._send(first_index, images, meta, input_times))

    def _send(self, first_index: int, images: torch.Tensor, meta: dict, input_times: list) -> None:
        HUB.send_frames(self.stream_id, first_index, images, meta, input_times)
        PEERS.send_frames(self.stream_id, first_index, images, self.fps)

    def preview(self, images: torch.Tensor) -> tuple | None:
        """The newest of ``images`` for ComfyUI's progress bar (shown on the node), at most
        ``NODE_PREVIEW_FPS`` times a second; None otherwise."""
        now = time.monotonic()
        if not len(images) or now - self._last_preview < 1.0 / NODE_PREVIEW_FPS:
            return None
        self._last_preview = now
        return "JPEG", to_pil(images[-1]), NODE_PREVIEW_SIZE
