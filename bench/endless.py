"""An endless stream through a real ComfyUI server: many queued ``continue`` runs of the
shipped ``streamdit_endless_live`` workflow (the student, recording on), as Run (Instant)
queues them. Reports, as runs go by: frames streamed, the stream's video files and their
size, files in ComfyUI's temp folder, and the server's resident memory; the first row is
the baseline.

Usage: python bench/endless.py [--runs 200] [--frames 16] [--realtime]
(without --realtime the runs go as fast as the CPU allows; the workflow itself paces to 16 fps)
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "scripts")]
from comfy_server import ComfyServer  # noqa: E402


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--frames", type=int, default=16, help="frames per run")
    ap.add_argument("--realtime", action="store_true", help="keep the workflow's 16 fps pacing")
    args = ap.parse_args()
    with open(os.path.join(ROOT, "example_workflows", "api", "streamdit_endless_live.json")) as f:
        prompt = json.load(f)
    prompt["3"]["inputs"].update(frames=args.frames, realtime=args.realtime)
    checkpoints = sorted({1, *range(args.runs // 4, args.runs + 1, max(1, args.runs // 4))})
    rows = []
    with tempfile.TemporaryDirectory() as base, ComfyServer(base) as server:
        start = time.monotonic()
        for run in range(1, args.runs + 1):
            entry = server.run(prompt)
            if entry["status"]["status_str"] != "success":
                sys.exit(f"run {run} failed: {entry['status']}")
            if run in checkpoints:
                videos = glob.glob(os.path.join(base, "output", "streamdit", "*.mp4"))
                temp = [p for p in glob.glob(os.path.join(base, "temp", "**"), recursive=True) if os.path.isfile(p)]
                rows.append((run, run * args.frames, len(videos), sum(os.path.getsize(v) for v in videos) / 1024,
                             len(temp), rss_mib(server.process.pid), time.monotonic() - start))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; {args.frames} frames a run, "
          f"{'paced to 16 fps' if args.realtime else 'unpaced'}; recording on")
    print("| runs | frames | stream videos | video KiB | temp files | server RSS MiB | RSS / first row | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for run, frames, videos, kib, temp, rss, seconds in rows:
        print(f"| {run} | {frames} | {videos} | {kib:.0f} | {temp} | {rss:.0f} | {rss / rows[0][5]:.2f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
