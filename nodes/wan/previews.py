"""Cheaper decoders for a Wan stream, for a live view (or fast outputs) that the full VAE
would slow down: the tiny TAEHV decoder, and the model's latent-to-RGB factors.

Both keep the full decode's timing: a latent frame becomes 4 video frames, the stream's
first one 1, so frame indices, prompt timelines and the panel's clock stay the same.
Each is ``decoder(latents [n, C, h, w]) -> images [m, H, W, 3]`` in [0, 1].
"""
from __future__ import annotations

import copy

import comfy.model_management
import comfy.taesd.taehv
import comfy.utils
import folder_paths
import torch
import torch.nn.functional as F
from safetensors import safe_open

from ...stream_core.engine.decoded_stream import no_images
from .source import VIDEO_FRAMES_PER_LATENT, WanModelError

FOLDER = "vae_approx"             # where ComfyUI keeps its preview decoders (taew2_1, taew2_2, ...)


def tiny_decoder_files() -> list[str]:
    """The .safetensors files in vae_approx that may be TAEHV decoders (their names say "tae")."""
    return [name for name in folder_paths.get_filename_list(FOLDER)
            if name.endswith(".safetensors") and "tae" in name.lower()]


class TinyStreamDecoder:
    """A TAEHV decoder (``taew2_1`` for Wan 2.1 and 2.2 A14B latents, ``taew2_2`` for the 2.2 5B)
    run causally over a stream of VAE-space latents: each latent frame passes the decoder's
    blocks once, every memory block keeps the last frame it saw, and the decoder's first
    ``frames_to_trim`` frames are dropped, so decoding piece by piece equals TAEHV decoding
    the whole clip at once. Latents pass the TAEHV's own ``process_in`` first, as in its decode
    (scaling, for the files ComfyUI's loader gives a latent format; none for taew2_1)."""

    def __init__(self, taehv: comfy.taesd.taehv.TAEHV, device: torch.device, dtype: torch.dtype = torch.float32):
        self.process_in = taehv.process_in
        self.net = taehv.decoder.to(device, dtype).eval()
        self.patch = taehv.patch_size
        self.latent_channels = taehv.latent_channels
        self.device, self.dtype = device, dtype
        self._memory: list[torch.Tensor | None] = [None] * len(self.net)
        self._to_trim = taehv.frames_to_trim

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self._memory if t is not None)

    def _frames(self, z: torch.Tensor) -> list[torch.Tensor]:
        """One latent frame [1, C, h, w] -> the decoder's frames for it, each [1, 3 * patch², H, W]."""
        out, work = [], [(z, 0)]
        while work:                                   # depth first: every frame in time order at every block
            x, i = work.pop()
            if i == len(self.net):
                out.append(x)
                continue
            block = self.net[i]
            if isinstance(block, comfy.taesd.taehv.MemBlock):
                past = self._memory[i] if self._memory[i] is not None else torch.zeros_like(x)
                self._memory[i] = x.clone()
                work.append((block(x, past), i + 1))
            elif isinstance(block, comfy.taesd.taehv.TGrow):
                work.extend((frame, i + 1) for frame in reversed(block(x).split(1)))
            else:
                work.append((block(x), i + 1))
        return out

    @torch.inference_mode()
    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        if latents.shape[1] != self.latent_channels:
            raise WanModelError(f"the tiny decoder takes {self.latent_channels} latent channels, the model makes "
                                f"{latents.shape[1]}: use taew2_1 for Wan 2.1 and 2.2 A14B, taew2_2 for Wan 2.2 5B")
        latents = self.process_in(latents.movedim(0, 1)[None])[0].movedim(1, 0)   # [n, C, h, w]
        frames = [f for z in latents.to(self.device, self.dtype) for f in self._frames(z[None])]
        dropped = min(self._to_trim, len(frames))
        frames, self._to_trim = frames[dropped:], self._to_trim - dropped
        if not frames:
            return no_images()
        images = torch.cat(frames)
        if self.patch > 1:
            images = F.pixel_shuffle(images, self.patch)
        return images.float().clamp(0, 1).movedim(1, -1).cpu()


def decoder_dtype(device: torch.device) -> torch.dtype:
    """What a tiny decoder runs in: half precision on a GPU, single on a CPU."""
    return torch.float16 if device.type == "cuda" else torch.float32


def vae_tiny_decoder(vae, device: torch.device) -> TinyStreamDecoder | None:
    """A stream decoder over ``vae`` where it is a TAEHV, as ComfyUI's VAELoader loads the tiny
    video autoencoders (taew2_1, lighttaew2_1, taew2_2, ...); None for any other VAE. The stream
    decodes with its own copy, leaving the VAE as ComfyUI loaded it."""
    taehv = getattr(vae, "first_stage_model", None)
    if not isinstance(taehv, comfy.taesd.taehv.TAEHV):
        return None
    return TinyStreamDecoder(copy.deepcopy(taehv), device, decoder_dtype(device))


def load_tiny_decoder(name: str, device: torch.device) -> TinyStreamDecoder:
    """A TAEHV decoder from ComfyUI's vae_approx folder (safetensors only; its encoder is not loaded)."""
    path = folder_paths.get_full_path(FOLDER, name)
    if path is None or not name.endswith(".safetensors"):
        raise WanModelError(f"no tiny decoder '{name}' (a .safetensors file) in models/{FOLDER}/: download taew2_1 "
                            "(Wan 2.1, 2.2 A14B) or taew2_2 (2.2 5B) there")
    with safe_open(path, framework="pt") as f:
        keys = set(f.keys())
    if "decoder.1.weight" not in keys or "decoder.22.bias" not in keys:
        raise WanModelError(f"{name} is not a TAEHV video decoder (no decoder.1 / decoder.22 weights)")
    state = comfy.utils.load_torch_file(path, safe_load=True)
    taehv = comfy.taesd.taehv.TAEHV(latent_channels=state["decoder.1.weight"].shape[1])
    decoder = {k[len("decoder."):]: v for k, v in state.items() if k.startswith("decoder.")}
    wanted = taehv.decoder.state_dict()
    for key, value in decoder.items():   # some files grow time at the first stage too: keep its last step
        if key in wanted and value.ndim == 4 and value.shape[0] == 2 * wanted[key].shape[0]:
            decoder[key] = value[wanted[key].shape[0]:]
    try:
        taehv.decoder.load_state_dict(decoder)
    except RuntimeError as e:
        raise WanModelError(f"{name} does not fit the TAEHV decoder: {str(e).splitlines()[1].strip()}") from None
    return TinyStreamDecoder(taehv, device, decoder_dtype(device))


class LatentRGBDecoder:
    """The lightest preview: each model-space latent frame [C, h, w] made RGB by the model's
    latent RGB factors (as ComfyUI's previews do), ``upscale`` times larger, shown for as many
    video frames as it stands for."""

    def __init__(self, latent_format, upscale: int):
        if getattr(latent_format, "latent_rgb_factors", None) is None:
            raise WanModelError("this model's latent format has no RGB factors: choose another decoder")
        self.factors = torch.tensor(latent_format.latent_rgb_factors, dtype=torch.float32)   # [C, 3]
        self.bias = torch.tensor(latent_format.latent_rgb_factors_bias or [0.0, 0.0, 0.0], dtype=torch.float32)
        self.upscale = upscale
        self._first = True

    @torch.inference_mode()
    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        rgb = torch.einsum("nchw,cr->nrhw", latents.float().cpu(), self.factors) + self.bias[:, None, None]
        rgb = F.interpolate(rgb, scale_factor=self.upscale, mode="nearest")
        repeats = torch.full((len(rgb),), VIDEO_FRAMES_PER_LATENT)
        if self._first and len(rgb):
            repeats[0], self._first = 1, False
        return ((rgb + 1) / 2).clamp(0, 1).repeat_interleave(repeats, dim=0).movedim(1, -1)
