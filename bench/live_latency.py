"""Glass-to-glass latency of the ways a stream is watched, in the same run: the JPEG websocket
(the panel's and the viewer's player), WebRTC (the viewer with ``&webrtc=1``, WHEP through
aiortc) and, where Debian's nginx-rtmp is installed, the live push (*push to* an RTMP URL,
played back from the media server by a low-delay PyAV player). A real ComfyUI server streams
the shipped endless workflow (the student, 16 fps, until stopped); two pages of headless
Chromium watch it.

Latency of a frame: from the server's clock when the frame was handed to the viewers (its
``time`` on the websocket) to the page's clock when it is shown (the player's paint; the
video's ``expectedDisplayTime``). Server and browser share this machine's clock. A WebRTC
frame carries no index, so the WebRTC page also receives the JPEG frames and names each
video frame after the JPEG frame it looks most like (32x32 grey, least absolute difference);
the RTMP player's frames are named the same way, against the JPEG frames of a viewer in this
script, and timed as they are decoded.

Usage: python bench/live_latency.py [--seconds 30] [--size 64]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import io
import struct
import threading

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "scripts")]
from browser import launch  # noqa: E402
import media_server  # noqa: E402
from comfy_server import ComfyServer  # noqa: E402
from raw_websocket import receive, send_text, websocket  # noqa: E402

STREAM = "latency"

WEBSOCKET_PAGE = """() => { window.__sent = {};
    window.streamditView.client.addEventListener("frame", (e) => { window.__sent[e.detail.index] = e.detail.meta.time; }); }"""

WEBRTC_PAGE = """(stream) => {
    const size = 32, refs = [], shown = [];
    const canvas = new OffscreenCanvas(size, size), g = canvas.getContext("2d", { willReadFrequently: true });
    const grey = (source) => { g.drawImage(source, 0, 0, size, size);
        const d = g.getImageData(0, 0, size, size).data, out = new Float32Array(size * size);
        for (let i = 0; i < out.length; i++) out[i] = d[4 * i] + d[4 * i + 1] + d[4 * i + 2];
        return out; };
    const view = window.streamditView;
    view.client.addEventListener("frame", async (e) => {
        const bitmap = await createImageBitmap(e.detail.blob);
        refs.push({ index: e.detail.index, time: e.detail.meta.time, grey: grey(bitmap) });
        bitmap.close();
        if (refs.length > 64) refs.shift(); });
    view.client.watch([stream]);
    const video = document.querySelector("[data-testid=streamdit-view-rtc]");
    const each = (now, meta) => {
        if (refs.length) {
            const mine = grey(video);
            let best = null, bestCost = Infinity;
            for (const ref of refs) {
                let cost = 0;
                for (let i = 0; i < mine.length; i++) cost += Math.abs(mine[i] - ref.grey[i]);
                if (cost < bestCost) { bestCost = cost; best = ref; } }
            shown.push([best.index, performance.timeOrigin + meta.expectedDisplayTime - best.time * 1000]); }
        video.requestVideoFrameCallback(each); };
    video.requestVideoFrameCallback(each);
    window.__shown = shown; }"""


def grey(image: Image.Image) -> np.ndarray:
    """A frame as the matching sees it: 32x32 grey."""
    return np.asarray(image.convert("L").resize((32, 32)), np.float32)


class Reference(threading.Thread):
    """The stream's JPEG frames from a viewer of the pack's websocket: index -> (server time, grey)."""

    def __init__(self, server):
        super().__init__(daemon=True)
        _, self.sock = websocket(server, reads=True, timeout=60)
        send_text(self.sock, json.dumps({"watch": [STREAM]}).encode())
        self.frames: dict[int, tuple[float, np.ndarray]] = {}
        self.stopped = False

    def run(self) -> None:
        received = 0
        while not self.stopped:
            try:
                opcode, payload = receive(self.sock)
            except (OSError, ConnectionError):
                return
            if opcode != 2 or struct.unpack(">I", payload[:4])[0] != 1:
                continue
            length = struct.unpack(">I", payload[4:8])[0]
            meta = json.loads(payload[8:8 + length])
            self.frames[meta["index"]] = (meta["time"], grey(Image.open(io.BytesIO(payload[8 + length:]))))
            received += 1
            if received % 8 == 0:
                send_text(self.sock, json.dumps({"ack": received}).encode())

    def latency_ms(self, shown: float, frame: np.ndarray) -> float:
        """From the reference frame ``frame`` looks most like to ``shown`` (seconds, this machine's clock)."""
        mine = grey(Image.fromarray(frame))
        recent = [(t, g) for t, g in list(self.frames.values()) if shown - 5 < t <= shown]
        if not recent:
            return float("nan")
        t, _ = min(recent, key=lambda tg: float(np.abs(tg[1] - mine).sum()))
        return 1000 * (shown - t)


def percentile(values: list[float], p: float) -> float:
    return sorted(values)[int(p * (len(values) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0, help="how long both pages watch")
    ap.add_argument("--size", type=int, default=64, help="the stream's width and height")
    args = ap.parse_args()
    with open(os.path.join(ROOT, "example_workflows", "api", "streamdit_endless_live.json")) as f:
        prompt = json.load(f)
    prompt["3"]["inputs"].update(stream_id=STREAM, frames=0, realtime=True, record=False, width=args.size,
                                 height=args.size)
    media = None if media_server.available() else media_server.MediaServer().start()
    if media is not None:
        prompt["3"]["inputs"]["push_to"] = f"{media.url}/{STREAM}"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; ComfyUI on the CPU; "
          f"the student at {args.size}x{args.size}, 16 fps; headless Chromium, both pages on this machine")
    with ComfyServer(tempfile.mkdtemp(prefix="streamdit-latency-")) as server, sync_playwright() as p:
        browser = launch(p)
        try:
            status, answer = server.queue(prompt)
            assert status == 200, answer
            websocket = browser.new_page()
            websocket.goto(f"{server.url}/streamdit/view?stream={STREAM}")
            websocket.wait_for_function("() => window.streamditView")
            websocket.evaluate(WEBSOCKET_PAGE)
            webrtc = browser.new_page()
            webrtc.goto(f"{server.url}/streamdit/view?stream={STREAM}&webrtc=1")
            webrtc.wait_for_function("() => window.streamditView && window.streamditView.webrtc")
            webrtc.evaluate(WEBRTC_PAGE, STREAM)
            reference, played = Reference(server), []
            reference.start()
            if media is not None:   # the push is on by now (the pages watched its first frames)
                threading.Thread(target=media_server.play, daemon=True,
                                 args=(f"{media.url}/{STREAM}", lambda t, frame: played.append((t, frame)))).start()
            time.sleep(args.seconds)
            log = websocket.evaluate("() => window.streamditView.player.stats.log.map(([i, t]) =>"
                                     " [i, performance.timeOrigin + t - window.__sent[i] * 1000])")
            matched = webrtc.evaluate("() => window.__shown")
            info = webrtc.evaluate("() => document.querySelector('[data-testid=streamdit-view-info]').textContent")
        finally:
            server.request("POST", "/streamdit/stop", {"stream_id": STREAM})
            browser.close()
            if media is not None:
                media.stop()
    pushed = [(None, reference.latency_ms(t, frame)) for t, frame in played]
    reference.stopped = True
    print(f"\nthe WebRTC page said: {info}\n")
    print("| path | frames shown | median latency (ms) | 90th percentile (ms) | median / the websocket's |")
    print("|---|---|---|---|---|")
    base = None
    paths = [("JPEG websocket (the panel's player, its 200 ms buffer)", log), ("WebRTC (WHEP, aiortc's VP8)", matched)]
    if media is not None:
        paths.append(("RTMP push (nginx-rtmp, a PyAV player decoding)", pushed))
    for name, rows in paths:
        latencies = [ms for _, ms in rows if ms == ms]
        if not latencies:
            print(f"| {name} | 0 | - | - | - |")
            continue
        median = statistics.median(latencies)
        base = base or median
        print(f"| {name} | {len(latencies)} | {median:.0f} | {percentile(latencies, 0.9):.0f} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
