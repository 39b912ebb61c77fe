"""One growing video per stream: every frame written through as it is made.

The video is a fragmented MP4 (H.264) in ComfyUI's output folder, ``streamdit/<stream
id>_NNNNN_.mp4``; it plays while it grows and gains a fragment with every frame (a keyframe
a second, and one at the start of every run), each written through to the disk. The muxer
holds the newest frame until the next one comes (or the file closes). Beside it,
``<video>.json`` is its index: the frames the file holds, whether it is complete (closed), the
stream's timeline (every
prompt switch, scheduled or live, with its frame), its runs and settings; it is rewritten
with every piece of frames, so at any moment the file decodes to at least the frames its
index lists. An MP4 that grows cannot rewrite its header, so the header carries what is
known at the start and the index the rest. ``close_every`` closes every open recording
completely (the server's shutdown).
"""
from __future__ import annotations

import json
import os
import re
import threading
import weakref
from fractions import Fraction

import av
import folder_paths
import numpy as np
import torch

from ..live.hub import pixels

INDEX_SUFFIX = ".json"


def file_safe(name: str) -> str:
    """``name`` with every character but letters, digits, '-' and '_' replaced (for file names)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "stream"


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """IMAGE [n, H, W, 3] float in [0, 1] -> uint8 [n, H', W', 3], cropped to even sizes (H.264's 4:2:0)."""
    frames = pixels(images)
    return frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]


OPEN: "weakref.WeakSet[StreamRecorder]" = weakref.WeakSet()   # every recording not yet closed


def close_every() -> None:
    """Close every open recording completely (its newest frame and index included)."""
    for recorder in list(OPEN):
        recorder.close()


class StreamRecorder:
    """``write(images)`` appends frames; ``index(...)`` rewrites the index; ``close()`` ends the
    file. Thread-safe: a run writes on its output thread while the server's shutdown may close."""

    def __init__(self, stream_id: str, fps: float, header: dict):
        self._lock = threading.Lock()
        self._index_content: dict = {}
        self.closed = False
        self.timeline: list[list] = []   # every prompt switch the recording has seen
        folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(
            f"streamdit/{file_safe(stream_id)}", folder_paths.get_output_directory())
        os.makedirs(folder, exist_ok=True)
        self.filename = f"{name}_{counter:05}_.mp4"
        self.subfolder = subfolder
        self.path = os.path.join(folder, self.filename)
        self.fps = fps
        self.frames = 0
        self._header = header
        self._container = None
        self._video = None

    def _open(self, height: int, width: int) -> None:
        self._container = av.open(self.path, "w", format="mp4", options={
            "movflags": "frag_every_frame+empty_moov+default_base_moof+use_metadata_tags", "flush_packets": "1"})
        OPEN.add(self)
        for key, value in self._header.items():
            self._container.metadata[key] = json.dumps(value)
        self._video = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1000))
        self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
        self._video.options = {"crf": "18", "preset": "veryfast", "tune": "zerolatency",
                               "g": str(max(1, round(self.fps))), "forced-idr": "1"}

    def write(self, images: torch.Tensor, run_start: bool = False) -> None:
        """Append IMAGE frames [n, H, W, 3]; ``run_start``: the first frames of a run (a keyframe,
        where a player can start)."""
        pixels = to_uint8(images)
        with self._lock:
            if self.closed:
                return
            if len(pixels) and self._container is None:
                self._open(*pixels.shape[1:3])
            for i, frame in enumerate(pixels):
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                if run_start and i == 0:
                    picture.pict_type = av.video.frame.PictureType.I
                for packet in self._video.encode(picture):
                    self._container.mux(packet)
            self.frames += len(pixels)

    @property
    def frames_in_file(self) -> int:
        """Frames the file holds now: all written but the newest while it is open (the muxer holds
        the newest frame's fragment until the next frame comes)."""
        return self.frames - 1 if self._container is not None and self.frames else self.frames

    def index(self, timeline: list[list], content: dict) -> None:
        """Rewrite the index beside the video with the stream's ``timeline`` ([frame, prompt]
        entries) merged into what it recorded before (entries before the timeline's first one
        stay: a long stream's timeline drops its oldest) and ``content``."""
        with self._lock:
            if self.closed:
                return
            start = timeline[0][0] if timeline else float("inf")
            self.timeline = [entry for entry in self.timeline if entry[0] < start] + [list(e) for e in timeline]
            self._index_content = content
            self._write_index()

    def _write_index(self) -> None:
        """The index as it stands, written atomically (readers never see half a file)."""
        partial = self.path + INDEX_SUFFIX + ".partial"
        with open(partial, "w") as f:
            json.dump({"video": self.filename, "fps": self.fps, "frames": self.frames_in_file,
                       "complete": self._container is None, "timeline": self.timeline, **self._index_content},
                      f, indent=1)
        os.replace(partial, self.path + INDEX_SUFFIX)

    def close(self) -> None:
        """End the file (its newest frame written) and the index with it; later writes are ignored."""
        with self._lock:
            if self.closed:
                return
            if self._container is not None:
                for packet in self._video.encode():
                    self._container.mux(packet)
                self._container.close()
                self._container = None
                self._write_index()
            self.closed = True
            OPEN.discard(self)
