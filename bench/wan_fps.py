"""Streaming speed of a stock Wan 2.1 T2V model through the pack's Wan path (832x480).

Every stream row runs the Wan Stream node's own session (its factory, its decoders, its
model loading), inside ``torch.inference_mode()`` as ComfyUI's executor runs nodes. Rows, in
this order: the baselines, ComfyUI's stock KSampler (euler) on clips with the stock one-shot
decode; the real-time setting (4 steps, guidance 1, one pass per shift), with the full VAE
decode, the tiny TAEHV decoder and the latent-RGB preview, the full decode overlapping the
next step (*overlap decode*), and ComfyUI's torch.compile wrapper (as TorchCompileModel adds
it; its graphs compiled before the row) alone and with the overlapped full decode; the
frames taken by the node's run with its live view and its H.264 recording (encoded on the
run's output thread); two reference latents (the full VAE, the tiny decoder); video to video at the real-time setting (the default strength,
0.6): a video file, a camera's frames encoded as they come (the Wan VAE's causal encoder,
kept across chunks), and a still camera with *skip similar input* 0.98; last, the slow
quality setting (20 steps, cfg 5) with the same decoder and speed-option rows. Then, where this
ComfyUI has its causal Wan model (0.33 and newer), the causal rows: the same weights opened as a
``CausalWanModel`` through the Causal Wan Stream node's session, frame-wise (c = 1) and chunk-wise
(c = 3), one chunk in the window (N = 1, 4 steps: Self-Forcing / Causal Forcing) and three
(N = 3, one step each: a Rolling Forcing window), sink 3 and cache 12 latents, the full VAE and
the tiny decoder.

Columns: end-to-end video FPS, DiT-loop FPS (decode time left out; a camera's encode stays
in), decode ms per frame, time to the first frame, peak GPU memory, the model calls'
achieved TFLOP/s (from the Wan architecture's FLOPs per pass; a causal call's attention spans
the cache too, and its cache writes count) and, for the causal rows, the KV cache's memory at
the row's end (full once the row has made sink + cache latents: 81 frames make 21).

Needs a CUDA GPU and the Wan 2.1 T2V 1.3B diffusion model and VAE (found in ComfyUI's
model folders under the template names, or given by path), and for the tiny-decoder rows
taew2_1.safetensors in models/vae_approx/. The text encoder is not needed: the prompts are
fixed random embeddings. ``--random-weights`` builds the 1.3B model, the VAE and the tiny
decoder at their real sizes with random weights instead (speed does not depend on the
values). ``--tiny`` runs the same code on tiny random weights at 64x64 on the CPU, to check
the script itself (its figures say nothing about Wan; ``--no-compile`` leaves out the
compiled rows, which take inductor minutes there).

Rows are printed as they are measured; a row that fails says why in its row and the others
still run (the exit status is then 1). ``--only TEXT`` measures only the rows whose setting
contains TEXT (the stock clip baselines always run). ``--reserve-vram GIB`` / ``--lowvram``
are ComfyUI's, for the behaviour of a smaller GPU on a big one.

Usage: python bench/wan_fps.py [--unet PATH] [--vae PATH] [--random-weights | --tiny] [--frames 81] [--no-compile]
                               [--only TEXT ...] [--reserve-vram GIB] [--lowvram]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "scripts"), os.path.join(ROOT, "tests")]
from comfy_pack import load_pack  # noqa: E402

QUALITY = dict(partition=(0, 5, 2, 4), guidance=5.0)    # the shipped quality workflow: 20 steps, cfg 5
REALTIME = dict(partition=(0, 4, 2, 1), guidance=1.0)   # a step-distilled model's setting: 4 steps
REFERENCES = dict(partition=(2, 3, 2, 1), guidance=1.0)  # the same with two reference latents
CAUSAL = {   # the causal model's rows: its window (K, N, c, s), sink and cache latents
    "causal: frame-wise N=1 c=1, 4 steps (Self-Forcing, Causal Forcing)": dict(partition=(0, 1, 1, 4), sink=3, window=12),
    "causal: chunk-wise N=1 c=3, 4 steps": dict(partition=(0, 1, 3, 4), sink=3, window=12),
    "causal: frame-wise window N=3 c=1, 1 step each (Rolling Forcing)": dict(partition=(0, 3, 1, 1), sink=3,
                                                                             window=12),
    "causal: chunk-wise window N=3 c=3, 1 step each": dict(partition=(0, 3, 3, 1), sink=3, window=12),
}
TEXT_TOKENS, TEXT_DIM = 512, 4096
TINY_FILE = "taew2_1.safetensors"
SKIP_SIMILAR = 0.98  # the still-camera row's


def find(folder: str, name: str, given: str | None) -> str | None:
    import folder_paths
    return given if given else folder_paths.get_full_path(folder, name)


def load_models(args, scratch: str):
    """(MODEL, VAE, whether a tiny decoder is there): the files, or random weights (written
    where the loaders find them)."""
    import comfy.sd
    import folder_paths
    if args.tiny or args.random_weights:
        from tiny_wan import WAN21_1_3B, WAN21_VAE_DIM, taehv_state, wan_model_state, wan_vae_state, write
        unet, vae = (wan_model_state(**WAN21_1_3B), wan_vae_state(dim=WAN21_VAE_DIM)) if args.random_weights else \
            (wan_model_state(), wan_vae_state())
        write(os.path.join(scratch, TINY_FILE), taehv_state())
        folder_paths.add_model_folder_path("vae_approx", scratch, is_default=True)
        return comfy.sd.load_diffusion_model_state_dict(unet), comfy.sd.VAE(sd=vae), True
    unet = find("diffusion_models", "wan2.1_t2v_1.3B_fp16.safetensors", args.unet)
    vae = find("vae", "wan_2.1_vae.safetensors", args.vae)
    if not unet or not vae or not os.path.exists(unet) or not os.path.exists(vae):
        sys.exit("Wan 2.1 T2V 1.3B weights not found (wan2.1_t2v_1.3B_fp16.safetensors, wan_2.1_vae.safetensors): "
                 "put them in ComfyUI's models folders or pass --unet/--vae. Nothing measured.")
    import comfy.utils
    model = comfy.sd.load_diffusion_model(unet)
    return model, comfy.sd.VAE(sd=comfy.utils.load_torch_file(vae, safe_load=True)), \
        folder_paths.get_full_path("vae_approx", TINY_FILE) is not None


def causal_twin(model, pack) -> list:
    """[the stream's Wan weights opened as ComfyUI's ``CausalWanModel``] (the file marker a causal
    checkpoint carries, the same weights: speed does not depend on them), or [] where this ComfyUI
    has no causal Wan model (its rows are left out, and the table says so)."""
    import comfy.sd
    if not pack("nodes.wan.causal_source").comfy_has_causal_wan():
        print("causal rows: this ComfyUI has no causal Wan model (comfy/ldm/wan/ar_model.py, 0.33 and newer): "
              "left out")
        return []
    from tiny_wan import CAUSAL_METADATA
    state = model.model.diffusion_model.state_dict()
    return [comfy.sd.load_diffusion_model_state_dict(state, metadata=CAUSAL_METADATA)]


def wan_flops(net, latents: int, height: int, width: int, passes: int, cached: int = 0) -> float:
    """FLOPs of one model call over ``latents`` latent frames of height x width latent pixels
    (``passes`` conditionings batched), attending also to ``cached`` latent frames' keys (a causal
    model's cache): linear layers 2·tokens·in·out, attention 4·tokens·(tokens + cached)·dim (QK
    and AV), cross-attention against the text tokens."""
    block = net.blocks[0]
    dim, ffn, layers = net.dim, block.ffn[0].out_features, len(net.blocks)
    per_frame = (height // net.patch_size[1]) * (width // net.patch_size[2])
    tokens = latents * per_frame
    per_layer = (2 * tokens * dim * dim * 4            # self-attention q, k, v, o
                 + 4 * tokens * (tokens + cached * per_frame) * dim   # self-attention scores and values
                 + 2 * tokens * dim * dim * 2          # cross-attention q, o
                 + 2 * TEXT_TOKENS * dim * dim * 2     # cross-attention k, v
                 + 4 * tokens * TEXT_TOKENS * dim      # cross-attention scores and values
                 + 2 * tokens * dim * ffn * 2)         # feed-forward
    return passes * layers * per_layer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unet")
    ap.add_argument("--vae")
    ap.add_argument("--frames", type=int, default=81,
                    help="video frames timed after the first chunk (rounded up to whole chunks)")
    ap.add_argument("--no-compile", action="store_true", help="leave out the torch.compile rows")
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="measure only the rows whose setting contains TEXT (repeatable; the stock clip rows, "
                         "the ratios' baseline, always run)")
    ap.add_argument("--reserve-vram", type=float, metavar="GIB",
                    help="ComfyUI's --reserve-vram: leave GIB of the GPU unused (a smaller GPU, on a big one)")
    ap.add_argument("--lowvram", action="store_true", help="ComfyUI's --lowvram")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--random-weights", action="store_true", help="the real 1.3B, VAE and TAEHV shapes, random weights")
    which.add_argument("--tiny", action="store_true", help="tiny random weights on the CPU at 64x64 (checks the script)")
    args = ap.parse_args()

    import torch
    if not args.tiny and not torch.cuda.is_available():
        sys.exit("no CUDA GPU here: this benchmark measures Wan on a GPU (use --tiny to check the script). "
                 "Nothing measured.")
    with torch.inference_mode(), tempfile.TemporaryDirectory() as scratch:   # as ComfyUI runs nodes
        what, rows = plan(args, scratch, load_pack(args.reserve_vram, args.lowvram))
        print(what)
        failed = report(rows)
    if failed:
        sys.exit(f"{failed} row(s) failed (their rows say why)")


def report(rows) -> int:
    """Measure ``rows`` ((setting, decoder, a function returning the row's figures)) and print the
    table, each row as it is measured; a row that raises says why in its row and the next rows
    still run. Returns how many failed. The ratio column is against the first row measured."""
    import torch
    print("| setting | decoder | video FPS | FPS / stock clip | DiT-loop FPS | decode ms/frame | first frame s | "
          "peak GiB | model TFLOP/s | KV cache GiB |")
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    base, failed = None, 0
    for name, decoder, run in rows:
        try:
            r = run()
        except Exception as e:   # noqa: BLE001 - reported in the row; the other rows still run
            failed += 1
            why = (str(e).splitlines() or [""])[0][:200]
            print(f"| {name} | {decoder} | failed: {type(e).__name__}: {why} | | | | | | | |", flush=True)
            traceback.print_exc()   # the whole story on stderr
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        base = base or r["fps"]
        print(f"| {name} | {decoder} | {r['fps']:.2f} | {r['fps'] / base:.2f} | {r['dit_fps']:.2f} | "
              f"{r['decode_ms']:.1f} | {r['first_s']:.2f} | {r['peak_gib']:.1f} | {r['tflops']:.3g} | "
              f"{'' if r.get('kv_gib') is None else format(r['kv_gib'], '.3g')} |", flush=True)
    return failed


def plan(args, scratch: str, pack):
    """(what is measured, the rows: (setting, decoder, a function measuring it)), the models loaded."""
    import comfy.model_management
    import comfy.sample
    import folder_paths
    import torch
    from comfy_api.torch_helpers import set_torch_compile_wrapper
    Partition = pack("stream_core.engine.partition").Partition   # noqa: N806
    WanStreamFactory = pack("nodes.wan.session").WanStreamFactory   # noqa: N806
    CausalWanStreamFactory = pack("nodes.wan.causal_session").CausalWanStreamFactory   # noqa: N806
    FRAMES_PER_LATENT = pack("nodes.wan.session").FRAMES_PER_LATENT   # noqa: N806
    frame_input = pack("stream_core.engine.frame_input")
    run = pack("nodes.run.queued_run")
    VideoInput, STRENGTH = frame_input.VideoInput, frame_input.DEFAULT_STRENGTH   # noqa: N806

    model, vae, has_tiny = load_models(args, scratch)
    causal_model = causal_twin(model, pack)   # [the same weights as a CausalWanModel], or [] on an older ComfyUI
    folder_paths.set_output_directory(scratch)   # the recorded rows' videos
    width, height = (64, 64) if args.tiny else (832, 480)
    shape = (model.model.latent_format.latent_channels, height // 8, width // 8)
    g = torch.Generator().manual_seed(0)
    positive, negative = (torch.randn(1, TEXT_TOKENS, TEXT_DIM, generator=g) for _ in range(2))
    cond = lambda c: [[c, {}]]  # noqa: E731
    device = model.load_device
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def peak_gib() -> float:
        return torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0

    def stream_row(setting: dict, decoder: str, patcher=None, video=None, camera=None, skip_similar=0.0,
                   overlap=False, recorded=False, causal: bool = False) -> dict:
        """The Wan Stream node's own session (its factory), models loaded as the node loads them.
        ``overlap``: its *overlap decode* (the decode on a worker thread; the decode time is then
        the time the stream waits for it). ``recorded``: the timed frames taken by the node's run
        (``run.advance``: the live view, and every frame written to the stream's H.264 recording
        on the run's output thread).
        ``video``: a ``VideoInput`` (a file: encoded as the run starts, before the timing);
        ``camera``: images [F, H, W, 3] fed through the session's camera from the second frame
        on, the frames of one shift before each, encoded as the stream takes them (timed).
        ``causal``: the Causal Wan Stream node's session over the causal model (``setting``: its
        partition, K = 0; sink and cache latents)."""
        if causal:
            factory = CausalWanStreamFactory(model=causal_model[0], positive=cond(positive), vae=vae, seed=0,
                                             width=width, height=height, partition=Partition(*setting["partition"]),
                                             scheduler="simple", decoder=decoder, sink=setting["sink"],
                                             window=setting["window"])
        else:
            factory = WanStreamFactory(model=patcher or model, positive=cond(positive), negative=cond(negative),
                                       vae=vae, seed=0, width=width, height=height,
                                       partition=Partition(*setting["partition"]), scheduler="simple",
                                       guidance=setting["guidance"], decoder=decoder, video=video,
                                       skip_similar=skip_similar, overlap_decode=overlap)
        session = factory.create()
        factory.reconfigure(session)
        frames = session.frames
        shift = FRAMES_PER_LATENT * factory.partition.c   # video frames a shift makes
        fed = [0]

        def take(n: int) -> None:
            if recorded:
                run.advance(session, "bench", n, None, run.RunOptions(fps=16.0, record=True))
                return
            if camera is None:
                frames.take(n)
                return
            for _ in range(n // shift):
                for _ in range(shift):
                    session.feed(camera[fed[0] % len(camera)], STRENGTH, stamp=fed[0])
                    fed[0] += 1
                session.apply_requests()
                frames.take(shift)
        decoding = [0.0]
        decode = frames.decode

        def timed(latents):
            sync()
            start = time.perf_counter()
            images = decode(latents)
            sync()
            decoding[0] += time.perf_counter() - start
            return images

        frames.decode = timed
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        with factory.models_loaded():
            start = time.perf_counter()
            frames.take(1)
            sync()
            first = time.perf_counter() - start
            frames.take(frames.ready)   # the rest of the first chunk (not timed): the timing starts at a chunk's start
            counted = shift * -(-args.frames // shift)   # whole chunks, at least args.frames frames
            decoding[0], passes_before = 0.0, frames.stream.evaluations
            start = time.perf_counter()
            take(counted)
            sync()
            total = time.perf_counter() - start
        passes = frames.stream.evaluations - passes_before
        p = factory.partition
        if causal:   # the window's passes and each chunk's cache write, both attending to the (full) cache
            cache = session.source.cache
            latents = counted // FRAMES_PER_LATENT
            flops = (passes * wan_flops(model.model.diffusion_model, p.B, *shape[1:], 1, cache.frames)
                     + latents // p.c * wan_flops(model.model.diffusion_model, p.c, *shape[1:], 1, cache.frames))
        else:
            flops = passes * wan_flops(model.model.diffusion_model, p.B, *shape[1:], factory.batch[0])
        dit = total - decoding[0]
        return {"fps": counted / total, "dit_fps": counted / dit, "decode_ms": 1000 * decoding[0] / counted,
                "first_s": first, "peak_gib": peak_gib(), "tflops": flops / dit / 1e12,
                "kv_gib": session.source.cache.nbytes / 2**30 if causal else None}

    def clip_row(latents: int, steps: int, guidance: float) -> dict:
        noise = torch.randn(1, shape[0], latents, *shape[1:], generator=g)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        out = comfy.sample.sample(model, noise, steps, guidance, "euler", "simple", cond(positive), cond(negative),
                                  torch.zeros_like(noise), disable_pbar=True)
        sync()
        sampled = time.perf_counter() - start
        images = vae.decode(out)
        sync()
        seconds = time.perf_counter() - start
        n = images.shape[1]
        flops = steps * wan_flops(model.model.diffusion_model, latents, *shape[1:], 1 if guidance == 1 else 2)
        return {"fps": n / seconds, "dit_fps": n / sampled, "decode_ms": 1000 * (seconds - sampled) / n,
                "first_s": seconds, "peak_gib": peak_gib(), "tflops": flops / sampled / 1e12}

    decoders = ["vae", *([TINY_FILE] if has_tiny else []), "latent rgb"]
    tiny = decoders[-2]
    moving = torch.rand(1 + args.frames, height, width, 3, generator=g)   # content does not matter for speed
    still = moving[:1].expand(len(moving), -1, -1, -1)
    compiled, warm = [], []   # the model with ComfyUI's torch.compile wrapper; the settings it has compiled

    def compiled_model(setting: dict):
        """The compiled model, its graphs for ``setting``'s shapes compiled (not timed) the first time."""
        if not compiled:
            compiled.append(model.clone())
            set_torch_compile_wrapper(model=compiled[0], backend="inductor")   # what TorchCompileModel does
        if setting not in warm:
            stream_row(setting, decoders[-1], compiled[0])
            warm.append(setting)
        return compiled[0]

    def settings(name: str, setting: dict, chosen: list[str]) -> list:
        """The rows of one setting: each decoder in ``chosen``, overlap decode, and TorchCompileModel
        (the tiny decoder, or the next cheapest) alone and with overlap decode."""
        out = [(name, d, lambda d=d: stream_row(setting, d)) for d in chosen]
        out.append((f"{name.split(':')[0]}, overlap decode", "vae", lambda: stream_row(setting, "vae", overlap=True)))
        if not args.no_compile:
            out += [(f"{name.split(':')[0]}, TorchCompileModel (inductor)", decoders[1],
                     lambda: stream_row(setting, decoders[1], compiled_model(setting))),
                    (f"{name.split(':')[0]}, TorchCompileModel (inductor), overlap decode", "vae",
                     lambda: stream_row(setting, "vae", compiled_model(setting), overlap=True))]
        return out

    # the ratios' baselines first, then the real-time rows (the targets a GPU run checks), the slow quality ones last
    rows = [("stock KSampler clip of 10 latents + one-shot decode, 20 steps cfg 5", "vae", lambda: clip_row(10, 20, 5.0)),
            ("stock KSampler clip of 21 latents + one-shot decode, 4 steps guidance 1", "vae", lambda: clip_row(21, 4, 1.0))]
    rows += settings("real time: StreamDiT c=2 s=1 N=4, 4 steps guidance 1", REALTIME, decoders)
    rows += [("real time, through the node's run: live view, recorded (H.264 on the output thread)", d,
              lambda d=d: stream_row(REALTIME, d, recorded=True)) for d in decoders[:2]]
    rows += [("real time: StreamDiT K=2 c=2 s=1 N=3, 4 steps guidance 1", d, lambda d=d: stream_row(REFERENCES, d))
             for d in decoders[:2]]
    rows += [(f"video to video: real time, a video at strength {STRENGTH:g}", tiny,
              lambda: stream_row(REALTIME, tiny, video=VideoInput(moving, STRENGTH))),
             (f"video to video: real time, a camera at strength {STRENGTH:g} (encoded as it comes)", tiny,
              lambda: stream_row(REALTIME, tiny, camera=moving)),
             (f"video to video: real time, a still camera, skip similar {SKIP_SIMILAR:g}", tiny,
              lambda: stream_row(REALTIME, tiny, camera=still, skip_similar=SKIP_SIMILAR))]
    rows += settings("quality: StreamDiT c=2 s=4 N=5, 20 steps cfg 5", QUALITY, decoders)
    if causal_model:
        rows += [(name, d, lambda setting=setting, d=d: stream_row(setting, d, causal=True))
                 for name, setting in CAUSAL.items() for d in decoders[:2]]
    rows = rows[:2] + [row for row in rows[2:] if not args.only or any(text in row[0] for text in args.only)]
    stream_row(REALTIME, decoders[-1])   # warm-up: kernels, loading
    gpu = torch.cuda.get_device_name() if cuda else "CPU"
    memory = (f", --reserve-vram {args.reserve_vram:g}" if args.reserve_vram is not None else "") + \
        (", --lowvram" if args.lowvram else "")
    what = ("tiny random Wan (script check)" if args.tiny else
            "Wan 2.1 T2V 1.3B" + (" shapes, random weights" if args.random_weights else "")) + \
        f" at {width}x{height}, {gpu}{memory}, torch {torch.__version__}; streams timed over whole chunks of at least " \
        f"{args.frames} frames after the first chunk, clips whole; " \
        f"model {comfy.model_management.unet_dtype()}, VAE {vae.vae_dtype}"
    return what, rows


if __name__ == "__main__":
    main()
