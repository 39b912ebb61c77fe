"""A stream as an NDI® source on the local network, for Resolume, TouchDesigner, OBS (with its
NDI plugin), vMix: the push's second way out (``push.py``), named ``ndi://<source name>``.

NDI needs the optional package ``cyndilib`` (MIT), whose wheel brings Vizrt's NDI runtime
under the NDI SDK license (http://ndi.link/ndisdk_license, ``libndi_licenses.txt`` in the
wheel). The pack does not ship that runtime: a user who wants NDI installs cyndilib. Frames
go out as RGBX at the stream's fps; NDI clocks them (a stream faster than its fps has frames
dropped by the push's queue, as a slow media server would)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

SCHEME = "ndi"
MAX_NAME = 64


def source_name(url: str) -> str:
    """The NDI source name of ``ndi://<name>``: 1 to 64 printable characters; ValueError else."""
    name = url.split("://", 1)[1].strip()
    if not 0 < len(name) <= MAX_NAME or not name.isprintable():
        raise ValueError(f"an NDI source is named ndi://<name>, 1 to {MAX_NAME} printable characters")
    return name


def missing() -> str | None:
    """Why NDI cannot be used here (the optional package absent, or its runtime not loading); None when it can."""
    try:
        import cyndilib.sender  # noqa: F401
    except ImportError as e:
        return (f"NDI output needs the optional package cyndilib (pip install cyndilib; it brings the NDI "
                f"runtime, under the NDI SDK license): {e}")
    return None


class NdiOutput:
    """One NDI source sending frames [H, W, 3] uint8 of one size at ``fps``: ``send``, ``close``."""

    def __init__(self, name: str, fps: float, width: int, height: int):
        from cyndilib.sender import Sender
        from cyndilib.video_frame import VideoSendFrame
        from cyndilib.wrapper.ndi_structs import FourCC
        frame = VideoSendFrame()
        frame.set_resolution(width, height)
        frame.set_fourcc(FourCC.RGBX)
        frame.set_frame_rate(Fraction(fps).limit_denominator(1000))
        self._sender = Sender(name, clock_video=True)
        self._sender.set_video_frame(frame)
        self._sender.open()

    def send(self, frame: np.ndarray) -> None:
        rgbx = np.empty((*frame.shape[:2], 4), np.uint8)   # a fresh buffer, kept until the next: the runtime
        rgbx[..., :3] = frame                               # may still read the last one
        self._last = rgbx
        if not self._sender.write_video(rgbx.ravel()):
            raise ConnectionError("the NDI runtime refused a frame")

    def close(self) -> None:
        self._sender.close()
