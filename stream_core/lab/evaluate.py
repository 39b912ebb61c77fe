"""Automatic metrics on streamed frames, for several partitions of one model.

Prompt adherence: the share of frames whose colour / shape (``analysis.look``) match the
prompt, and of streams whose first steps go the prompted way (``analysis.follows``).
The first rows measure the world's own clips of the same prompts, as they are and
through the model's autoencoder: the best a model can score.
Flicker: mean absolute change between consecutive frames; it also counts the motion
itself, so it reads beside the object's speed (pixels per frame), jerk (pixels, the
median change of its step: 0 for steady motion, ``analysis.trajectory``) and seam (pixels,
its step across a chunk boundary less its step inside a chunk, negative when each chunk
starts behind the last: ``analysis.seam``). Switch: frames after a prompt switch until
the colour follows the new prompt.

The teacher is guided only while ``tau < --guidance-until`` (``guidance.guidance_scales``).

    python -m stream_core.lab.evaluate TEACHER [STUDENT ...] --guidance 3
"""
from __future__ import annotations

import argparse
import math
import os

import torch

from ..engine.guidance import GUIDANCE_UNTIL
from ..engine.partition import Partition
from ..engine.stream import Stream
from ..engine.timeline import PromptTimeline
from ..native.checkpoint import load
from ..native.conditioning import TextVelocity
from .analysis import follows, look, seam, trajectory
from .world import Scene, object_radius, render

SEEN = [Scene("red", "circle", "right"), Scene("blue", "square", "up"), Scene("yellow", "triangle", "left"),
        Scene("cyan", "circle", "down"), Scene("magenta", "triangle", "right", stripes=True),
        Scene("green", "square", "left", "quickly")]
HELD = [Scene("green", "triangle", "right"), Scene("green", "triangle", "up"),
        Scene("magenta", "square", "down"), Scene("magenta", "square", "left")]
ONE_PASS = {"StreamDiT c=2 s=1 (one pass per shift)": Partition(0, 4, 2, 1),
            "StreamDiT K=2 c=2 s=1 (one pass per shift)": Partition(2, 3, 2, 1)}
SCHEMES = {"uniform c=8 s=8": Partition(0, 1, 8, 8), "diagonal c=1 s=1": Partition(0, 8, 1, 1),
           "StreamDiT c=2 s=2": Partition(0, 4, 2, 2), "StreamDiT c=4 s=4": Partition(0, 2, 4, 4),
           "StreamDiT K=2 c=2 s=2": Partition(2, 3, 2, 2),
           "StreamDiT c=2 s=4 (what the student distils)": Partition(0, 4, 2, 4)}


def stream_frames(model, partition: Partition, timeline: PromptTimeline, frames: int, seed: int,
                  guidance: float, guidance_until: float = GUIDANCE_UNTIL) -> torch.Tensor:
    cfg = model.config
    velocity = TextVelocity(model, timeline, guidance, guidance_until)
    stream = Stream(velocity, partition, (cfg.channels, cfg.height, cfg.width), seed=seed)
    return model.decode_frames(stream.take(frames)[0])


def world_frames(scene: Scene, frames: int, seed: int, size: int = 64) -> torch.Tensor:
    """The world's own clip of ``scene`` [frames, 3, size, size], from a seeded start."""
    radius = object_radius(size)
    generator = torch.Generator().manual_seed(seed)
    start = tuple(torch.empty(2).uniform_(radius, size - radius, generator=generator).tolist())
    return render([scene] * frames, start, size, radius)


def adherence(make_frames, scenes: list[Scene], seeds: int, partition: Partition | None = None) -> dict:
    """Scores of ``make_frames(scene, seed) -> [F, 3, H, W]`` over scenes x seeds; the
    seam of the chunks when the frames come from a stream with ``partition``."""
    colour = shape = moved = total = clips = 0
    flicker = 0.0
    paths = []   # (speed, jerk) of each clip
    seams = []
    for scene in scenes:
        for seed in range(seeds):
            out = make_frames(scene, seed)
            seen = [look(f) for f in out]
            colour += sum(s.colour == scene.colour for s in seen)
            shape += sum(s.shape == scene.shape for s in seen)
            moved += follows(seen, scene.direction, out.shape[-1])
            flicker += float((out[1:] - out[:-1]).abs().mean())
            paths.append(trajectory(seen))
            if partition is not None:
                seams.append(seam(seen, scene.direction, partition.c, partition.K))
            total += len(seen)
            clips += 1
    speed, jerk = (torch.tensor(v).nanmean().item() for v in zip(*paths))
    return {"colour": colour / total, "shape": shape / total, "motion": moved / clips, "flicker": flicker / clips,
            "speed": speed, "jerk": jerk, "seam": torch.tensor(seams or [math.nan]).nanmean().item()}


def switch_delay(model, partition: Partition, frames: int, at: int, seeds: int, guidance: float,
                 guidance_until: float = GUIDANCE_UNTIL) -> float:
    """Mean frames after ``at`` until the colour follows a switch from red to blue."""
    timeline = PromptTimeline(((0, "a red circle moving right"), (at, "a blue circle moving right")))
    delays = []
    for seed in range(seeds):
        seen = [look(f).colour for f in stream_frames(model, partition, timeline, frames, seed, guidance, guidance_until)]
        delays.append(next((i - at for i in range(at, frames) if seen[i] == "blue"), frames - at))
    return sum(delays) / len(delays)


def rows(teacher: str, students: list[str], guidance: float):
    """(model, scheme, partition, guidance) of the table: the teacher with every scheme at
    ``guidance``; then one pass per shift (c=2, s=1, no guidance, without and with two
    reference frames) for the teacher and each distilled student."""
    for name, partition in SCHEMES.items():
        yield teacher, name, partition, guidance
    for path in (teacher, *students):
        for name, partition in ONE_PASS.items():
            yield path, name, partition, 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="the teacher (or any model)")
    ap.add_argument("students", nargs="*", help="distilled students of it, evaluated at one pass per shift")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--guidance", type=float, default=1.0, help="the teacher's guidance in its scheme rows")
    ap.add_argument("--guidance-until", type=float, default=GUIDANCE_UNTIL,
                    help="tau from which the teacher runs unguided, in every scheme (1 = guided everywhere)")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    models = {path: load(path) for path in (args.model, *args.students)}
    teacher = models[args.model]
    print("| model | scheme | guidance | prompts | colour | shape | motion | flicker | speed (px/frame) | jerk (px) "
          "| seam (px) | switch delay (frames) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")

    def print_rows(label: str, name: str, guidance: str, make_frames, delay: str, partition=None) -> None:
        for prompts, scenes in (("seen", SEEN), ("held-out", HELD)):
            r = adherence(make_frames, scenes, args.seeds, partition)
            shown = "-" if math.isnan(r["seam"]) else f"{r['seam']:+.2f}"
            print(f"| {label} | {name} | {guidance} | {prompts} | {r['colour']:.0%} | {r['shape']:.0%} | "
                  f"{r['motion']:.0%} | {r['flicker']:.3f} | {r['speed']:.2f} | {r['jerk']:.2f} | {shown} | {delay} |",
                  flush=True)

    size = teacher.config.height * teacher.config.factor
    print_rows("world clips", "-", "-", lambda scene, seed: world_frames(scene, args.frames, seed, size), "-")
    print_rows("world clips", "through the autoencoder", "-", lambda scene, seed: teacher.decode_frames(
        teacher.encode_frames(world_frames(scene, args.frames, seed, size))), "-")
    for path, name, partition, guidance in rows(args.model, args.students, args.guidance):
        model = models[path]
        label = "teacher" if path == args.model else f"student {os.path.basename(path)}"
        delay = switch_delay(model, partition, args.frames, args.frames // 2, args.seeds, guidance, args.guidance_until)
        shown = f"{guidance:g}" if guidance == 1 or args.guidance_until >= 1 else f"{guidance:g} (tau < {args.guidance_until:g})"
        print_rows(label, name, shown, lambda scene, seed: stream_frames(
            model, partition, PromptTimeline(((0, scene.caption()),)), args.frames, seed, guidance, args.guidance_until),
            f"{delay:.1f}", partition)


if __name__ == "__main__":
    main()
