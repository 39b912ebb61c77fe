"""How fast the server answers when pushed, through a real ComfyUI server on this machine.

Rows: how long Cancel takes to stop a run at the largest buffers the shipped teacher
allows (4096 tokens, guided: two model passes per step), in its start-up and while it
streams; the longest a plain request (/system_stats) waits while a 1 MB schedule is
refused and while 20,000 re-prompts arrive; and the next 8-frame run after that flood
against one before it (the baseline).

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
    print(f"{platform.machine()}, {os.cpu_count()} cores; the shipped teacher, guidance 3, through ComfyUI's server")
    print("| case | seconds | |")
    print("|---|---|---|")
    for case, seconds, note in rows:
        print(f"| {case} | {seconds:.2f} | {note} |")


if __name__ == "__main__":
    main()
