"""Video-to-video with the embedded student: how the strength trades the input for the prompt.

An input video of the synthetic world ("a red circle moving right", or "... quickly") is re-drawn
by the distilled student (c = 2, s = 1, N = 4) under "a blue square moving right" at several
strengths, with the video-to-video workflows' guidance (``VIDEO_GUIDANCE``) and with guidance 2, as the Stream
node does it (``NativeStreamFactory`` with a ``VideoInput``). Per strength: output FPS (and as a
ratio to text-to-video at the same guidance, the row of strength 1), the share of frames in the
prompt's colour and shape, and how far the output's object is from the input's (median and 90th
percentile of the per-frame centroid distance, pixels). The same at ``LIVE_STRENGTH`` for several
seeds (the world's clip and the stream's noise) follows.

A second table feeds the same stream from a camera: a thread pushes the world's frames at a
camera's rate (wall clock) through ``Session.feed``, as the panel's camera does, while the stream
runs at ``LIVE_STRENGTH``, as fast as it can or paced to 16 fps as the webcam workflow is. Per
camera rate and strength: the output FPS (and as a ratio to
text-to-video), the input-to-output latency (a camera frame arriving to the output frame drawn
from it leaving; median and 90th percentile), the shares of camera frames dropped and of stream
frames that held an older one, and the colour and centroid error against the camera frame each
output frame was drawn from; a third row at each pace turns on the similarity filter.

A third table turns on the similarity filter (``skip_similar``) for a still input (the clip's
first frame held) and moving ones, at several thresholds: the share of steps skipped, FPS (and as
a ratio to the same input with the filter off), colour and centroid error.

Usage: python bench/video_to_video.py [--frames 200] [--camera-seconds 20] [--seeds 4] [--model FILE]
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import threading
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from stream_core.engine.frame_input import DEFAULT_STRENGTH, VIDEO_GUIDANCE, VideoInput  # noqa: E402
from stream_core.engine.partition import Partition  # noqa: E402
from stream_core.engine.timeline import PromptTimeline  # noqa: E402
from stream_core.lab.analysis import look  # noqa: E402
from stream_core.lab.evaluate import world_frames  # noqa: E402
from stream_core.lab.world import Scene, wrapped  # noqa: E402
from stream_core.native.checkpoint import load  # noqa: E402
from stream_core.native.session import NativeStreamFactory  # noqa: E402

STRENGTHS = (1.0, 0.9, 0.75, 0.65, 0.6, 0.5, 0.3, 0.0)
PACED_FPS = 16.0   # the webcam workflow's realtime pacing
SKIP_SIMILAR = 0.98   # StreamDiffusion's suggested threshold
LIVE_STRENGTH = DEFAULT_STRENGTH   # what the shipped workflows and the panel's camera start at
PROMPT = "a blue square moving right"
GUIDANCES = (VIDEO_GUIDANCE, 2.0)   # the workflows' guidance, and the guidance the students before needed


def run(model, video: torch.Tensor, strength: float, frames: int,
        skip_similar: float = 0.0, guidance: float = VIDEO_GUIDANCE, seed: int = 0) -> tuple[torch.Tensor, float, float]:
    """(images [frames, H, W, 3], FPS, the share of steps the similarity filter skipped) of one
    re-drawn video."""
    factory = NativeStreamFactory(model=model, model_key=(), schedule=PromptTimeline(((0, PROMPT),)), seed=seed,
                                  width=64, height=64, partition=Partition(0, 4, 2, 1), guidance=guidance,
                                  video=VideoInput(video, strength), skip_similar=skip_similar)
    session = factory.create()
    factory.reconfigure(session)
    start = time.perf_counter()
    images = session.frames.take(frames)
    fps = frames / (time.perf_counter() - start)
    f = session.stream.similarity_filter
    return images, fps, f.skipped / max(1, f.checked)


def camera_run(model, video: torch.Tensor, camera_fps: float | None, seconds: float, strength: float = LIVE_STRENGTH,
               skip_similar: float = 0.0, paced: float | None = None) -> dict:
    """The stream fed by a camera playing ``video`` [F, H, W, 3] at ``camera_fps`` for ``seconds``
    (None: no camera, text-to-video: the baseline), making frames as fast as it can or no faster
    than ``paced`` frames a second."""
    factory = NativeStreamFactory(model=model, model_key=(), schedule=PromptTimeline(((0, PROMPT),)), seed=0,
                                  width=64, height=64, partition=Partition(0, 4, 2, 1), guidance=VIDEO_GUIDANCE,
                                  skip_similar=skip_similar)
    session = factory.create()
    factory.reconfigure(session)
    session.frames.take(8)                          # the start-up (text-to-video) is not measured
    if camera_fps is None:
        start = time.perf_counter()
        made = len(session.frames.take(max(2, int(seconds * 16)) // 2 * 2))
        return {"fps": made / (time.perf_counter() - start)}
    session.feed(video[0], strength, stamp=0)
    session.apply_requests()                        # the camera is the input from here on
    camera, stop = session.camera, threading.Event()

    def feeder() -> None:
        start, n = time.perf_counter(), 1
        while not stop.is_set():
            time.sleep(max(0.0, start + n / camera_fps - time.perf_counter()))
            session.feed(video[n % len(video)], strength, stamp=n)
            n += 1

    thread = threading.Thread(target=feeder, daemon=True)
    thread.start()
    drawn, latencies, made, start = [], [], 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        first = session.frames.frames_taken
        images = session.frames.take(2)
        made += len(images)
        for n, image in enumerate(images):
            stamp = camera.left(first + n)
            if stamp is not None:
                drawn.append((int(stamp), image))
                latencies.append(camera.latency)
        if paced:
            time.sleep(max(0.0, start + made / paced - time.perf_counter()))
    elapsed = time.perf_counter() - start
    stop.set()
    thread.join()
    if not latencies:
        raise SystemExit(f"in {seconds:g} s no output frame was drawn from the camera: give it more --camera-seconds")
    latencies.sort()
    f = session.stream.similarity_filter
    return {"fps": made / elapsed, "latency": statistics.median(latencies), "p90": latencies[int(0.9 * (len(latencies) - 1))],
            "dropped": camera.dropped / max(1, camera.received),
            "repeated": camera.repeated / max(1, camera.used + camera.repeated),
            "skipped": f.skipped / max(1, f.checked), "drawn": drawn}


def scores(inputs, outputs) -> dict:
    pairs = list(zip(inputs, outputs))
    errors = sorted(math.hypot(wrapped(o.x - i.x, 64), wrapped(o.y - i.y, 64)) for i, o in pairs if o.colour)
    return {"colour": sum(o.colour == "blue" for _, o in pairs) / len(pairs),
            "shape": sum(o.shape == "square" for _, o in pairs) / len(pairs),
            "median": statistics.median(errors) if errors else math.nan,
            "p90": errors[int(0.9 * (len(errors) - 1))] if errors else math.nan}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--camera-seconds", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "streamdit-shapes-64px-distilled.safetensors"))
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    model = load(args.model)
    run(model, torch.zeros(8, 64, 64, 3), 1.0, 8)   # warm-up: the first stream of a process is slower
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, cpu; "
          f"model {os.path.basename(args.model)}; {args.frames} frames; prompt \"{PROMPT}\"")
    print("| input | guidance | strength | FPS | FPS / text-to-video | colour | shape | centroid error median (px) "
          "| 90th percentile (px) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for scene in (Scene("red", "circle", "right"), Scene("red", "circle", "right", "quickly")):
        video = ((world_frames(scene, args.frames, 0) + 1) / 2).permute(0, 2, 3, 1).contiguous()
        inputs = [look(f) for f in world_frames(scene, args.frames, 0)]
        for guidance in GUIDANCES:
            base = None
            for strength in STRENGTHS:
                images, fps, _ = run(model, video, strength, args.frames, guidance=guidance)
                base = base or fps
                r = scores(inputs, [look(f) for f in images.permute(0, 3, 1, 2) * 2 - 1])
                print(f"| {scene.caption()} | {guidance:g} | {strength:g} | {fps:.0f} | {fps / base:.2f} "
                      f"| {r['colour']:.0%} | {r['shape']:.0%} | {r['median']:.1f} | {r['p90']:.1f} |", flush=True)

    scene = Scene("red", "circle", "right")
    print(f"\nseeds: \"{scene.caption()}\" (each seed its own clip and noise), strength {LIVE_STRENGTH:g}")
    print("| guidance | seed | colour | centroid error median (px) | 90th percentile (px) |")
    print("|---|---|---|---|---|")
    for guidance in GUIDANCES:
        for seed in range(args.seeds):
            clip = world_frames(scene, args.frames, seed)
            images, _, _ = run(model, ((clip + 1) / 2).permute(0, 2, 3, 1).contiguous(), LIVE_STRENGTH, args.frames,
                               guidance=guidance, seed=seed)
            r = scores([look(f) for f in clip], [look(f) for f in images.permute(0, 3, 1, 2) * 2 - 1])
            print(f"| {guidance:g} | {seed} | {r['colour']:.0%} | {r['median']:.1f} | {r['p90']:.1f} |", flush=True)
    scene = Scene("red", "circle", "right")
    video = ((world_frames(scene, 256, 0) + 1) / 2).permute(0, 2, 3, 1).contiguous()
    seen_input = [look(f) for f in world_frames(scene, 256, 0)]
    print(f"\ncamera input: \"{scene.caption()}\" played at the camera's rate for {args.camera_seconds:g} s")
    print("| camera FPS | stream | strength | skip similar | output FPS | output FPS / text-to-video | latency median (ms) "
          "| latency 90th percentile (ms) | camera frames dropped | stream frames holding an older one | steps skipped "
          "| colour | centroid error median (px) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    text_to_video = camera_run(model, video, None, args.camera_seconds)["fps"]
    print(f"| none (text-to-video, the baseline) | as fast as it can | | | {text_to_video:.1f} | 1.00 | | | | | | | |")
    for camera_fps, paced, strength, skip_similar in (
            (15.0, None, LIVE_STRENGTH, 0.0), (30.0, None, LIVE_STRENGTH, 0.0), (15.0, None, LIVE_STRENGTH, SKIP_SIMILAR),
            (15.0, PACED_FPS, LIVE_STRENGTH, 0.0), (30.0, PACED_FPS, LIVE_STRENGTH, 0.0),
            (15.0, PACED_FPS, LIVE_STRENGTH, SKIP_SIMILAR), (8.0, PACED_FPS, LIVE_STRENGTH, 0.0), (8.0, PACED_FPS, 0.5, 0.0)):
        c = camera_run(model, video, camera_fps, args.camera_seconds, strength, skip_similar, paced)
        r = scores([seen_input[n % len(video)] for n, _ in c["drawn"]],
                   [look(image.permute(2, 0, 1) * 2 - 1) for _, image in c["drawn"]])
        stream = f"paced to {paced:g} fps" if paced else "as fast as it can"
        print(f"| {camera_fps:.0f} | {stream} | {strength:g} | {skip_similar:g} | {c['fps']:.1f} | {c['fps'] / text_to_video:.2f} "
              f"| {c['latency'] * 1000:.0f} | {c['p90'] * 1000:.0f} | {c['dropped']:.0%} | {c['repeated']:.0%} "
              f"| {c['skipped']:.0%} | {r['colour']:.0%} | {r['median']:.1f} |", flush=True)

    print(f"\nsimilarity filter: file input, strength {LIVE_STRENGTH:g}, {args.frames} frames; a still input is the clip's first frame held")
    print("| input | skip similar | steps skipped | FPS | FPS / filter off | colour | centroid error median (px) |")
    print("|---|---|---|---|---|---|---|")
    for name, scene, still in (("a still red circle", Scene("red", "circle", "right"), True),
                               ("a red circle moving right", Scene("red", "circle", "right"), False),
                               ("a red circle moving right quickly", Scene("red", "circle", "right", "quickly"), False)):
        clip = world_frames(scene, args.frames, 0)[:1 if still else None].expand(args.frames, -1, -1, -1)
        video = ((clip + 1) / 2).permute(0, 2, 3, 1).contiguous()
        inputs = [look(f) for f in clip]
        base = None
        for threshold in (0.0, 0.95, SKIP_SIMILAR, 0.99):
            images, fps, skipped = run(model, video, LIVE_STRENGTH, args.frames, skip_similar=threshold)
            base = base or fps
            r = scores(inputs, [look(f) for f in images.permute(0, 3, 1, 2) * 2 - 1])
            print(f"| {name} | {threshold:g} | {skipped:.0%} | {fps:.0f} | {fps / base:.2f} | {r['colour']:.0%} "
                  f"| {r['median']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
