"""Buffered flow-matching training of the native StreamDiT on the synthetic world.

Per clip: a chunk size c from a mixture that includes c = B (so the model stays a plain
clip model too, which seeds the stream); chunk i of N = B/c (0 = the oldest, cleanest)
draws one time from its stratum [(N-1-i)/N, (N-i)/N] (``Partition.segments``) for all
its frames; loss is the MSE to the flow-matching velocity (``engine/flow.py``). Captions are per frame; a share of
clips is trained on the empty prompt for classifier-free guidance.

    python -m stream_core.lab.train --autoencoder AE --patch 2 --batch 16 --steps 20000 --out TEACHER

(the shipped teacher, before ``tune_decoder``; ``scripts/train_models.sh`` runs the whole
recipe). Without ``--autoencoder`` it trains in pixel space.

Re-running the same command resumes from `<out>.state` (weights, EMA, Adam moments, RNG);
a larger ``--steps`` goes on from there (the cosine schedule is then one over the new total),
a state already at or past ``--steps`` is left untouched.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import time

import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import save_file

from ..engine.flow import noisy, target_velocity
from ..engine.partition import Partition
from ..engine.time_grid import shift_tau
from ..native.checkpoint import load, read_config, save
from ..native.model import StreamDiT, StreamDiTConfig
from .device import training_device
from .train_autoencoder import load_autoencoder, object_weights
from .world import COLOURS, SHAPES, VOCAB, World


def stratified_times(batch: int, frames: int, chunk_sizes: tuple[int, ...], generator: torch.Generator,
                     shift: float = 1.0) -> torch.Tensor:
    """Per-frame times [batch, frames]: one partition per clip, one time per chunk drawn
    from its stratum; with ``shift > 1`` the strata move toward noise
    (``time_grid.shift_tau``), where a pixel-space model decides where things are."""
    taus = []
    for _ in range(batch):
        c = chunk_sizes[int(torch.randint(len(chunk_sizes), (1,), generator=generator))]
        partition = Partition.filling(frames, c=c)
        start, length = partition.segments()
        taus.append(start + length * torch.rand(partition.N, generator=generator).repeat_interleave(c))
    return shift_tau(torch.stack(taus).float(), shift)


def context_for(model: StreamDiT, captions: list[list[str]]) -> torch.Tensor:
    """Per-frame captions [Bsz][F] -> context [Bsz, F, L, Dc], each distinct caption encoded once."""
    unique = sorted({c for clip in captions for c in clip})
    encoded = model.encode(unique)
    index = torch.tensor([[unique.index(c) for c in clip] for clip in captions])
    return encoded[index]


def loss_on(model: StreamDiT, clips: torch.Tensor, captions: list[list[str]], tau: torch.Tensor,
            noise: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Flow-matching loss of ``model`` on clips [Bsz, F, C, H, W] at per-frame times tau [Bsz, F];
    ``weight`` [Bsz, F, H, W] weighs each latent pixel's squared error (None: all alike)."""
    sigma_min = model.config.sigma_min
    x = noisy(clips, noise, tau, sigma_min)
    v = model(x, tau, context_for(model, captions))
    error = (v - target_velocity(clips, noise, sigma_min)).square()
    return error.mean() if weight is None else (error * weight[:, :, None]).mean()


def drop_words(captions: list[list[str]], share: float, generator: torch.Generator) -> list[list[str]]:
    """Per clip, with probability ``share``: its colour word or its shape word (one of the
    two, alike) left out of all its frames' captions, so each word has to say its part on its
    own and an unseen pairing of the two is two known parts. [Bsz][F] -> [Bsz][F]."""
    out = []
    for clip in captions:
        if torch.rand(1, generator=generator) < share:
            kind = COLOURS if torch.rand(1, generator=generator) < 0.5 else SHAPES
            clip = [" ".join(w for w in c.split() if w not in kind) for c in clip]
        out.append(clip)
    return out


def default_config(latent_channels: int | None = None, latent_factor: int = 8) -> StreamDiTConfig:
    """The shipped teacher's shape given ``latent_channels``: autoencoder latents of 64x64
    frames (8x8 for the shipped factor 8) in patches of 16x16 image pixels (16 tokens a
    frame) predicting the velocity; without: the first model's, 64x64 RGB in pixel space
    with 8x8 patches predicting the clean frame."""
    text = dict(text_dim=64, text_depth=2, text_heads=2, text_length=10, vocab=VOCAB)
    if latent_channels is None:
        return StreamDiTConfig(channels=3, patch=8, dim=128, depth=4, heads=4, frames=8, height=64, width=64, **text)
    side = 64 // latent_factor
    return StreamDiTConfig(channels=latent_channels, patch=16 // latent_factor, dim=128, depth=4, heads=4, frames=8,
                           height=side, width=side, latent="autoencoder", prediction="v",
                           latent_factor=latent_factor, **text)


def chunk_mixture(frames: int) -> tuple[int, ...]:
    """Chunk sizes that divide the buffer, c = B included."""
    return tuple(c for c in (1, 2, 4, 8, 16, 32) if Partition.fits(frames, 0, c))


def save_state(path: str, model: StreamDiT, ema: StreamDiT, opt: torch.optim.Optimizer,
               rng: torch.Generator, step: int) -> None:
    """Everything to resume training, as safetensors: weights, EMA, Adam moments, RNG, step."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    for i, state in opt.state_dict()["state"].items():
        tensors.update({f"opt.{i}.{k}": v for k, v in state.items()})
    tensors["rng"] = rng.get_state()
    meta = {"step": str(step), "config": json.dumps(model.config.to_dict())}
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, path, metadata=meta)


def load_state(path: str, model: StreamDiT, ema: StreamDiT, opt: torch.optim.Optimizer,
               rng: torch.Generator) -> int:
    """Restore what ``save_state`` wrote; returns the step to go on from."""
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        if StreamDiTConfig.from_dict(json.loads(meta["config"])) != model.config:
            raise ValueError(f"{path}: its model config differs from this run's")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    state = opt.state_dict()
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            state["state"].setdefault(int(i), {})[name] = value
    opt.load_state_dict(state)
    rng.set_state(tensors["rng"])
    return int(meta["step"])


def immiscible(clips: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Immiscible Diffusion: reorder the batch's noise so each clip gets a near one
    (greedy minimal-distance assignment on float16 distances). [Bsz, ...] -> [Bsz, ...]."""
    d = torch.cdist(clips.flatten(1).half().float(), noise.flatten(1).half().float())
    order = torch.empty(len(clips), dtype=torch.long)
    for _ in range(len(clips)):
        i, j = divmod(int(d.argmin()), d.shape[1])
        order[i] = j
        d[i, :] = float("inf")
        d[:, j] = float("inf")
    return noise[order]


def distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when started by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def average_gradients(model: torch.nn.Module, world: int) -> None:
    """Mean of every parameter's gradient over the processes, in one all-reduce."""
    params = [p for p in model.parameters() if p.requires_grad]
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params])
    dist.all_reduce(flat)
    flat /= world
    for p, g in zip(params, flat.split([p.numel() for p in params])):
        p.grad = g.view_as(p).clone()


def train(steps: int, batch: int, out: str, lr: float = 4e-4, ema_decay: float = 0.999, seed: int = 0,
          uncond: float = 0.1, log_every: int = 50, config: StreamDiTConfig | None = None,
          save_every: int = 500, immiscible_noise: bool = False, time_shift: float = 1.0,
          autoencoder: str | None = None, init: str | None = None, object_weight: float = 0.0,
          word_dropout: float = 0.0) -> StreamDiT:
    """Train for ``steps`` steps in all, resuming from ``out + '.state'`` when it exists;
    the EMA weights go to ``out`` at the end (and with the state every ``save_every``).
    ``autoencoder``: a ``train_autoencoder`` file for a latent config; it is frozen and
    saved inside the model. ``init``: a model file to start from instead of random weights
    (fine-tuning; its config and the autoencoder it carries are kept). ``object_weight``: the
    shape's latent pixels weigh 1 + this in the loss (``object_weights``; 0: all alike).
    ``word_dropout``: the share of clips trained without their colour or shape word (``drop_words``).

    Under torchrun every process draws the whole batch's randomness from the same
    generator and trains on its share of the clips; gradients are averaged, so N
    processes compute what one process does with the same ``batch``."""
    cfg = config or default_config()
    rank, world_size = distributed()
    if batch % world_size:
        raise ValueError(f"batch {batch} does not split over {world_size} processes")
    device = training_device()
    share = slice(rank * batch // world_size, (rank + 1) * batch // world_size)
    torch.manual_seed(seed)
    model = StreamDiT(cfg)
    if init is not None:
        model.load_state_dict(load(init).state_dict())
    elif (autoencoder is None) != (cfg.latent == "pixel"):
        raise ValueError("a latent config needs an autoencoder file, a pixel config none")
    if autoencoder is not None:
        ae = load_autoencoder(autoencoder)
        if ae.factor != cfg.latent_factor:
            raise ValueError(f"{autoencoder}: factor {ae.factor}, but the config's latent_factor is {cfg.latent_factor}")
        model.autoencoder.load_state_dict(ae.state_dict())
    model = model.to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    world = World(seed=seed, frames=cfg.frames, size=cfg.height * cfg.factor, device=device)
    g = torch.Generator().manual_seed(seed)
    mixture = chunk_mixture(cfg.frames)
    state_path = out + ".state"
    first = load_state(state_path, model, ema, opt, g) if os.path.exists(state_path) else 0
    if first and first >= steps:
        if rank == 0:
            print(f"{state_path} is at step {first}, past --steps {steps}: nothing to train; {out} is left as it is",
                  flush=True)
        return ema
    if first and rank == 0:
        print(f"resuming from step {first} ({state_path})", flush=True)

    def recorded(done: int) -> dict[str, str]:
        return {"train.steps": str(done), "train.batch": str(batch), "train.seed": str(seed),
                "train.object_weight": str(object_weight), "train.word_dropout": str(word_dropout)}

    start, running = time.time(), None
    for step in range(first, steps):
        clips, captions = world.batch(list(range(step * batch, (step + 1) * batch)))
        weight = object_weights(clips, cfg.factor, object_weight)[share] if object_weight else None
        with torch.no_grad():
            clips = model.encode_frames(clips)
        captions = [[""] * len(c) if torch.rand(1, generator=g) < uncond else c for c in captions]
        if word_dropout:
            captions = drop_words(captions, word_dropout, g)
        tau = stratified_times(batch, cfg.frames, mixture, g, time_shift).to(device)   # drawn on the CPU: the same
        noise = torch.randn(clips.shape, generator=g).to(device)                        # numbers on any device
        if immiscible_noise:
            noise = immiscible(clips, noise)
        for group in opt.param_groups:   # 200 warm-up steps, then cosine decay to lr/10
            group["lr"] = lr * min(1.0, (step + 1) / 200) * (0.55 + 0.45 * math.cos(math.pi * step / steps))
        loss = loss_on(model, clips[share], captions[share], tau[share], noise[share], weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if world_size > 1:
            average_gradients(model, world_size)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - ema_decay)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if rank == 0 and ((step + 1) % log_every == 0 or step + 1 == steps):
            print(f"step {step + 1}/{steps}  loss {running:.4f}  {time.time() - start:.0f}s", flush=True)
        if rank == 0 and (step + 1) % save_every == 0 and step + 1 < steps:
            save_state(state_path, model, ema, opt, g, step + 1)
            save(ema, out, extra=recorded(step + 1))
    if rank == 0:
        save_state(state_path, model, ema, opt, g, steps)
        save(ema, out, extra=recorded(steps))
    if world_size > 1:
        dist.barrier()
    return ema


def main() -> None:
    ap = argparse.ArgumentParser(description="Train the native StreamDiT on the synthetic world.")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--immiscible", action="store_true", help="Immiscible Diffusion noise assignment")
    ap.add_argument("--time-shift", type=float, default=1.0,
                    help="move training times toward noise (shift > 1, as the sampling grid's shift)")
    ap.add_argument("--autoencoder", help="a train_autoencoder file: train in its latent space")
    ap.add_argument("--init", help="a model file to fine-tune (its config and autoencoder are kept)")
    ap.add_argument("--object-weight", type=float, default=0.0,
                    help="the shape's latent pixels weigh 1 + this in the loss (default 0: all alike)")
    ap.add_argument("--word-dropout", type=float, default=0.0,
                    help="share of clips trained without their colour or their shape word (default 0)")
    ap.add_argument("--dim", type=int, help="model width (default: the shipped model's)")
    ap.add_argument("--depth", type=int, help="transformer blocks")
    ap.add_argument("--heads", type=int, help="attention heads")
    ap.add_argument("--patch", type=int, help="patch size in latent pixels")
    ap.add_argument("--text-depth", type=int, help="text encoder layers (0: word embeddings and positions only)")
    args = ap.parse_args()
    sizes = {k: v for k in ("dim", "depth", "heads", "patch", "text_depth") if (v := getattr(args, k)) is not None}
    if args.init is not None:
        config = read_config(args.init)[0]
    elif args.autoencoder is None:
        config = default_config()
    else:
        ae = load_autoencoder(args.autoencoder)
        config = default_config(int(ae.shift.shape[0]), ae.factor)
    config = dataclasses.replace(config, **sizes)
    train(args.steps, args.batch, args.out, lr=args.lr, seed=args.seed, config=config,
          immiscible_noise=args.immiscible, time_shift=args.time_shift, autoencoder=args.autoencoder, init=args.init,
          object_weight=args.object_weight, word_dropout=args.word_dropout)
    if dist.is_initialized():   # every rank past the last barrier: the group ends before the process does
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
