"""How fast the server answers when pushed, through a real ComfyUI server on this machine.

Rows: how long Cancel takes to stop a run at the largest buffers the shipped teacher
allows (4096 tokens, guided: two model passes per step), in its start-up and while it
streams; the longest a plain request (/system_stats) waits while a 1 MB schedule is
refused and while 20,000 re-prompts arrive; and the next 8-frame run after that flood
against one before it (the baseline). Then a small stream (64x64, the student, 192 frames)
against itself, medians of five runs taken in turn: fed by a socket flooding it with
full-HD noise camera frames, against fed by a camera at its own size and rate (and the
longest /system_stats waited); watched by 300 sockets that never read, against by none.

Usage: python bench/hardening.py
"""
from __future__ import annotations

import copy
import json
import os
import platform
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "scripts")]
from comfy_server import ComfyServer  # noqa: E402
from raw_websocket import send_text, websocket  # noqa: E402

SIZES = [  # (width, height, K, N, c, s): each buffer is 4096 tokens of the shipped teacher (16x16 pixels a token)
    (64, 64, 0, 64, 4, 1),
    (256, 256, 0, 8, 2, 2),
    (1024, 64, 0, 8, 2, 2),
    (256, 128, 2, 15, 2, 1),
]


def prompt(stream_id: str, frames: int, **stream) -> dict:
    with open(os.path.join(ROOT, "example_workflows", "api", "streamdit_continue_stream.json")) as f:
        workflow = json.load(f)
    del workflow["5"]
    workflow["3"]["inputs"].update(stream_id=stream_id, frames=frames, action="restart", **stream)
    return workflow


def cancel_latency(server: ComfyServer, stream: dict, phase: str) -> float:
    """Seconds from POST /interrupt to the run's end, sent 0.3 s into its ``phase``
    ("start-up": before its first frame; "streaming": after it)."""
    status, answer = server.queue(prompt("cancel", 100000, **stream))
    assert status == 200, answer
    while not server.get("/queue")["queue_running"]:
        time.sleep(0.01)
    while phase == "streaming" and not server.get("/streamdit/streams").get("cancel", {}).get("frames"):
        time.sleep(0.05)
    time.sleep(0.3)
    made = server.get("/streamdit/streams").get("cancel", {}).get("frames", 0)
    assert (made > 0) == (phase == "streaming"), (phase, made)
    sent = time.time()
    server.request("POST", "/interrupt", {})
    entry = server.wait(answer["prompt_id"], timeout=600)
    ended = next(m[1]["timestamp"] for m in entry["status"]["messages"] if m[0] == "execution_interrupted") / 1000
    return ended - sent


def longest_wait(server: ComfyServer, action) -> tuple[float, float]:
    """Run ``action()``; meanwhile ask /system_stats every 20 ms: (action's seconds, longest answer's seconds)."""
    waits, done = [], threading.Event()

    def ask():
        while not done.is_set():
            start = time.monotonic()
            server.get("/system_stats")
            waits.append(time.monotonic() - start)
            time.sleep(0.02)

    asker = threading.Thread(target=ask)
    asker.start()
    start = time.monotonic()
    action()
    seconds = time.monotonic() - start
    done.set()
    asker.join()
    return seconds, max(waits)


def small_stream(stream_id: str) -> dict:
    """The student at 64x64 (N=4 c=2 s=1), 192 frames, not paced: as fast as this machine goes."""
    workflow = prompt(stream_id, 192, width=64, height=64, K=0, N=4, c=2, s=1, guidance=1.0)
    workflow["1"]["inputs"]["model_name"] = "streamdit-shapes-64px-distilled.safetensors"
    return workflow


def run_seconds(server: ComfyServer, workflow: dict) -> float:
    """Seconds the run took on the server (from its start to its success, as its messages say)."""
    entry = server.run(workflow)
    times = {m[0]: m[1]["timestamp"] for m in entry["status"]["messages"]}
    return (times["execution_success"] - times["execution_start"]) / 1000


def noise_jpeg(width: int, height: int) -> bytes:
    import io

    import numpy as np
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
        buffer, format="JPEG", quality=60)
    return buffer.getvalue()


def camera(server: ComfyServer, stream_id: str, jpeg: bytes, fps: float | None, done: threading.Event) -> int:
    """Camera frames (``jpeg``, again and again) to ``stream_id`` on one socket, ``fps`` a second or
    (None) as fast as the server takes them, until ``done``; returns how many were sent."""
    import struct
    meta = json.dumps({"stream_id": stream_id, "strength": 0.6, "stamp": 0}).encode()
    message = struct.pack(">II", 2, len(meta)) + meta + jpeg
    _, sock = websocket(server)
    sent = 0
    while not done.wait(0 if fps is None else 1 / fps):
        send_text(sock, message, opcode=2)
        sent += 1
    send_text(sock, json.dumps({"camera_off": stream_id}).encode())
    sock.close()
    return sent


def fed_run(server: ComfyServer, stream_id: str, jpeg: bytes, fps: float | None) -> tuple[float, int, float]:
    """(the run's seconds, camera frames sent, the longest /system_stats waited) of the small stream
    while a camera sends ``jpeg`` ``fps`` a second (None: as fast as it can)."""
    done, sent, timed = threading.Event(), {}, {}
    feeding = threading.Thread(target=lambda: sent.update(frames=camera(server, stream_id, jpeg, fps, done)))
    feeding.start()
    _, wait = longest_wait(server, lambda: timed.update(seconds=run_seconds(server, small_stream(stream_id))))
    done.set()
    feeding.join()
    return timed["seconds"], sent["frames"], wait


def watched_run(server: ComfyServer, stream_id: str, viewers: int) -> float:
    """The small stream's run seconds while ``viewers`` sockets watch it and never read."""
    sockets = []
    for _ in range(viewers):
        _, sock = websocket(server)
        send_text(sock, json.dumps({"watch": [stream_id], "max_fps": 240}).encode())
        sockets.append(sock)
    seconds = run_seconds(server, small_stream(stream_id))
    for sock in sockets:
        sock.close()
    return seconds


def small_stream_rows(server: ComfyServer, repeats: int = 5) -> list[tuple[str, float, str]]:
    """The small stream's rows, each the median of ``repeats`` runs taken in turn (this machine's
    own noise is tens of percent): fed by a camera at its size and rate, then by a full-HD flood
    instead; watched by nobody, then by 300 sockets that never read."""
    import statistics
    run_seconds(server, small_stream("small-warm"))                  # the student loaded
    small, full_hd = noise_jpeg(64, 64), noise_jpeg(1920, 1080)
    times = {"camera": [], "flood": [], "alone": [], "watched": []}
    floods = []
    for i in range(repeats):                                         # a new stream id each: never a cached result
        times["camera"].append(fed_run(server, f"small-camera-{i}", small, 16.0)[0])
        seconds, sent, wait = fed_run(server, f"small-flood-{i}", full_hd, None)
        times["flood"].append(seconds)
        floods.append((sent, wait))
        times["alone"].append(run_seconds(server, small_stream(f"small-alone-{i}")))
        times["watched"].append(watched_run(server, f"small-watched-{i}", 300))
    m = {k: statistics.median(v) for k, v in times.items()}
    sent, wait = max(floods, key=lambda f: f[1])
    return [("a 64x64 stream, 192 frames, its camera at 64x64, 16 fps (the baseline)", m["camera"],
             f"s, {192 / m['camera']:.1f} frames/s"),
            ("the same, a socket flooding it with full-HD noise camera frames instead", m["flood"],
             f"s ({m['flood'] / m['camera']:.2f}x the baseline's time; {sent} frames sent; "
             f"/system_stats waited at most {wait:.3f} s)"),
            ("a 64x64 stream, 192 frames, no viewer (the baseline)", m["alone"], f"s, {192 / m['alone']:.1f} frames/s"),
            ("the same, 300 viewers watching it that never read", m["watched"],
             f"s ({m['watched'] / m['alone']:.2f}x the baseline's time)")]


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as base, ComfyServer(base) as server:
        for width, height, K, N, c, s in SIZES:
            stream = dict(width=width, height=height, K=K, N=N, c=c, s=s)
            what = f"Cancel, {width}x{height} K={K} N={N} c={c} s={s} (B={K + N * c})"
            for phase in ("start-up", "streaming"):
                rows.append((f"{what}, in its {phase}", cancel_latency(server, stream, phase), "s until the run stopped"))

        big = prompt("big", 8)
        big["2"]["inputs"]["schedule"] = "\n".join(f"{i}: a red circle moving right" for i in range(105_000))
        seconds, wait = longest_wait(server, lambda: server.queue(big))
        rows.append(("a 1 MB, 105,000-line schedule refused", seconds, f"s; /system_stats waited at most {wait:.3f} s"))

        flood = prompt("flood", 8)
        base_run = time.monotonic()
        server.run(flood)
        before = time.monotonic() - base_run

        def posts():
            for i in range(20_000):
                server.request("POST", "/streamdit/prompt", {"stream_id": "flood", "prompt": f"a red circle {i}"})

        seconds, wait = longest_wait(server, posts)
        rows.append(("20,000 live re-prompts posted", seconds, f"s; /system_stats waited at most {wait:.3f} s"))
        continued = copy.deepcopy(flood)
        continued["3"]["inputs"]["action"] = "continue"
        start = time.monotonic()
        server.run(continued)
        after = time.monotonic() - start
        rows.append(("the next 8-frame run after them", after, f"s (before the flood: {before:.2f} s, "
                                                               f"ratio {after / before:.2f})"))

        rows += small_stream_rows(server)
    print(f"{platform.machine()}, {os.cpu_count()} cores; the shipped teacher, guidance 3 (the student for the "
          "64x64 rows), through ComfyUI's server")
    print("| case | seconds | |")
    print("|---|---|---|")
    for case, seconds, note in rows:
        print(f"| {case} | {seconds:.2f} | {note} |")


if __name__ == "__main__":
    main()
