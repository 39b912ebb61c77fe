"""Main job: start the real ComfyUI (CPU) with this pack, queue a shipped workflow through
the HTTP API, wait for it and copy the video it saved to out/. With --ui, start ComfyUI for
the browser instead and keep it running.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from comfy_server import ROOT, ComfyServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workflow", default="streamdit_text_to_video", help="name of a workflow in example_workflows/api/")
    ap.add_argument("--out", default=os.path.join(ROOT, "out"), help="where the video and ComfyUI's files go")
    ap.add_argument("--ui", action="store_true", help="serve ComfyUI for the browser until Ctrl-C")
    ap.add_argument("--port", type=int, default=8188, help="port for --ui")
    args = ap.parse_args()
    base = os.path.join(os.path.abspath(args.out), "comfy-base")
    for sig in (signal.SIGTERM, signal.SIGHUP):   # a plain kill, a closed terminal: ComfyUI goes too
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    if args.ui:
        server = ComfyServer(base, port=args.port)
        try:   # from before the start: a signal at any moment stops ComfyUI too
            server.start()
            print(f"ComfyUI with StreamDiT at {server.url}  (log: {server.log_path}; Ctrl-C stops it)", flush=True)
            server.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()   # SIGTERM to ComfyUI: the pack closes its recordings
        return 0
    with open(os.path.join(ROOT, "example_workflows", "api", args.workflow + ".json")) as f:
        prompt = json.load(f)
    with ComfyServer(base) as server:
        print(f"ComfyUI is up at {server.url}; queueing {args.workflow}", flush=True)
        start = time.monotonic()
        entry = server.run(prompt)
        seconds = time.monotonic() - start
        if entry["status"]["status_str"] != "success":
            print(json.dumps(entry["status"], indent=1), file=sys.stderr)
            print(server.log_tail(), file=sys.stderr)
            return 1
        videos = [server.output_path(item) for out in entry["outputs"].values()
                  for item in out.get("images", []) if item["filename"].endswith(".mp4")]
    frames = next(n["inputs"]["frames"] for n in prompt.values() if n["class_type"] == "StreamDiTStream")
    target = os.path.join(os.path.abspath(args.out), args.workflow + ".mp4")
    shutil.copyfile(videos[0], target)
    print(f"{frames} frames streamed in {seconds:.1f} s through ComfyUI (model load included)")
    print(f"video: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
