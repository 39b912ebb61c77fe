"""Debian's nginx with its RTMP module as a media server on a loopback port, for the live-push
tests and benchmarks: it takes what is pushed to ``rtmp://127.0.0.1:<port>/live/<name>``, serves it
to players at the same URL and records it (``record_dir``, one FLV per publishing, named by the
second it started). Nothing is left running: ``stop()`` kills it, the context ends it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from typing import Callable

NGINX, RTMP_MODULE = "/usr/sbin/nginx", "/usr/lib/nginx/modules/ngx_rtmp_module.so"


def available() -> str | None:
    """Why no media server can start here, or None when one can."""
    if not (os.path.exists(NGINX) and os.path.exists(RTMP_MODULE)):
        return "Debian's nginx with libnginx-mod-rtmp is not installed (scripts/setup.sh installs it with apt)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class MediaServer:
    """``with MediaServer(folder) as server:`` nginx-rtmp on ``server.url`` (``rtmp://127.0.0.1:<port>/live``)."""

    def __init__(self, folder: str | None = None):
        self._scratch = None if folder else tempfile.TemporaryDirectory()
        self.folder = folder or self._scratch.name
        self.record_dir = os.path.join(self.folder, "recorded")
        os.makedirs(self.record_dir, exist_ok=True)
        self.port = _free_port()
        self.url = f"rtmp://127.0.0.1:{self.port}/live"
        self.conf = os.path.join(self.folder, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(f"""load_module {RTMP_MODULE};
daemon off;
master_process off;
pid {self.folder}/nginx.pid;
error_log {self.folder}/error.log info;
events {{}}
rtmp {{
    server {{
        listen 127.0.0.1:{self.port};
        application live {{ live on; record all; record_path {self.record_dir}; record_unique on; }}
    }}
}}
""")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> "MediaServer":
        why = available()
        if why:
            raise RuntimeError(why)
        self.process = subprocess.Popen([NGINX, "-c", self.conf, "-p", self.folder], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not listen on {self.port}: see {self.folder}/error.log")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """Gone at once, as a crash would leave it (its recording unfinished)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Ended gracefully (its recordings finished)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def recordings(self) -> list[str]:
        """What it recorded, oldest first."""
        paths = [os.path.join(self.record_dir, n) for n in os.listdir(self.record_dir) if n.endswith(".flv")]
        return sorted(paths, key=os.path.getmtime)

    def __enter__(self) -> "MediaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if self._scratch is not None:
            self._scratch.cleanup()


def play(url: str, seen: Callable[[float, object], None]) -> None:
    """Plays the broadcast at ``url`` as a low-delay player does (PyAV, no buffering), calling
    ``seen(time.time(), frame [H, W, 3] uint8)`` as each frame is decoded, until it ends. A player
    must join a broadcast that already runs: before its publisher, nginx-rtmp answers EIO."""
    import av
    try:
        with av.open(url, options={"rtmp_live": "live", "fflags": "nobuffer", "probesize": "32768",
                                   "analyzeduration": "500000"}, timeout=(10, 10)) as video:
            for picture in video.decode(video=0):
                seen(time.time(), picture.to_ndarray(format="rgb24"))
    except (OSError, av.error.FFmpegError):   # the broadcast ended
        pass
