"""One queued run of a stream node: find or start the session, advance it by some
frames with a progress bar (the user's interrupt), live frames, and stop requests."""
from __future__ import annotations

import logging

import comfy.utils

from ..stream_core.engine.session import Session, SessionFactory, StopRequested
from .live import LiveView, prompt_server
from .registry import STREAMS
from .types import StreamFrames


def tell_user(text: str, node_id: str | None) -> None:
    """A warning in the log and, when a server runs, as text on the node."""
    logging.warning("[StreamDiT] %s", text)
    server = prompt_server()
    if server is not None and node_id is not None:
        server.send_progress_text(text, node_id)


def open_session(stream_id: str, action: str, factory: SessionFactory) -> Session:
    """The session of ``stream_id`` when ``action`` is continue and the factory's key (model,
    seed, size, partition) is unchanged; otherwise a new one from the factory."""
    session = STREAMS.get(stream_id)
    if action == "restart" or session is None or session.key != factory.key:
        session = factory.create()
        STREAMS.put(stream_id, session)
    return session


def advance(session: Session, stream_id: str, frames: int, node_id: str | None) -> StreamFrames:
    """Take ``frames`` more output frames; the caller holds ``session.lock``."""
    first = session.frames.frames_taken
    bar = comfy.utils.ProgressBar(frames)
    live = LiveView(stream_id, session, node_id)

    def progress(ready, images):
        live.frames(images)
        bar.update_absolute(ready, frames)   # raises on the user's interrupt
        session.apply_requests()             # a new prompt, or stop

    session.running = True
    live.status()
    try:
        session.apply_requests()
        images = session.frames.take(frames, progress=progress)
    except StopRequested:
        images = session.frames.take(max(session.frames.ready, 1))
    finally:
        session.running = False
        live.status()
    return StreamFrames(images.float().cpu(), first, stream_id)


def run_stream(factory: SessionFactory, stream_id: str, action: str, frames: int, node_id: str | None) -> StreamFrames:
    """What every stream node does: open or continue the session, apply this run's settings,
    warn about words the model does not know, advance by ``frames``."""
    session = open_session(stream_id, action, factory)
    with session.lock:
        factory.reconfigure(session)
        unknown = session.source.unknown_words()
        if unknown:
            tell_user(f"the model does not know the word(s): {', '.join(unknown)}; they are ignored", node_id)
        return advance(session, stream_id, frames, node_id)
