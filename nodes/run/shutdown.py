"""The server's end closes every recording completely (and ends every live push): on SIGTERM and SIGHUP (a service stopped,
a terminal closed) a running stream is stopped as the panel's Stop does (its run then writes
what it made, up to ``DRAIN_SECONDS``), and every recording is closed, before the server goes
as it would have without the pack; at the interpreter's exit (Ctrl-C) the recordings are
closed. After ``kill -9`` nothing runs: the recordings hold what reached the disk (every frame
but the last few, ``recorder.py``)."""
from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time

from ..live.registry import STREAMS
from .push import close_every as end_pushes
from .recorder import close_every

DRAIN_SECONDS = 10.0   # how long a stopping run may take to write what it made

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def close_recordings() -> None:
    """Every recording closed completely, and every live push ended."""
    for close, what in ((close_every, "a recording could not be closed"), (end_pushes, "a live push could not end")):
        try:
            close()
        except Exception:   # the server is going: say it, never keep it from going
            logging.exception(f"[StreamDiT] {what}")


def stop_running_streams(timeout: float = DRAIN_SECONDS) -> None:
    """Ask every running stream to stop and wait (at most ``timeout`` s) for their runs to end."""
    sessions = [session for _, session in STREAMS.items() if session.running]
    for session in sessions:
        session.request_stop()
    deadline = time.monotonic() + timeout
    while any(session.running for session in sessions) and time.monotonic() < deadline:
        time.sleep(0.05)


def on_signal(previous):
    """A handler that stops the running streams and closes the recordings, then does what
    ``previous`` (the handler before the pack's) would have: calls it, or ends the process with
    the signal's default action."""
    def handler(signum, frame):
        stop_running_streams()
        close_recordings()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
    return handler


INSTALLED = threading.Event()


def close_recordings_at_exit() -> None:
    """Install the handlers, once (from the main thread; elsewhere only the exit hook)."""
    if INSTALLED.is_set():
        return
    INSTALLED.set()
    atexit.register(close_recordings)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        signal.signal(sig, on_signal(signal.getsignal(sig)))
