"""Fine-tune a latent model's frame decoder on what the model itself makes of noisy latents.

A DiT's clean-latent estimates sit a little off the autoencoder's own latents, and a decoder
trained on exact latents draws such estimates with soft, notched edges: a square reads as a
circle (docs/model.md). Here the encoder and the DiT stay fixed, so the latent space, and
every model that shares it, is unchanged; only the decoder learns, from pairs

    the model's one-step estimate of a world clip's latents from its point at time tau
    (tau in [tau_low, 1], 0 = noise, 1 = clean; x + (1 - tau) v, the last Euler step a
    stream takes)  ->  the clip's frames,

with the autoencoder's weighted squared error (``train_autoencoder.weighted_error``) plus a
silhouette term: binary cross-entropy between the decoded frame's soft saturation mask and
the shape's mask (``analysis.shape_mask``), so a decoded shape has the world's outline. A
share of the frames is decoded from its exact latents, so clean latents still decode well.
The clips show every colour with every shape, as the autoencoder's own training did; frames
of a held-out pair (``world.HELD_OUT``) always keep their exact latents: the decoder never
learns what the DiT makes of a caption it was not trained on.

    python -m stream_core.lab.tune_decoder STUDENT --steps 3000 --out STUDENT_TUNED \\
        --also TEACHER TEACHER_TUNED   # the teacher carries the same autoencoder: it gets the same decoder
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from ..engine.flow import noisy
from ..engine.integrator import euler_step
from ..native.checkpoint import load, read_config, save
from ..native.model import StreamDiT
from .analysis import SATURATED, saturation, shape_mask
from .device import training_device
from .train import chunk_mixture, context_for, stratified_times
from .train_autoencoder import weighted_error
from .world import World, names_held_out_pair

SILHOUETTE_SOFTNESS = 0.05   # the soft mask is 0.27 this far below the saturation threshold, 0.73 this far above


def soft_silhouette(frames: torch.Tensor) -> torch.Tensor:
    """Frames [N, 3, H, W] (unclamped decoder output) -> [N, H, W] in (0, 1): a differentiable
    ``analysis.shape_mask``, 1/2 where the saturation is at its threshold."""
    return torch.sigmoid((saturation(frames) - SATURATED) / SILHOUETTE_SOFTNESS)


def decoder_loss(model: StreamDiT, latents: torch.Tensor, frames: torch.Tensor, silhouette: float) -> torch.Tensor:
    """Loss of decoding latents [N, C, h, w] into frames [N, 3, H, W]: weighted squared error
    plus ``silhouette`` times the silhouette's binary cross-entropy."""
    decoded = model.autoencoder.reconstruct(model.autoencoder.unstandardised(latents))
    loss = weighted_error(decoded, frames)
    if silhouette:
        soft = soft_silhouette(decoded).clamp(1e-4, 1 - 1e-4)
        loss = loss + silhouette * F.binary_cross_entropy(soft, shape_mask(frames).float())
    return loss


@torch.no_grad()
def estimates(model: StreamDiT, latents: torch.Tensor, captions: list[list[str]], tau_low: float,
              clean_share: float, generator: torch.Generator) -> torch.Tensor:
    """The model's one-step clean estimates of latents [Bsz, F, C, h, w] from points at per-frame
    times squeezed into [tau_low, 1] (``train.stratified_times``' chunked strata); a
    ``clean_share`` of the frames, and every frame whose caption names a held-out pair, keep
    their exact latents. -> [Bsz, F, C, h, w]."""
    b, f = latents.shape[:2]
    tau = (tau_low + (1 - tau_low) * stratified_times(b, f, chunk_mixture(f), generator)).to(latents.device)
    noise = torch.randn(latents.shape, generator=generator).to(latents.device)
    x = noisy(latents, noise, tau, model.config.sigma_min)
    estimate = euler_step(x, model(x, tau, context_for(model, captions)), 1 - tau)
    held_out = torch.tensor([[names_held_out_pair(c) for c in clip] for clip in captions])
    keep = ((torch.rand(b, f, generator=generator) < clean_share) | held_out).to(latents.device)
    return torch.where(keep[:, :, None, None, None], latents, estimate)


def tune_decoder(model_path: str, steps: int, out: str, also: tuple[tuple[str, str], ...] = (), batch: int = 4,
                 lr: float = 3e-4, tau_low: float = 0.5, silhouette: float = 0.1, clean_share: float = 0.25,
                 seed: int = 0, log_every: int = 100) -> StreamDiT:
    """Tune the decoder of the model in ``model_path`` for ``steps`` steps of ``batch`` clips
    (AdamW, ``lr`` warmed up over 50 steps then linear to 0, gradients clipped to norm 1) and
    write the model to ``out``; each ``(source, target)`` of ``also``, a model file carrying
    the same encoder, is written to ``target`` with the tuned decoder. Metadata is kept, the
    options added as ``decoder.*``."""
    model = load(model_path)
    if model.config.latent != "autoencoder":
        raise ValueError(f"{model_path}: a pixel-space model has no decoder to tune")
    others = [(source, load(source), target) for source, target in also]
    encoder = model.autoencoder.encoder.state_dict()
    for source, other, _ in others:
        theirs = other.autoencoder.encoder.state_dict()
        if theirs.keys() != encoder.keys() or not all(torch.equal(theirs[k], encoder[k]) for k in encoder):
            raise ValueError(f"{source}: its autoencoder's encoder differs from {model_path}'s, so its "
                             "latents would not be the ones the decoder is tuned for")
    torch.manual_seed(seed)
    device = training_device()
    model = model.to(device).requires_grad_(False)
    decoder = model.autoencoder.decoder.train().requires_grad_(True)
    opt = torch.optim.AdamW(decoder.parameters(), lr=lr, weight_decay=0.0)
    world = World(seed=seed + 2000, frames=model.config.frames, size=model.config.height * model.config.factor,
                  held_out=False, device=device)   # other clips than the DiT's and the autoencoder's
    generator = torch.Generator().manual_seed(seed)
    start, running = time.time(), None
    for step in range(steps):
        clips, captions = world.batch(list(range(step * batch, (step + 1) * batch)))
        latents = estimates(model, model.encode_frames(clips), captions, tau_low, clean_share, generator)
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50) * (1 - step / steps)
        loss = decoder_loss(model, latents.flatten(0, 1), clips.flatten(0, 1), silhouette)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % log_every == 0 or step + 1 == steps:
            print(f"step {step + 1}/{steps}  loss {running:.4f}  {time.time() - start:.0f}s", flush=True)
    model = model.cpu().eval()
    tuned = model.autoencoder.decoder.state_dict()
    recorded = {"decoder.tuned_on": model_path, "decoder.steps": str(steps), "decoder.lr": str(lr),
                "decoder.tau_low": str(tau_low), "decoder.silhouette": str(silhouette),
                "decoder.clean_share": str(clean_share)}
    for source, carrier, path in ((model_path, model, out), *others):
        carrier.autoencoder.decoder.load_state_dict(tuned)
        save(carrier, path, extra={**read_config(source)[1], **recorded})
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a latent StreamDiT file: its decoder is tuned on its own estimates")
    ap.add_argument("--out", required=True, help="where the model with the tuned decoder goes")
    ap.add_argument("--also", nargs=2, action="append", default=[], metavar=("SOURCE", "TARGET"),
                    help="another model file with the same encoder, written to TARGET with the tuned decoder")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--tau-low", type=float, default=0.5, help="estimates from times in [this, 1] (0 = noise)")
    ap.add_argument("--silhouette", type=float, default=0.1, help="weight of the silhouette term (0: off)")
    ap.add_argument("--clean-share", type=float, default=0.25, help="share of frames decoded from exact latents")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    tune_decoder(args.model, args.steps, args.out, tuple(map(tuple, args.also)), args.batch, args.lr, args.tau_low,
                 args.silhouette, args.clean_share, args.seed)


if __name__ == "__main__":
    main()
