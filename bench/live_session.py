"""A live session through a real ComfyUI server, watched over the pack's websocket as the
panel watches it: the shipped endless workflow (the student, 16 fps, recorded).

- *until stopped*: one run with frames 0 for ``--minutes``, then POST /streamdit/stop. Per
  minute: frames made, their rate, the longest wait between two frames reaching the viewer,
  the server's resident memory and the recording's size; at the end, the recording decoded
  against its index.
- *Run (Instant)*: ``--instant-minutes`` of back-to-back runs of ``--frames`` frames, each
  queued the moment the one before has said it ended (the frontend's Run (Instant) queues on
  ComfyUI's own queue-empty message, a moment later): the
  gap at each run boundary (the last frame of a run to the first of the next reaching the
  viewer, and as the panel's player would show them) against one frame interval.

Usage: python bench/live_session.py [--minutes 10] [--instant-minutes 5] [--frames 32] [--every 60]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import struct
import sys
import tempfile
import threading
import time

import av

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "scripts")]
from comfy_server import ComfyServer  # noqa: E402
from raw_websocket import receive, send_text, websocket  # noqa: E402

FPS = 16.0


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


class Viewer(threading.Thread):
    """Watches ``stream_id`` on a raw websocket, acknowledging as the panel does: every frame's
    (index, arrival time)."""

    def __init__(self, server, stream_id: str):
        super().__init__(daemon=True)
        _, self.sock = websocket(server, reads=True, timeout=60)
        send_text(self.sock, json.dumps({"watch": [stream_id], "quality": 85}).encode())
        self.arrivals: list[tuple[int, float]] = []
        self.ended = threading.Event()   # a run of the stream ended (its status: not running)
        self.stopped = False

    def run(self) -> None:
        received = 0
        while not self.stopped:
            try:
                opcode, payload = receive(self.sock)
            except (OSError, ConnectionError):
                return
            if opcode == 1:
                message = json.loads(payload)
                if message.get("type") == "status" and message.get("running") is False:
                    self.ended.set()
                continue
            if opcode != 2 or struct.unpack(">I", payload[:4])[0] != 1:
                continue
            length = struct.unpack(">I", payload[4:8])[0]
            meta = json.loads(payload[8:8 + length])
            self.arrivals.append((meta["index"], time.monotonic()))
            received += 1
            if received % 8 == 0:
                send_text(self.sock, json.dumps({"ack": received}).encode())


def endless(prompt: dict, stream_id: str, frames: int) -> dict:
    prompt = json.loads(json.dumps(prompt))
    prompt["3"]["inputs"].update(stream_id=stream_id, frames=frames, realtime=True, record=True, fps=FPS)
    return prompt


def until_stopped(server, prompt: dict, minutes: float, every: float) -> None:
    viewer = Viewer(server, "session")
    viewer.start()
    status, answer = server.queue(endless(prompt, "session", 0))
    assert status == 200, answer
    print(f"\n### Until stopped: one run, {minutes:g} min\n")
    print("| at (s) | frames made | frames / s | longest wait between frames (ms) | server RSS (MiB) | recording (MiB) |")
    print("|---|---|---|---|---|---|")
    start, made_before = time.monotonic(), 0
    for row in range(1, round(60 * minutes / every) + 1):
        time.sleep(max(0.0, start + every * row - time.monotonic()))
        report = server.get("/streamdit/streams")["session"]
        now = time.monotonic()
        times = [t for _, t in viewer.arrivals if t >= now - every]
        wait = max((b - a for a, b in zip(times, times[1:])), default=float("nan"))
        folder = os.path.join(server.base, "output", "streamdit")
        size = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder) if n.endswith(".mp4"))
        print(f"| {every * row:.0f} | {report['frames']} | {(report['frames'] - made_before) / every:.2f} | {wait * 1000:.0f} "
              f"| {rss_mib(server.process.pid):.0f} | {size / 2**20:.1f} |", flush=True)
        made_before = report["frames"]
    assert server.request("POST", "/streamdit/stop", {"stream_id": "session"})[0] == 202
    entry = server.wait(answer["prompt_id"], timeout=120)
    viewer.stopped = True
    folder = os.path.join(server.base, "output", "streamdit")
    (video,) = [n for n in os.listdir(folder) if n.startswith("session") and n.endswith(".mp4")]
    with open(os.path.join(folder, video + ".json")) as f:
        index = json.load(f)
    with av.open(os.path.join(folder, video)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    made = server.get("/streamdit/streams")["session"]["frames"]
    shown = len({i for i, _ in viewer.arrivals})
    print(f"\nstopped: run {entry['status']['status_str']}, {made} frames made, {shown} reached the viewer, "
          f"the recording decodes to {decoded} frames, its index lists {index['frames']} (the newest is held "
          "until the stream goes on or the file closes)")


def displayed(arrivals: list[tuple[int, float]], latency: float) -> list[float]:
    """When a player with the panel's rule (``web/live/player.js``: frame n due ``latency`` after
    the first arrival plus n / fps; a late frame moves the clock back) shows each frame."""
    shown, base, first = [], None, None
    for index, arrival in arrivals:
        if base is None:
            base, first = arrival + latency, index
        due = base + (index - first) / FPS
        if arrival > due:
            base += arrival - due
            due = arrival
        shown.append(due)
    return shown


def instant(server, prompt: dict, minutes: float, frames: int) -> None:
    viewer = Viewer(server, "instant")
    viewer.start()
    runs, boundaries, deadline = 0, [], time.monotonic() + 60 * minutes
    made = 0
    while time.monotonic() < deadline:
        viewer.ended.clear()
        status, answer = server.queue(endless(prompt, "instant", frames))
        assert status == 200, answer
        assert viewer.ended.wait(120), "the run did not end"   # the next is queued at once, as the frontend does
        runs += 1
        made += frames
        boundaries.append(made)   # the first frame index of the next run
    time.sleep(1.0)
    viewer.stopped = True
    arrival = dict(viewer.arrivals)
    gaps = sorted(arrival[i] - arrival[i - 1] for i in boundaries[:-1] if i in arrival and i - 1 in arrival)
    inside = sorted(b - a for (i, a), (j, b) in zip(viewer.arrivals, viewer.arrivals[1:]) if j == i + 1
                    and j not in boundaries)
    interval = 1 / FPS
    latency = server.get("/streamdit/defaults")["latency"] / 1000
    shown = displayed(viewer.arrivals, latency)
    at = {index: t for (index, _), t in zip(viewer.arrivals, shown)}
    played = sorted(at[i] - at[i - 1] for i in boundaries[:-1] if i in at and i - 1 in at)
    print(f"\n### Run (Instant): {runs} runs of {frames} frames in {minutes:g} min\n")
    print("| between | frames | median (ms) | 90th percentile (ms) | longest (ms) | longest / one frame interval |")
    print("|---|---|---|---|---|---|")
    for name, values in (("frames inside a run", inside), ("the last frame of a run and the next run's first", gaps),
                         (f"the same, as a player with the panel's {latency * 1000:.0f} ms buffer shows them", played)):
        if values:
            p90 = values[int(0.9 * (len(values) - 1))]
            print(f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} | {p90 * 1000:.0f} "
                  f"| {values[-1] * 1000:.0f} | {values[-1] / interval:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="the until-stopped run's length")
    ap.add_argument("--instant-minutes", type=float, default=5.0, help="the Run (Instant) part's length (0: none)")
    ap.add_argument("--frames", type=int, default=32, help="frames per Run (Instant) run")
    ap.add_argument("--every", type=float, default=60.0, help="seconds per row of the until-stopped table")
    args = ap.parse_args()
    with open(os.path.join(ROOT, "example_workflows", "api", "streamdit_endless_live.json")) as f:
        prompt = json.load(f)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; ComfyUI on the CPU; "
          f"the student at 64x64, {FPS:g} fps")
    with ComfyServer(tempfile.mkdtemp(prefix="streamdit-live-")) as server:
        if args.minutes > 0:
            until_stopped(server, prompt, args.minutes, args.every)
        if args.instant_minutes > 0:
            instant(server, prompt, args.instant_minutes, args.frames)


if __name__ == "__main__":
    main()
