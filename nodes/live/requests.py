"""What a live request to a stream does, whichever way it comes (the HTTP routes, OSC): its
checks and its answer, in one place. A refusal is a ``Refused`` with the HTTP status it means."""
from __future__ import annotations

from ...stream_core.engine.frame_input import check_strength
from ...stream_core.engine.session import Session
from ...stream_core.engine.timeline import live_prompt_problem
from .registry import STREAMS, stream_id_problem


class Refused(Exception):
    """A request that cannot be done: ``status`` (400 bad, 404 unknown stream, 409 not now) and why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def session_of(stream_id: str) -> Session:
    """The stream ``stream_id``'s session; Refused when the id is bad (400) or unknown (404)."""
    why = stream_id_problem(stream_id)
    if why is not None:
        raise Refused(400, f"stream_id: {why}")
    session = STREAMS.get(stream_id)
    if session is None:
        raise Refused(404, f"no stream with id {stream_id!r}; known: {[k for k, _ in STREAMS.items()]}")
    return session


def reprompt(stream_id: str, prompt: str) -> dict:
    """``prompt`` takes over the stream from its next step (or its next run)."""
    why = live_prompt_problem(prompt)
    if why is not None:
        raise Refused(400, why)
    session = session_of(stream_id)
    if not session.source.accepts_text:
        raise Refused(409, session.source.how_to_reprompt)
    prompt = prompt.strip()
    session.request_prompt(prompt)
    STREAMS.changed(stream_id)
    return {"queued": True, "running": session.running, "unknown_words": session.source.unknown_words(prompt)}


def stop(stream_id: str) -> dict:
    """The stream's running run ends with the frames it has."""
    session = session_of(stream_id)
    if not session.running:
        raise Refused(409, f"stream {stream_id!r} is not running")
    session.request_stop()
    STREAMS.changed(stream_id)
    return {"stopping": True}


def set_strength(stream_id: str, strength: float) -> dict:
    """The strength of the stream's input (its video input or camera) from its next step."""
    try:
        strength = check_strength(strength)
    except ValueError as e:
        raise Refused(400, str(e)) from None
    session = session_of(stream_id)
    if session.stream.frame_input is None:
        raise Refused(409, f"stream {stream_id!r} has no video input or camera now: strength is an input's")
    session.request_strength(strength)
    return {"queued": True, "strength": strength}
