"""Train the frame autoencoder on the synthetic world's frames.

Loss: mean squared error, object pixels (saturated, as ``analysis.look`` sees them)
weighted up so the small shapes come out sharp; the decoder sees latents with a little
noise (``--latent-noise``; 0 learns corners faster, and its decoder takes noisy latents about
as well: docs/model.md). At the end the latents are standardised per channel over fresh clips.

    python -m stream_core.lab.train_autoencoder --steps 15000 --channels 8 --lr 1e-3 --clip-grad 1 \
        --every-pair --latent-noise 0 --out out/models/ae.safetensors   # keeps corners (docs/model.md)
"""
from __future__ import annotations

import argparse
import re
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from ..native.autoencoder import FACTORS, FrameAutoencoder
from .analysis import shape_mask
from .device import training_device
from .world import World

OBJECT_WEIGHT = 10.0
LATENT_NOISE = 0.1   # times the latents' batch std


def reconstruction_loss(ae: FrameAutoencoder, frames: torch.Tensor, generator: torch.Generator,
                        latent_noise: float = LATENT_NOISE) -> torch.Tensor:
    """Weighted MSE of frames [N, 3, H, W] through the autoencoder, Gaussian noise of
    ``latent_noise`` times the latents' std added between encoder and decoder."""
    z = ae.features(frames)
    if latent_noise > 0:
        z = z + latent_noise * z.detach().std() * torch.randn(z.shape, generator=generator).to(z.device)
    return weighted_error(ae.reconstruct(z), frames)


def weighted_error(decoded: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Mean squared error of decoded frames [N, 3, H, W] against frames, the shape's pixels
    weighing 1 + ``OBJECT_WEIGHT`` (``object_weights`` at the frames' own size)."""
    return ((decoded - frames).square() * object_weights(frames, 1, OBJECT_WEIGHT)[:, None]).mean()


def object_weights(frames: torch.Tensor, factor: int, weight: float) -> torch.Tensor:
    """Per latent pixel [..., H/factor, W/factor] of frames [..., 3, H, W]: 1 + ``weight`` where
    the latent pixel covers any of the shape (``analysis.shape_mask``), else 1. The object is
    about 4 of a 64x64 frame's 64 latent pixels, so its shape is a small part of a plain loss."""
    mask = shape_mask(frames).float()
    covered = F.max_pool2d(mask.flatten(0, -3)[:, None], factor)[:, 0].unflatten(0, mask.shape[:-2])
    return 1 + weight * covered


@torch.no_grad()
def standardise(ae: FrameAutoencoder, frames: torch.Tensor) -> None:
    """Set the latent shift/scale so ``encode(frames)`` has zero mean, unit variance per channel."""
    z = ae.features(frames)
    ae.shift.copy_(z.mean((0, 2, 3)))
    ae.scale.copy_(z.std((0, 2, 3)))


def train_autoencoder(steps: int, out: str, channels: int = 4, batch: int = 4, lr: float = 1e-3,
                      seed: int = 0, log_every: int = 100, factor: int = 8, init: str | None = None,
                      clip_grad: float | None = None, every_pair: bool = False,
                      latent_noise: float = LATENT_NOISE) -> FrameAutoencoder:
    """``batch`` clips of 8 frames per step; weights to ``out`` (safetensors). ``init``: an
    autoencoder file, or a model file (the autoencoder it carries), to start from instead of
    random weights (fine-tuning; its channels and factor are kept). ``clip_grad``: the
    gradients' norm is clipped to this (from random weights the loss can blow up at lr 1e-3
    without it). ``every_pair``: frames of every colour with every shape, the held-out pairs
    too (the autoencoder sees no captions; the DiT still never sees those pairs)."""
    torch.manual_seed(seed)
    ae = FrameAutoencoder(channels, factor=factor) if init is None else starting_point(init)
    channels, factor = ae.shift.shape[0], ae.factor
    device = training_device()
    ae = ae.to(device)
    world = World(seed=seed + 1000, held_out=not every_pair, device=device)   # other clips than the DiT's
    opt = torch.optim.AdamW(ae.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    start, running = time.time(), None
    for step in range(steps):
        clips, _ = world.batch(list(range(step * batch, (step + 1) * batch)))
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 100) * (1 - step / steps)
        loss = reconstruction_loss(ae, clips.flatten(0, 1), g, latent_noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad is not None:
            torch.nn.utils.clip_grad_norm_(ae.parameters(), clip_grad)
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % log_every == 0 or step + 1 == steps:
            print(f"step {step + 1}/{steps}  loss {running:.4f}  {time.time() - start:.0f}s", flush=True)
    standardise(ae, world.batch(list(range(10**6, 10**6 + 32)))[0].flatten(0, 1))
    ae = ae.cpu()
    save_file({k: v.contiguous() for k, v in ae.state_dict().items()}, out,
              metadata={"autoencoder.channels": str(channels), "autoencoder.factor": str(factor),
                        "autoencoder.steps": str(steps), "autoencoder.every_pair": str(every_pair),
                        "autoencoder.latent_noise": str(latent_noise)})
    return ae.eval()


def load_autoencoder(path: str) -> FrameAutoencoder:
    """A ``train_autoencoder`` file; its channels and factor are read off its weights."""
    tensors = load_file(path)
    stages = sum(bool(re.fullmatch(r"encoder\.\d+\.0\.weight", k)) for k in tensors)
    ae = FrameAutoencoder(tensors["shift"].shape[0], factor=2 ** stages)
    ae.load_state_dict(tensors)
    return ae.eval()


def starting_point(path: str) -> FrameAutoencoder:
    """The autoencoder in ``path``: a ``train_autoencoder`` file or a model file that carries one."""
    from ..native.checkpoint import load
    if any(k.startswith("encoder.") for k in load_file(path)):
        return load_autoencoder(path).train().requires_grad_(True)
    return load(path).autoencoder.train().requires_grad_(True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--factor", type=int, default=8, choices=FACTORS, help="image pixels per latent pixel")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--init", help="an autoencoder or model file to fine-tune (its channels and factor are kept)")
    ap.add_argument("--clip-grad", type=float, help="clip the gradients' norm to this (off when not given)")
    ap.add_argument("--every-pair", action="store_true",
                    help="train on every colour with every shape, the DiT's held-out pairs too")
    ap.add_argument("--latent-noise", type=float, default=LATENT_NOISE,
                    help=f"noise on the latents while training, times their std (default {LATENT_NOISE})")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    train_autoencoder(args.steps, args.out, args.channels, args.batch, args.lr, factor=args.factor, init=args.init,
                      clip_grad=args.clip_grad, every_pair=args.every_pair, latent_noise=args.latent_noise)


if __name__ == "__main__":
    main()
