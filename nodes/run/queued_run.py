"""One queued run of a stream node: find or start the session, then advance it by some
frames. Each frame, as it is made, goes to the live viewers, to the stream's recording and
to the run's output; the JPEG and video encoding happen on the run's output thread (a
``Backlog``, in order) while the stream makes the next frames. Between steps the run honours
Cancel, the browser's requests (new prompt, stop) and, for a real-time stream, its frame rate.

Cancel keeps nothing back: frames made before it were shown live and recorded, the next
run starts after them (``first_frame`` jumps), and the cancelled run returns no output.
Stop ends the run with the frames it has.
"""
from __future__ import annotations

import functools
import logging
import sys
from collections import deque
from dataclasses import dataclass

import comfy.model_management
import comfy.utils
import torch

from ...stream_core.engine.backlog import Backlog
from ...stream_core.engine.session import UNTIL_STOPPED, Session, SessionFactory, StopRequested
from ..live.hub import prompt_server
from ..live.live_view import LiveView
from ..live.registry import MAX_STREAM_BYTES, MAX_STREAMS, STREAMS, stream_id_problem
from ..types import DEFAULT_FPS, StreamFrames
from .pacer import Pacer
from .push import LivePush
from .recorder import StreamRecorder

MAX_HELD_BYTES = 2 * 2**30   # a run's IMAGE output keeps at most this much, its newest frames
OUTPUT_BLOCK_BYTES = 16 * 2**20   # the largest block of it (RunOutput)
RUN_END_AHEAD = 0.5          # seconds of a paced run's last frames made without waiting (see ``advance``)
OUTPUT_BACKLOG = 4           # output jobs waiting before the stream waits (a piece of frames makes two: live view, recording)


@dataclass(frozen=True)
class RunOptions:
    """How a run delivers its frames. ``fps``: the stream's frame rate (its pace, the panel's
    playback, the recording and the VIDEO); ``realtime``: make frames no faster than ``fps``;
    ``record``: write every frame to the stream's growing video (``recorder.py``); ``push``:
    send every frame live to this RTMP / SRT URL (``push.py``; empty: none)."""

    fps: float = DEFAULT_FPS
    realtime: bool = False
    record: bool = False
    push: str = ""                # a media server's ingest URL: the stream is pushed there live (``push.py``)


class RunOutput:
    """The frames a run returns, at most ``limit`` bytes of them: past it the oldest go.

    Frames are copied into blocks of up to ``block_bytes`` (the first small, each twice the one
    before): a run that streams for minutes makes its frames a chunk at a time (two 64x64 frames
    are 96 KiB), and one tensor per chunk left the allocator's heap, between the steps'
    temporaries, holding about 1.5x the frames' bytes. Each ``add`` costs the same however many
    frames came before."""

    def __init__(self, limit: int = MAX_HELD_BYTES, block_bytes: int = OUTPUT_BLOCK_BYTES):
        self.limit, self.block_bytes = limit, block_bytes
        self.blocks: deque[torch.Tensor] = deque()   # each [frames, H, W, C]; only the newest is partly filled
        self.filled = self.dropped = self._frames = self._bytes = 0

    def add(self, images: torch.Tensor) -> None:
        images = images.float().cpu()
        done = 0
        while done < len(images):
            if not self.blocks or self.filled == len(self.blocks[-1]):
                self._open(images)
            block = self.blocks[-1]
            n = min(len(block) - self.filled, len(images) - done)
            block[self.filled:self.filled + n] = images[done:done + n]
            self.filled, self._frames, done = self.filled + n, self._frames + n, done + n
        while len(self.blocks) > 1 and self._bytes > self.limit:
            oldest = self.blocks.popleft()
            self._bytes, self._frames = self._bytes - oldest.nbytes, self._frames - len(oldest)
            self.dropped += len(oldest)

    def _open(self, images: torch.Tensor) -> None:
        """A new, empty newest block for frames like ``images``."""
        most = max(1, self.block_bytes // images[0].nbytes)
        frames = min(most, 2 * len(self.blocks[-1]) if self.blocks else len(images))
        self.blocks.append(torch.empty((frames, *images.shape[1:])))
        self._bytes, self.filled = self._bytes + self.blocks[-1].nbytes, 0

    def __len__(self) -> int:
        return self._frames

    def images(self) -> torch.Tensor:
        *full, newest = self.blocks
        return torch.cat([*full, newest[:self.filled]])


def tell_user(text: str, node_id: str | None) -> None:
    """A warning in the log and, when a server runs, as text on the node, for the browser that
    queued the prompt only (as ComfyUI's own execution messages go); none when no browser did."""
    logging.warning("[StreamDiT] %s", text)
    server = prompt_server()
    client = getattr(server, "client_id", None)
    if node_id is not None and client is not None:
        server.send_progress_text(text, node_id, client)


def open_session(stream_id: str, action: str, factory: SessionFactory, node_id: str | None = None) -> Session:
    """The session of ``stream_id`` when ``action`` is continue and the factory's key (model,
    seed, size, partition) is unchanged; otherwise a new one from the factory. Streams dropped
    to make room, and a continue that finds its stream dropped, are told on the node."""
    session = STREAMS.get(stream_id)
    if action == "restart" or session is None or session.key != factory.key:
        if action == "continue" and session is None and STREAMS.was_dropped(stream_id):
            tell_user(f"stream '{stream_id}' was dropped earlier to make room for other streams (at most "
                      f"{MAX_STREAMS} are kept, the least recently used goes): it starts again from frame 0", node_id)
        session = factory.create()
        for dropped in STREAMS.put(stream_id, session):
            tell_user(f"stream '{dropped}' was dropped to make room for '{stream_id}' (at most {MAX_STREAMS} "
                      f"streams, {MAX_STREAM_BYTES >> 30} GiB between runs, are kept)", node_id)
    return session


def attached(session: Session, name: str, wanted: bool, fits, make):
    """The session's attachment ``name`` when ``wanted``: the one it has if ``fits(it)``, else
    a new one from ``make()`` (the old one closed); None (and the old one closed) otherwise."""
    current = session.attachments.get(name)
    if current is not None and not (wanted and fits(current)):
        session.attachments.pop(name)
        getattr(current, "close", lambda: None)()
        current = None
    if wanted and current is None:
        current = session.attachments[name] = make()
    return current


def advance(session: Session, stream_id: str, frames: int, node_id: str | None,
            options: RunOptions = RunOptions()) -> StreamFrames:
    """Take ``frames`` more output frames (``UNTIL_STOPPED``: until a stop or Cancel); the caller
    holds ``session.lock``.

    A paced run makes its last ``RUN_END_AHEAD`` seconds of frames without waiting and ends:
    its viewers still play them at the stream's pace while Run (Instant) queues the next run
    (the frontend takes a few hundred ms to), which waits as its first frames come due."""
    endless = frames == UNTIL_STOPPED
    wanted = sys.maxsize if endless else frames
    first = session.frames.frames_taken
    bar = comfy.utils.ProgressBar(1 if endless else frames)
    live = LiveView(stream_id, session, options.fps)
    recorder = attached(session, "recording", options.record, lambda r: r.fps == options.fps and not r.closed,
                        lambda: StreamRecorder(stream_id, options.fps, {"streamdit": {"stream_id": stream_id,
                                                                                      "first_frame": first}}))
    pusher = attached(session, "push", bool(options.push), lambda p: p.url == options.push and p.fps == options.fps,
                      lambda: LivePush(options.push, options.fps))
    if pusher is not None:
        pusher.say = lambda text: tell_user(text, node_id)   # on this run's node
    pacer = attached(session, "pacer", options.realtime, lambda p: p.fps == options.fps, lambda: Pacer(options.fps))
    ahead = round(RUN_END_AHEAD * options.fps)
    kept = RunOutput()
    output = Backlog(OUTPUT_BACKLOG)
    made = 0

    def record(images: torch.Tensor, run_start: bool, next_frame: int) -> None:
        """On the run's output thread: the frames into the stream's video, then its index."""
        recorder.write(images, run_start=run_start)
        recorder.index(session.report()["timeline"], {"stream_id": stream_id, "next_frame": next_frame})

    def take(images: torch.Tensor) -> None:
        nonlocal made
        live.frames(first + made, images, output.submit)
        if recorder is not None and len(images):
            output.submit(functools.partial(record, images, made == 0, first + made + len(images)))
        if pusher is not None and len(images):
            output.submit(functools.partial(pusher.send, images))
        kept.add(images)
        made += len(images)

    def between_steps() -> None:
        comfy.model_management.throw_exception_if_processing_interrupted()
        session.apply_requests()   # a new prompt, or stop

    def sink(images: torch.Tensor) -> None:
        take(images)
        bar.update_absolute(made, made + 1 if endless else frames, live.preview(images))   # endless: always nearly full
        between_steps()
        if pacer is not None:   # the run's last RUN_END_AHEAD s: no wait (see the docstring)
            pacer.made(len(images), between_steps, wait=made < wanted - ahead)

    session.stream.before_pass = comfy.model_management.throw_exception_if_processing_interrupted   # Cancel, start-up too
    session.running = True
    try:
        live.status()
        try:
            session.apply_requests()   # a stop sent before the first step ends the run as any stop does
            session.frames.deliver(wanted, sink)
        except StopRequested:
            if not made:
                session.frames.deliver(1, take)
        output.drain()   # every frame shown and recorded; a failed recording fails the run
    except comfy.model_management.InterruptProcessingException:
        STREAMS.changed(stream_id)
        raise
    finally:
        output.close()   # after Cancel or an error too, what was made is shown and recorded
        session.running = False
        if recorder is not None:
            recorder.index(session.report()["timeline"], {"stream_id": stream_id,
                                                           "next_frame": session.frames.frames_taken})
        live.status()
    if kept.dropped:
        tell_user(f"this run made {made} frames; its outputs keep the newest {len(kept)} "
                  f"({MAX_HELD_BYTES >> 30} GiB); record the stream to keep every frame", node_id)
    recording = None if recorder is None else {"filename": recorder.filename, "subfolder": recorder.subfolder,
                                               "type": "output"}
    tap = session.attachments.get("latents")
    return StreamFrames(kept.images(), first + kept.dropped, stream_id, options.fps,
                        tuple(tuple(entry) for entry in session.report()["timeline"]), recording,
                        None if tap is None else tap.take())


def run_stream(factory: SessionFactory, stream_id: str, action: str, frames: int, node_id: str | None,
               options: RunOptions = RunOptions()) -> StreamFrames:
    """What every stream node does: open or continue the session, apply this run's settings,
    warn about words the model does not know and settings it was not trained for, advance by
    ``frames``."""
    why = stream_id_problem(stream_id)
    if why is not None:
        raise ValueError(f"stream_id = {stream_id!r}: {why}")
    session = open_session(stream_id, action, factory, node_id)
    with session.lock:
        factory.reconfigure(session)
        unknown = session.source.unknown_words()
        if unknown:
            tell_user(f"the model does not know the word(s): {', '.join(unknown)}; they are ignored", node_id)
        for note in factory.notes:
            tell_user(note, node_id)
        return advance(session, stream_id, frames, node_id, options)
