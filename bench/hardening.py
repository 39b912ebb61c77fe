"""How fast the server answers when pushed, through a real ComfyUI server on this machine.

Rows: how long Cancel takes to stop a run at the largest buffers the shipped teacher
allows (4096 tokens, guided: two model passes per step), in its start-up and while it
streams; the longest a plain request (/system_stats) waits while a 1 MB schedule is
refused and while 20,000 re-prompts arrive; and the next 8-frame run after that flood
against one before it (the baseline). Then a small stream (64x64, the student, 192 frames)
against itself: while one socket floods it with full-HD noise camera frames (its frames per
second as a ratio to its rate with no camera, and the longest /system_stats waited), and
while 300 viewers watch it and never read.

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


def camera_flood(server: ComfyServer, stream_id: str, done: threading.Event) -> int:
    """Full-HD noise camera frames to ``stream_id`` on one socket, as fast as it takes them, until
    ``done``; returns how many were sent."""
    import struct
    jpeg = noise_jpeg(1920, 1080)
    meta = json.dumps({"stream_id": stream_id, "strength": 0.6, "stamp": 0}).encode()
    message = struct.pack(">II", 2, len(meta)) + meta + jpeg
    _, sock = websocket(server)
    sent = 0
    while not done.is_set():
        send_text(sock, message, opcode=2)
        sent += 1
    send_text(sock, json.dumps({"camera_off": stream_id}).encode())
    sock.close()
    return sent


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

        small = small_stream("small")
        run_seconds(server, small)                                        # warm
        alone = run_seconds(server, small)
        rows.append(("a 64x64 stream, 192 frames, no camera (the baseline)", alone, f"s, {192 / alone:.1f} frames/s"))
        done, sent, timed = threading.Event(), {}, {}
        flooding = threading.Thread(target=lambda: sent.update(frames=camera_flood(server, "small", done)))
        flooding.start()
        _, wait = longest_wait(server, lambda: timed.update(seconds=run_seconds(server, small)))
        done.set()
        flooding.join()
        rows.append(("the same while one socket sends full-HD noise camera frames", timed["seconds"],
                     f"s ({sent['frames']} frames sent; {timed['seconds'] / alone:.2f}x its time alone; "
                     f"/system_stats waited at most {wait:.3f} s)"))
        viewers = []
        for _ in range(300):
            _, sock = websocket(server)
            send_text(sock, b'{"watch": ["small"], "max_fps": 240}')
            viewers.append(sock)
        watched = run_seconds(server, small)
        for sock in viewers:
            sock.close()
        rows.append(("the same with 300 viewers that never read", watched,
                     f"s ({watched / alone:.2f}x its time alone)"))
    print(f"{platform.machine()}, {os.cpu_count()} cores; the shipped teacher, guidance 3 (the student for the "
          "64x64 rows), through ComfyUI's server")
    print("| case | seconds | |")
    print("|---|---|---|")
    for case, seconds, note in rows:
        print(f"| {case} | {seconds:.2f} | {note} |")


if __name__ == "__main__":
    main()
