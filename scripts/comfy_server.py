"""Run the real ComfyUI with this pack installed, and talk to it over HTTP (stdlib only).

ComfyUI comes from $COMFYUI_PATH or .deps/comfyui (see scripts/setup.sh). The server
gets its own base directory (models, custom_nodes, input, output, user), where the pack
is linked in as custom_nodes/streamdit-comfy, so a user's own checkout is never touched.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACK_NAME = "streamdit-comfy"


def comfy_path() -> str:
    return os.environ.get("COMFYUI_PATH") or os.path.join(ROOT, ".deps", "comfyui")


def frontend_args() -> list[str]:
    """``--front-end-root`` for the frontend that $STREAMDIT_FRONTEND_ROOT names (a frontend package's
    ``static`` folder); none, so ComfyUI serves the one it pins, when it is unset."""
    root = os.environ.get("STREAMDIT_FRONTEND_ROOT")
    return ["--front-end-root", root] if root else []


def versions() -> str:
    """Which ComfyUI and frontend the tests and servers here run on, e.g.
    ``ComfyUI 0.33.0 (.deps/comfyui-0.33), frontend 1.58.1 (--front-end-root)``."""
    import importlib.metadata
    import re
    with open(os.path.join(comfy_path(), "comfyui_version.py")) as f:
        comfy = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)
    root = os.environ.get("STREAMDIT_FRONTEND_ROOT")
    if root:
        match = re.search(r"frontend-([0-9.]+)", root)
        frontend = f"{match.group(1) if match else root} (--front-end-root)"
    else:
        frontend = f"{importlib.metadata.version('comfyui-frontend-package')} (as pinned)"
    return f"ComfyUI {comfy} ({os.path.relpath(comfy_path(), ROOT)}), frontend {frontend}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_base(base: str, extra_nodes: tuple[str, ...] = ()) -> str:
    """A ComfyUI base directory with the pack (and ``extra_nodes``, folders of other custom
    nodes) linked into custom_nodes/; returns it."""
    nodes_dir = os.path.join(base, "custom_nodes")
    for sub in ("custom_nodes", "user", "input", "output"):
        os.makedirs(os.path.join(base, sub), exist_ok=True)
    for target, name in [(ROOT, PACK_NAME), *((path, os.path.basename(path)) for path in extra_nodes)]:
        link = os.path.join(nodes_dir, name)
        if os.path.islink(link) and os.path.realpath(link) != os.path.realpath(target):
            os.remove(link)
        if not os.path.islink(link):
            os.symlink(target, link)
    return base


class ComfyServer:
    """``with ComfyServer(base) as server:`` starts ComfyUI (CPU) and stops it after."""

    def __init__(self, base: str, port: int | None = None, extra_args: tuple[str, ...] = (),
                 extra_nodes: tuple[str, ...] = ()):
        self.base = prepare_base(os.path.abspath(base), extra_nodes)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = extra_args
        self.client_id = uuid.uuid4().hex
        self.log_path = os.path.join(self.base, "comfyui.log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> "ComfyServer":
        cmd = [sys.executable, os.path.join(comfy_path(), "main.py"), "--cpu", "--listen", "127.0.0.1",
               "--port", str(self.port), "--base-directory", self.base,
               "--database-url", "sqlite:///" + os.path.join(self.base, "user", "comfyui.db"), *frontend_args(),
               *self.extra_args]
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, cwd=comfy_path(), stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.get("/system_stats")
                return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "ComfyServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, chars: int = 4000) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()[-chars:]

    # --- HTTP ------------------------------------------------------------------------
    def request(self, method: str, path: str, body: dict | None = None,
                raw: bytes | None = None) -> tuple[int, dict | list | str]:
        """(HTTP status, decoded JSON or text); ``raw`` sends bytes as they are."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str):
        status, body = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}: {body}")
        return body

    def queue(self, prompt: dict) -> tuple[int, dict]:
        """POST /prompt; returns (HTTP status, answer): prompt_id on 200, node_errors on 400."""
        return self.request("POST", "/prompt", {"prompt": prompt, "client_id": self.client_id})

    def wait(self, prompt_id: str, timeout: float = 600.0) -> dict:
        """The /history entry of a prompt once it has finished (successfully or not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            history = self.get(f"/history/{prompt_id}")
            if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
                entry = history[prompt_id]
                if entry["status"]["status_str"] in ("success", "error"):
                    return entry
            time.sleep(0.2)
        raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout:.0f} s")

    def run(self, prompt: dict, timeout: float = 600.0) -> dict:
        """Queue a prompt and wait for it; raises with ComfyUI's own errors if it is refused."""
        status, answer = self.queue(prompt)
        if status != 200:
            raise RuntimeError(f"ComfyUI refused the prompt (HTTP {status}): {json.dumps(answer, indent=1)}")
        return self.wait(answer["prompt_id"], timeout)

    def output_path(self, item: dict) -> str:
        """Path on disk of an output file listed in a /history entry."""
        folder = {"output": "output", "temp": "temp"}[item.get("type", "output")]
        return os.path.join(self.base, folder, item.get("subfolder", ""), item["filename"])


if __name__ == "__main__":
    print(versions())
