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

Long streams (a second table): each student at one pass per shift streams ``--long-frames``
frames per prompt, scored from frame 1,000 on beside the world's own clips: how far the
object travels the prompted way per 100 frames (``analysis.travel``; the least of any prompt
as a share of the world's), frames at a border and pinned there (``analysis.pinned``),
colour, shape and the share of clear steps going the prompted way.

The teacher is guided only while ``tau < --guidance-until`` (``guidance.guidance_scales``).

    python -m stream_core.lab.evaluate TEACHER [STUDENT ...] --guidance 3
"""
from __future__ import annotations

import argparse
import math
import os
import statistics

import torch

from ..engine.guidance import GUIDANCE_UNTIL
from ..engine.partition import Partition
from ..engine.stream import Stream
from ..engine.timeline import PromptTimeline
from ..native.checkpoint import load
from ..native.conditioning import TextVelocity
from .analysis import Seen, at_border, clear_steps, follows, look, pinned, seam, trajectory, travel
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
LATE_FROM = 1000   # long streams are scored from this frame on


def stream_frames(model, partition: Partition, timeline: PromptTimeline, frames: int, seed: int,
                  guidance: float, guidance_until: float = GUIDANCE_UNTIL) -> torch.Tensor:
    cfg = model.config
    velocity = TextVelocity(model, timeline, guidance, guidance_until)
    stream = Stream(velocity, partition, (cfg.channels, cfg.height, cfg.width), seed=seed)
    return model.decode_frames(stream.take(frames)[0])


def world_frames(scene: Scene, frames: int, seed: int, size: int = 64) -> torch.Tensor:
    """The world's own clip of ``scene`` [frames, 3, size, size], from a seeded start."""
    generator = torch.Generator().manual_seed(seed)
    start = tuple(torch.empty(2).uniform_(0, size, generator=generator).tolist())
    return render([[scene] * frames], [start], size, object_radius(size))[0]


def streamed_seen(model, partition: Partition, caption: str, frames: int, seed: int, piece: int = 100) -> list[Seen]:
    """What each of ``frames`` frames of a one-prompt stream (unguided) shows, decoded and
    looked at ``piece`` frames at a time, so a long stream needs little memory."""
    cfg = model.config
    velocity = TextVelocity(model, PromptTimeline(((0, caption),)), 1.0)
    stream = Stream(velocity, partition, (cfg.channels, cfg.height, cfg.width), seed=seed)
    seen = []
    while len(seen) < frames:
        seen += [look(f) for f in model.decode_frames(stream.take(min(piece, frames - len(seen)))[0])]
    return seen


def long_run(seen_of, scenes: list[Scene], seeds: int, size: int, world_travel: dict | None = None,
             late: int = LATE_FROM) -> dict:
    """Scores of frames ``late`` on of long streams, ``seen_of(scene, seed) -> [Seen]``:
    travel along the prompted direction per 100 frames (``analysis.travel``) and, per scene,
    as a share of ``world_travel[scene]`` (the world's own, same seeds); shares of frames at
    a border and pinned there (``analysis.pinned``); shares showing the prompted colour and
    shape; share of clear steps going the prompted way."""
    travels, ratios, per_scene = [], {}, {}
    border = stuck = colour = shape = frames = 0
    direction = []
    for scene in scenes:
        scene_travel = []
        for seed in range(seeds):
            seen = seen_of(scene, seed)
            late_seen = seen[late:]
            scene_travel.append(travel(late_seen, scene.direction, size))
            border += sum(at_border(s, size) for s in late_seen)
            stuck += sum(pinned(seen, size)[late:])
            colour += sum(s.colour == scene.colour for s in late_seen)
            shape += sum(s.shape == scene.shape for s in late_seen)
            direction += clear_steps(late_seen, scene.direction, size)
            frames += len(late_seen)
        per_scene[scene] = statistics.fmean(scene_travel)
        travels += scene_travel
        if world_travel:
            ratios[scene] = per_scene[scene] / world_travel[scene]
    lowest = min(ratios, key=ratios.get) if ratios else None
    return {"travel": statistics.fmean(travels), "lowest": lowest and (ratios[lowest], lowest),
            "per_scene": per_scene, "border": border / frames, "pinned": stuck / frames,
            "colour": colour / frames, "shape": shape / frames,
            "direction": statistics.fmean(direction) if direction else 0.0}


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
            paths.append(trajectory(seen, out.shape[-1]))
            if partition is not None:
                seams.append(seam(seen, scene.direction, out.shape[-1], partition.c, partition.K))
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
    ap.add_argument("--long-frames", type=int, default=2000,
                    help=f"frames of each long stream, scored from frame {LATE_FROM} on (0: no long-stream table)")
    ap.add_argument("--long-seeds", type=int, default=1)
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
    if args.long_frames > LATE_FROM:
        print_long_table(args, models, size)


def print_long_table(args, models: dict, size: int) -> None:
    """Long streams: the world's own, then each student's at one pass per shift."""
    print(f"\nLong streams of {args.long_frames} frames, scored from frame {LATE_FROM} on ({args.long_seeds} seed(s)):\n")
    print("| model | scheme | prompts | travel (px / 100 frames) | least travel of the world's (prompt) | at a border "
          "| pinned | colour | shape | direction |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    world = {}
    for prompts, scenes in (("seen", SEEN), ("held-out", HELD)):
        r = long_run(lambda scene, seed: [look(f) for f in world_frames(scene, args.long_frames, seed, size)],
                     scenes, args.long_seeds, size)
        world.update(r["per_scene"])
        print_long_row("world clips", "-", prompts, r)
    for path in args.students:
        for name, partition in ONE_PASS.items():
            for prompts, scenes in (("seen", SEEN), ("held-out", HELD)):
                r = long_run(lambda scene, seed: streamed_seen(models[path], partition, scene.caption(),
                                                               args.long_frames, seed), scenes, args.long_seeds, size, world)
                print_long_row(f"student {os.path.basename(path)}", name, prompts, r)


def print_long_row(label: str, scheme: str, prompts: str, r: dict) -> None:
    lowest = "-"
    if r["lowest"]:
        share, scene = r["lowest"]
        lowest = f"{share:.0%} ({scene.caption()})"
    print(f"| {label} | {scheme} | {prompts} | {r['travel']:.1f} | {lowest} | {r['border']:.1%} | {r['pinned']:.1%} "
          f"| {r['colour']:.0%} | {r['shape']:.0%} | {r['direction']:.0%} |", flush=True)


if __name__ == "__main__":
    main()
