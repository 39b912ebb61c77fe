"""Segment-wise multistep distillation: the teacher's s guided micro-steps per chunk
position become one unguided student step, so the student streams with s = 1.

For a buffer partitioned into K clean reference frames and N chunks (chunk sizes from the
training mixture, or only those asked for: the shipped student learns c = 2 with K = 0,
N = 4 and with K = 2, N = 3, the streams it is made for; with c = B in the mix the one-step
jump from noise to clean dominates the loss), chunk i (0 = cleanest) owns the segment
[tau_i, tau_i + 1/N] of time (``Partition.segments``). A training state puts every chunk
of a world clip at the start of its segment (``flow.noisy``; references clean), or, for a
share ``uniform`` of them, every frame at one level k/N with a step of 1/N, as a stream's
start-up has them (``Stream._start``: one uniform generation, no references); the
teacher walks all segments together in s micro-steps of the stream's integrator with
classifier-free guidance (only below ``guidance_until``, as the stream guides:
``guidance.guidance_scales``); the student must land on the teacher's end point in one
step without guidance.

    python -m stream_core.lab.distill models/streamdit-shapes-64px.safetensors \
        --out models/streamdit-shapes-64px-distilled.safetensors --steps 2000 --lr 1e-4 --guidance 3 \
        --guidance-until 0.75 --chunk-sizes 2 --references 0 2

A student that streams well but starts badly learns its start-up by going on from itself
(``--init STUDENT --uniform 0.25``).
"""
from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F

from ..engine.flow import noisy
from ..engine.guidance import GUIDANCE_UNTIL, guidance_scales
from ..engine.integrator import Integrator, euler, euler_step, seeded_noise
from ..engine.partition import Partition
from ..native.checkpoint import load, save
from ..native.conditioning import guided_velocity
from ..native.model import StreamDiT
from .device import training_device
from .train import chunk_mixture, context_for
from .world import World


def segment_starts(batch: int, frames: int, chunk_sizes: tuple[int, ...], generator: torch.Generator,
                   references: tuple[int, ...] = (0,), uniform: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame segment start and length [batch, frames] (``Partition.segments``). Each buffer
    draws K from ``references`` and c from ``chunk_sizes``: K clean reference frames (start 1,
    length 0), then N = (frames - K) / c chunks, chunk i starting at (N-1-i)/N. With
    probability ``uniform`` it is that partition's start-up instead: every frame at k/N for one
    k in 0..N-1, length 1/N."""
    starts, lengths = [], []
    for _ in range(batch):
        k = references[int(torch.randint(len(references), (1,), generator=generator))]
        c = chunk_sizes[int(torch.randint(len(chunk_sizes), (1,), generator=generator))]
        partition = Partition.filling(frames, K=k, c=c)
        if uniform > 0 and float(torch.rand((), generator=generator)) < uniform:   # no draw when 0: recipes repeat
            level = int(torch.randint(partition.N, (1,), generator=generator))
            start = torch.full((frames,), level / partition.N, dtype=torch.float64)
            length = torch.full((frames,), 1 / partition.N, dtype=torch.float64)
        else:
            start, length = partition.segments()
        starts.append(start)
        lengths.append(length)
    return torch.stack(starts).float(), torch.stack(lengths).float()


@torch.no_grad()
def teacher_segment(teacher: StreamDiT, x: torch.Tensor, start: torch.Tensor, length: torch.Tensor,
                    context: torch.Tensor, null: torch.Tensor, micro_steps: int, guidance: float,
                    guidance_until: float = GUIDANCE_UNTIL, integrator: Integrator = euler) -> torch.Tensor:
    """The teacher's end point after ``micro_steps`` guided integrator steps over each frame's
    segment: x [Bsz, F, C, H, W], start and length [Bsz, F], context and null [Bsz, F, L, Dc]."""
    def field(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        return guided_velocity(teacher, x, tau, context, null, guidance_scales(tau, guidance, guidance_until))

    dtau = length / micro_steps
    fresh = seeded_noise(torch.Generator().manual_seed(0))
    for j in range(micro_steps):
        x = integrator(field, x, start + j * dtau, dtau, fresh)
    return x


def distill_loss(student: StreamDiT, teacher: StreamDiT, clips: torch.Tensor, captions: list[list[str]],
                 start: torch.Tensor, length: torch.Tensor, noise: torch.Tensor, micro_steps: int,
                 guidance: float, guidance_until: float = GUIDANCE_UNTIL) -> torch.Tensor:
    """MSE between the student's one-step end point and the teacher's s-step end point."""
    x = noisy(clips, noise, start, teacher.config.sigma_min)
    with torch.no_grad():
        context = context_for(teacher, captions)
        null = teacher.encode([""])[None].expand_as(context)
        target = teacher_segment(teacher, x, start, length, context, null, micro_steps, guidance, guidance_until)
    v = student(x, start, context_for(student, captions))
    return F.mse_loss(euler_step(x, v, length), target)


def distill(teacher_path: str, out: str, steps: int, batch: int = 8, micro_steps: int = 4, guidance: float = 3.0,
            lr: float = 1e-4, seed: int = 1, log_every: int = 50, chunk_sizes: tuple[int, ...] | None = None,
            guidance_until: float = GUIDANCE_UNTIL, references: tuple[int, ...] = (0,),
            uniform: float = 0.0, init: str | None = None) -> StreamDiT:
    """``chunk_sizes`` and ``references``: the partitions the student learns, as chunk
    sizes c and reference frames K with c dividing B - K (default c: the teacher's training
    mixture, c = B included; K = 0); ``uniform``: the share of start-up buffers
    (``segment_starts``). The student starts as a copy of the teacher, or of ``init``."""
    device = training_device()
    teacher = load(teacher_path).requires_grad_(False).to(device)
    student = (copy.deepcopy(teacher) if init is None else load(init)).train().to(device)
    params = [p for name, p in student.named_parameters() if not name.startswith("autoencoder.")]
    opt = torch.optim.AdamW([p.requires_grad_(True) for p in params], lr=lr, weight_decay=0.0)
    cfg = teacher.config
    world = World(seed=seed, frames=cfg.frames, size=cfg.height * cfg.factor, device=device)
    g = torch.Generator().manual_seed(seed)
    mixture = chunk_sizes or chunk_mixture(cfg.frames)
    for k in references:
        for c in mixture:
            Partition.filling(cfg.frames, K=k, c=c)   # raises when c does not divide the buffer less K
    running = None
    for step in range(steps):
        clips, captions = world.batch(list(range(step * batch, (step + 1) * batch)))
        with torch.no_grad():
            clips = teacher.encode_frames(clips)
        start, length = segment_starts(batch, cfg.frames, mixture, g, references, uniform)
        loss = distill_loss(student, teacher, clips, captions, start.to(device), length.to(device),
                            torch.randn(clips.shape, generator=g).to(device), micro_steps, guidance, guidance_until)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (step + 1) % log_every == 0 or step + 1 == steps:
            print(f"step {step + 1}/{steps}  distillation loss {running:.5f}", flush=True)
    student.eval().cpu()
    save(student, out, extra={"distill.teacher": teacher_path, "distill.micro_steps": str(micro_steps),
                              "distill.guidance": str(guidance), "distill.guidance_until": str(guidance_until),
                              "distill.steps": str(steps), "distill.lr": str(lr),
                              "distill.chunk_sizes": " ".join(map(str, mixture)),
                              "distill.references": " ".join(map(str, references)),
                              "distill.uniform": str(uniform), "distill.init": init or teacher_path})
    return student


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("teacher")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--micro-steps", type=int, default=4, help="teacher micro-steps per chunk position (s)")
    ap.add_argument("--guidance", type=float, default=3.0, help="teacher's classifier-free guidance scale")
    ap.add_argument("--guidance-until", type=float, default=GUIDANCE_UNTIL,
                    help="tau from which the teacher runs unguided (1 = guided everywhere)")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--chunk-sizes", type=int, nargs="+",
                    help="chunk sizes c of the partitions to learn (default: all that divide the buffer)")
    ap.add_argument("--references", type=int, nargs="+", default=[0],
                    help="reference frames K of the partitions to learn (default 0)")
    ap.add_argument("--uniform", type=float, default=0.0,
                    help="share of start-up buffers, every frame at one level (default 0)")
    ap.add_argument("--init", help="a student to go on from (default: a copy of the teacher)")
    args = ap.parse_args()
    distill(args.teacher, args.out, args.steps, args.batch, args.micro_steps, args.guidance, args.lr,
            chunk_sizes=tuple(args.chunk_sizes) if args.chunk_sizes else None, guidance_until=args.guidance_until,
            references=tuple(args.references), uniform=args.uniform, init=args.init)


if __name__ == "__main__":
    main()
