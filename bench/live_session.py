"""A live session as a user has it: ComfyUI's page in headless Chromium with the live panel
open, the shipped endless template (the student at 64x64, 16 fps, recorded) through a real
ComfyUI server.

- *until stopped*: one Run with frames 0 for ``--minutes``; every ``--every`` seconds a re-prompt
  typed into the panel and sent with Switch, then a row: frames made and shown by the panel (and
  passed over), the longest freeze on the panel, how long the re-prompt took to show (Switch to
  the first frame made under the new prompt on the panel), the server's resident memory and the
  recording's size. Then the panel's Stop: how long until the panel says idle, and the
  recording decoded against its index.
- *Run (Instant)*: ``--instant-minutes`` with the frontend's own Run (Instant) on runs of
  ``--frames`` frames, then the panel's Stop: the gap on the panel at each run boundary (the
  last shown frame of a run to the first of the next) against one frame interval.

Usage: python bench/live_session.py [--minutes 10] [--instant-minutes 5] [--frames 32] [--every 60]
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

import av
from playwright.sync_api import sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "scripts")]
from browser import launch, open_comfy  # noqa: E402
from comfy_server import ComfyServer  # noqa: E402

FPS = 16.0
TEMPLATE = "streamdit_endless_live"
PROMPTS = ("a blue square moving left", "a red circle moving right")
PANEL = "[data-testid=streamdit-panel]"


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def tid(name: str) -> str:
    return f"{PANEL} [data-testid=streamdit-{name}]"


class Panel:
    """ComfyUI's page with the live panel watching ``stream_id`` of the endless template loaded
    with ``widgets``; ``shown`` gathers every frame the panel showed: (index, page ms)."""

    def __init__(self, browser, server, stream_id: str, **widgets):
        self.page = page = open_comfy(browser, server)
        self.stream_id, self.shown = stream_id, []
        page.evaluate("() => window.app.extensionManager.command.execute('Workspace.ToggleBottomPanelTab.streamdit-live')")
        workflow = server.get(f"/api/workflow_templates/streamdit-comfy/{TEMPLATE}.json")
        page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", workflow)
        page.evaluate("""(widgets) => { const node = window.app.graph._nodes.find(n => n.type === 'StreamDiTStream');
            for (const [name, value] of Object.entries(widgets)) node.widgets.find(w => w.name === name).value = value; }""",
                      dict(stream_id=stream_id, **widgets))
        page.evaluate("(id) => window.streamditLive.panel.show(id)", stream_id)

    def now(self) -> float:
        return self.page.evaluate("() => performance.now()")

    def run(self, instant: bool = False) -> None:
        if instant:
            version = self.page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__ ?? ''")
            newer = tuple(int(n) for n in version.split(".")[:2]) >= (1, 40)   # newer: instant-idle / -running
            self.page.evaluate("(mode) => { window.app.extensionManager.queueSettings.mode = mode; }",
                               "instant-running" if newer else "instant")
        self.page.evaluate("() => window.app.queuePrompt(0)")

    def collect(self) -> dict:
        """Adds the frames the panel showed since the last call (its log keeps the last 600)."""
        stats = self.page.evaluate("() => { const s = window.streamditLive.panel.player.stats;"
                                   " return {log: s.log, dropped: s.dropped, shown: s.shown}; }")
        last = self.shown[-1][0] if self.shown else -1
        self.shown += [(index, t) for index, t in stats["log"] if index > last]
        return stats

    def wait(self, seconds: float) -> None:
        """``seconds`` of watching, gathering the panel's frames every 5 s."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(5.0, left))
            self.collect()

    def reprompt(self, prompt: str) -> float:
        """Types ``prompt`` and presses Switch; the page's time of the press."""
        self.page.fill(tid("input"), prompt)
        return self.page.evaluate("(sel) => { document.querySelector(sel).click(); return performance.now(); }",
                                  tid("switch"))

    def stop(self) -> float:
        """Presses the panel's Stop: ms until the panel says the stream is idle."""
        pressed = self.page.evaluate("(sel) => { document.querySelector(sel).click(); return performance.now(); }",
                                     tid("stop"))
        idle = self.page.wait_for_function(
            "([sel, id]) => document.querySelector(sel)?.textContent === `${id} — idle` && performance.now()",
            arg=[tid("stream"), self.stream_id], polling=10, timeout=60_000).json_value()
        return idle - pressed


def longest_freeze(shown: list[tuple[int, float]], since: float) -> float:
    times = [t for _, t in shown if t >= since]
    return max((b - a for a, b in zip(times, times[1:])), default=float("nan"))


def shown_at(shown: list[tuple[int, float]], frame: int) -> float | None:
    """When the panel showed frame ``frame`` or, passed over, the first after it."""
    return next((t for index, t in shown if index >= frame), None)


def until_stopped(server, browser, minutes: float, every: float) -> None:
    panel = Panel(browser, server, "session", frames=0)
    print(f"\n### Until stopped: one Run, {minutes:g} min, a re-prompt every {every:g} s\n")
    print("| at (s) | frames made | shown by the panel | passed over | longest freeze (ms) | re-prompt shown after (ms) "
          "| server RSS (MiB) | recording (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    panel.run()
    start, row_start = time.monotonic(), panel.now()
    folder = os.path.join(server.base, "output", "streamdit")
    for row in range(1, round(60 * minutes / every) + 1):
        pressed = panel.reprompt(PROMPTS[row % 2])
        time.sleep(0.5)
        frame = next(f for f, p in reversed(server.get("/streamdit/streams")["session"]["timeline"])
                     if p == PROMPTS[row % 2])
        panel.wait(start + every * row - time.monotonic())
        stats, report = panel.collect(), server.get("/streamdit/streams")["session"]
        showed = shown_at(panel.shown, frame)
        size = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder) if n.endswith(".mp4"))
        print(f"| {every * row:.0f} | {report['frames']} | {stats['shown']} | {stats['dropped']} "
              f"| {longest_freeze(panel.shown, row_start):.0f} "
              f"| {'not yet' if showed is None else f'{showed - pressed:.0f}'} "
              f"| {rss_mib(server.process.pid):.0f} | {size / 2**20:.1f} |", flush=True)
        row_start = panel.now()
    to_idle = panel.stop()
    while not (history := list(server.get("/history").values())):   # the run's entry, once ComfyUI writes it
        time.sleep(0.1)
    (entry,) = history
    (video,) = [n for n in os.listdir(folder) if n.startswith("session") and n.endswith(".mp4")]
    with open(os.path.join(folder, video + ".json")) as f:
        index = json.load(f)
    with av.open(os.path.join(folder, video)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    made = server.get("/streamdit/streams")["session"]["frames"]
    stats = panel.collect()
    print(f"\nstopped by the panel's Stop: the panel said idle {to_idle:.0f} ms after the press; run "
          f"{entry['status']['status_str']}, {made} frames made, {stats['shown']} shown by the panel "
          f"({stats['dropped']} passed over), the recording decodes to {decoded} frames and its index lists "
          f"{index['frames']} (complete: {index.get('complete')})")
    panel.page.close()


def instant(server, browser, minutes: float, frames: int) -> None:
    panel = Panel(browser, server, "instant", frames=frames)
    panel.run(instant=True)
    panel.wait(60 * minutes)
    to_idle = panel.stop()
    time.sleep(1.0)
    stats = panel.collect()
    runs = len(server.get("/history"))
    made = server.get("/streamdit/streams")["instant"]["frames"]
    shown, interval = panel.shown, 1000 / FPS
    gaps = sorted(b - a for (i, a), (j, b) in zip(shown, shown[1:]) if j // frames > i // frames)
    inside = sorted(b - a for (i, a), (j, b) in zip(shown, shown[1:]) if j // frames == i // frames)
    print(f"\n### Run (Instant): {runs} runs of {frames} frames in {minutes:g} min, then the panel's Stop\n")
    print(f"{made} frames made, {stats['shown']} shown by the panel ({stats['dropped']} passed over); the panel said "
          f"idle {to_idle:.0f} ms after Stop, and nothing was queued after it\n")
    print("| on the panel, between | frames | median (ms) | 90th percentile (ms) | longest (ms) "
          "| longest / one frame interval |")
    print("|---|---|---|---|---|---|")
    for name, values in (("frames inside a run", inside), ("the last frame of a run and the next run's first", gaps)):
        if values:
            p90 = values[int(0.9 * (len(values) - 1))]
            print(f"| {name} | {len(values)} | {statistics.median(values):.0f} | {p90:.0f} "
                  f"| {values[-1]:.0f} | {values[-1] / interval:.1f} |")
    panel.page.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="the until-stopped run's length")
    ap.add_argument("--instant-minutes", type=float, default=5.0, help="the Run (Instant) part's length (0: none)")
    ap.add_argument("--frames", type=int, default=32, help="frames per Run (Instant) run")
    ap.add_argument("--every", type=float, default=60.0, help="seconds per row (and re-prompt) of the until-stopped table")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; ComfyUI on the CPU; "
          f"the student at 64x64, {FPS:g} fps; headless Chromium")
    with ComfyServer(tempfile.mkdtemp(prefix="streamdit-live-")) as server, sync_playwright() as p:
        server.request("POST", "/settings/Comfy.TutorialCompleted", True)
        browser = launch(p)
        try:
            if args.minutes > 0:
                until_stopped(server, browser, args.minutes, args.every)
            if args.instant_minutes > 0:
                instant(server, browser, args.instant_minutes, args.frames)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
