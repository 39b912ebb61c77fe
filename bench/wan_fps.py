"""Streaming speed of a stock Wan 2.1 T2V model through the pack's Wan path (832x480).

Rows: StreamDiT partitions, in video frames per second with the streaming VAE decode
included, and time to the first frame; the baseline, measured in the same run, is
ComfyUI's stock KSampler (euler, same steps and guidance) on clips of the buffer's
latent length, each decoded by the stock one-shot VAE decode.

Needs a CUDA GPU and the Wan 2.1 T2V 1.3B diffusion model and VAE (found in ComfyUI's
model folders under the template names, or given by path). The text encoder is not
needed: the prompts are fixed random embeddings (a prompt is encoded once, not per
frame). ``--random-weights`` builds the 1.3B model and the VAE at their real sizes with
random weights instead (speed does not depend on the weights' values) for machines
without the files. ``--tiny`` runs the same code on tiny random weights at 64x64 on the
CPU, to check the script itself (its figures say nothing about Wan).

Usage: python bench/wan_fps.py [--unet PATH] [--vae PATH] [--random-weights | --tiny] [--frames 81]
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "scripts"), os.path.join(ROOT, "tests")]

PARTITIONS = {  # name: (K, N, c, s); latent frames, B = 10 latents (37 video frames)
    "StreamDiT c=2 s=4, 20 steps": (0, 5, 2, 4),
    "diagonal (FIFO) c=1 s=2, 20 steps": (0, 10, 1, 2),
    "StreamDiT c=2 s=2, 10 steps": (0, 5, 2, 2),
}
TEXT_TOKENS, TEXT_DIM = 512, 4096


def load_pack():
    """ComfyUI and the pack, imported the way ComfyUI imports a custom node package."""
    import torch
    from comfy_server import comfy_path
    sys.path.insert(0, comfy_path())
    from comfy.cli_args import args
    args.cpu = not torch.cuda.is_available()
    spec = importlib.util.spec_from_file_location("streamdit_comfy", os.path.join(ROOT, "__init__.py"),
                                                  submodule_search_locations=[ROOT])
    module = importlib.util.module_from_spec(spec)
    sys.modules["streamdit_comfy"] = module
    spec.loader.exec_module(module)
    return lambda name: importlib.import_module(f"streamdit_comfy.{name}")


def find(folder: str, name: str, given: str | None) -> str | None:
    import folder_paths
    return given if given else folder_paths.get_full_path(folder, name)


def load_models(args):
    import comfy.sd
    if args.tiny or args.random_weights:
        from tiny_wan import WAN21_1_3B, WAN21_VAE_DIM, wan_model_state, wan_vae_state
        unet, vae = (wan_model_state(**WAN21_1_3B), wan_vae_state(dim=WAN21_VAE_DIM)) if args.random_weights else \
            (wan_model_state(), wan_vae_state())
        return comfy.sd.load_diffusion_model_state_dict(unet), comfy.sd.VAE(sd=vae)
    unet = find("diffusion_models", "wan2.1_t2v_1.3B_fp16.safetensors", args.unet)
    vae = find("vae", "wan_2.1_vae.safetensors", args.vae)
    if not unet or not vae or not os.path.exists(unet) or not os.path.exists(vae):
        sys.exit("Wan 2.1 T2V 1.3B weights not found (wan2.1_t2v_1.3B_fp16.safetensors, wan_2.1_vae.safetensors): "
                 "put them in ComfyUI's models folders or pass --unet/--vae. Nothing measured.")
    import comfy.utils
    return comfy.sd.load_diffusion_model(unet), comfy.sd.VAE(sd=comfy.utils.load_torch_file(vae, safe_load=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unet")
    ap.add_argument("--vae")
    ap.add_argument("--frames", type=int, default=81, help="video frames timed after the first one")
    ap.add_argument("--guidance", type=float, default=5.0)
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--random-weights", action="store_true", help="the real 1.3B and VAE shapes, random weights")
    which.add_argument("--tiny", action="store_true", help="tiny random weights on the CPU at 64x64 (checks the script)")
    args = ap.parse_args()

    import torch
    if not args.tiny and not torch.cuda.is_available():
        sys.exit("no CUDA GPU here: this benchmark measures Wan on a GPU (use --tiny to check the script). "
                 "Nothing measured.")
    pack = load_pack()
    import comfy.sample
    wan = pack("nodes.wan")
    Partition = pack("stream_core.engine.partition").Partition   # noqa: N806
    WanStreamFactory = pack("nodes.wan_session").WanStreamFactory   # noqa: N806

    model, vae = load_models(args)
    width, height = (64, 64) if args.tiny else (832, 480)
    shape = (model.model.latent_format.latent_channels, height // 8, width // 8)
    g = torch.Generator().manual_seed(0)
    positive, negative = (torch.randn(1, TEXT_TOKENS, TEXT_DIM, generator=g) for _ in range(2))
    cond = lambda c: [[c, {}]]  # noqa: E731
    device = model.load_device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def stream_row(part):
        """The Wan Stream node's own session (its factory), models loaded as the node loads them."""
        factory = WanStreamFactory(model, cond(positive), cond(negative), vae, 0, width, height, Partition(*part),
                                   "simple", args.guidance)
        frames = factory.create().frames
        with wan.experts_loaded(factory.experts, factory.batch):
            start = time.perf_counter()
            frames.take(1)
            sync()
            first = time.perf_counter() - start
            start = time.perf_counter()
            frames.take(args.frames)
            sync()
            steady = time.perf_counter() - start
        p = factory.partition
        return {"fps": args.frames / steady, "first_s": first, "steps": p.T, "B": p.B}

    def clip_row(latents, steps):
        noise = torch.randn(1, shape[0], latents, *shape[1:], generator=g)
        start = time.perf_counter()
        out = comfy.sample.sample(model, noise, steps, args.guidance, "euler", "simple", cond(positive),
                                  cond(negative), torch.zeros_like(noise), disable_pbar=True)
        images = vae.decode(out)
        sync()
        seconds = time.perf_counter() - start
        return {"fps": images.shape[1] / seconds, "first_s": seconds, "steps": steps, "B": latents}

    stream_row((0, 1, 2, 1))   # warm-up: kernels, loading
    rows = {"stock KSampler clip + one-shot decode, 20 steps": clip_row(10, 20)}
    rows.update({name: stream_row(part) for name, part in PARTITIONS.items()})
    base = next(iter(rows.values()))
    gpu = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    what = "tiny random Wan (script check)" if args.tiny else \
        "Wan 2.1 T2V 1.3B" + (" shapes, random weights" if args.random_weights else "")
    print(f"{what} at {width}x{height}, "
          f"guidance {args.guidance}, {gpu}, {args.frames} frames timed after the first")
    print("| scheme | latents B | steps | video FPS | FPS / stock clip | first frame s | first / stock clip |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['B']} | {r['steps']} | {r['fps']:.2f} | {r['fps'] / base['fps']:.2f} | "
              f"{r['first_s']:.2f} | {r['first_s'] / base['first_s']:.2f} |")


if __name__ == "__main__":
    main()
