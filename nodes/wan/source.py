"""Stock ComfyUI Wan 2.1 / 2.2 text-to-video models as a stream's conditioning source, each
latent frame at its own noise level; and the loading of the models around a run.

ComfyUI's flow convention: ``x = (1 - sigma) * clean + sigma * noise``, the model
predicts ``v = noise - clean`` and ``denoised = x - sigma * v``. The engine's time is
``tau = 1 - sigma`` (0 = noise, 1 = clean), so ``dx/dtau = -v``.
Latent frames: Wan's causal VAE makes latent 0 one video frame and every later
latent four, so latent ``l`` starts at video frame ``max(0, 4 l - 3)``.
"""
from __future__ import annotations

import functools
import math
from contextlib import contextmanager
from dataclasses import dataclass

import comfy.ldm.wan.model
import comfy.model_management
import comfy.model_patcher
import comfy.model_sampling
import comfy.patcher_extension
import comfy.samplers
import torch

from ...stream_core.engine.flow import sigma_of, tau_of
from ...stream_core.engine.guidance import guide
from ...stream_core.engine.timeline import PromptTimeline, ScheduleError

VIDEO_FRAMES_PER_LATENT = 4
EXPERT_BOUNDARY = 0.875   # Wan 2.2 T2V's sigma at which the low-noise expert takes over (the node's default)
NO_TEXT_PROMPTS = ("a Wan stream follows the CONDITIONING inputs of its node: re-prompt it by editing them "
                   "(text prompts from the panel are for the native StreamDiT model)")


class WanModelError(ValueError):
    """A model or VAE this node cannot stream with; the message says why and what works."""


def output_frame(latent_index: int) -> int:
    """The first video frame that latent frame ``latent_index`` decodes to."""
    return max(0, VIDEO_FRAMES_PER_LATENT * latent_index - (VIDEO_FRAMES_PER_LATENT - 1))


def vae_latents(patcher, latents: torch.Tensor) -> torch.Tensor:
    """Latent frames [n, C, h, w] from the model's space into the VAE's (``process_latent_out``)."""
    return patcher.model.process_latent_out(latents.movedim(0, 1)[None])[0].movedim(1, 0)


def model_latents(patcher, latents: torch.Tensor) -> torch.Tensor:
    """Latent frames [n, C, h, w] from the VAE's space into the model's (``process_latent_in``)."""
    return patcher.model.process_latent_in(latents.movedim(0, 1)[None])[0].movedim(1, 0)


def is_causal(net) -> bool:
    """Whether a diffusion model runs block by block with a KV cache (ComfyUI's ``CausalWanModel``)."""
    return callable(getattr(net, "forward_block", None)) and callable(getattr(net, "init_kv_caches", None))


def check_model(patcher) -> None:
    """Refuse models whose diffusion model takes one noise level per sample, or that
    need inputs a text-to-video stream does not have."""
    base = patcher.model
    net = getattr(base, "diffusion_model", None)
    name = type(net).__name__
    if is_causal(net):
        raise WanModelError(f"the model is a {name}, a causal (autoregressive) Wan model such as Self-Forcing: "
                            "stream it with StreamDiT Causal Wan Stream")
    if type(net) is not comfy.ldm.wan.model.WanModel:
        raise WanModelError(
            f"the model is a {name}, not a Wan 2.1 / 2.2 text-to-video WanModel: StreamDiT gives every latent frame "
            "its own noise level, which only the plain WanModel accepts (VACE, camera, S2V, HuMo and Animate "
            "variants take one level per sample). Load a Wan T2V model, e.g. wan2.1_t2v_1.3B_fp16.safetensors.")
    check_text_to_video(patcher)


def check_text_to_video(patcher) -> None:
    """Refuse a Wan model (plain or causal) that needs a start image, or whose sampling is not
    flow matching."""
    base, net = patcher.model, patcher.model.diffusion_model
    if net.model_type != "t2v" or net.patch_embedding.weight.shape[1] != base.latent_format.latent_channels:
        raise WanModelError(
            "this Wan model is an image-to-video model (it needs a start image and CLIP vision input on every "
            "step); StreamDiT streams from text: load a Wan T2V model.")
    if not isinstance(patcher.get_model_object("model_sampling"), comfy.model_sampling.CONST):
        raise WanModelError("the model's sampling is not flow matching (CONST); was a model sampling patch applied?")


def check_experts(patcher, low_noise=None) -> list:
    """The experts of a stream, [patcher] or [patcher, low_noise], each a Wan model
    (``check_model``) and the two of one latent format; a WanModelError otherwise."""
    experts = [patcher] if low_noise is None else [patcher, low_noise]
    for expert in experts:
        check_model(expert)
    if low_noise is not None and type(low_noise.model.latent_format) is not type(patcher.model.latent_format):
        raise WanModelError("the two experts have different latent formats: load the high- and low-noise "
                            "models of one Wan 2.2 release")
    return experts


def model_tau_grid(patcher, scheduler: str, steps: int) -> torch.Tensor:
    """The model's own sigma schedule (shift included) as engine times [steps + 1], float64."""
    sigmas = comfy.samplers.calculate_sigmas(patcher.get_model_object("model_sampling"), scheduler, steps)
    return tau_of(sigmas.to(torch.float64).cpu())


def too_big(needed: int, free: int, latents: int, size: tuple[int, int], with_decode: bool = False,
            dynamic_vram: bool = False) -> str | None:
    """Why a model pass over ``latents`` latent frames of ``size`` (w, h) pixels (``with_decode``: and
    the overlapped decode of a latent frame), needing ``needed`` bytes with ``free`` bytes left beside
    the loaded models, cannot run; None when it can. ``dynamic_vram``: ComfyUI's Dynamic VRAM loads
    the model, which already moves weights out as needed (and ignores --lowvram)."""
    if needed <= free:
        return None
    what = "one model pass" + (" and the overlapped decode" if with_decode else "")
    advice = ["make the buffer (K + N*c) or the frames smaller", "use guidance 1 (one pass instead of two)"]
    if with_decode:
        advice.append("turn overlap decode off")
    if not dynamic_vram:
        advice.append("start ComfyUI with --lowvram")
    room = ("can be freed beside the models' working part (Dynamic VRAM already moves the weights out as needed)"
            if dynamic_vram else "are free beside the models")
    return (f"{what} over a buffer of {latents} latent frames at {size[0]}x{size[1]} needs about "
            f"{needed / 2**30:.1f} GiB, and {free / 2**30:.1f} GiB {room}: " + ", ".join(advice[:-1])
            + f" or {advice[-1]}")


def uses_dynamic_vram(patcher) -> bool:
    """Whether ComfyUI's Dynamic VRAM (newer ComfyUI, on by default on GPUs) loads ``patcher``'s model."""
    is_dynamic = getattr(patcher, "is_dynamic", None)
    return bool(is_dynamic()) if callable(is_dynamic) else False


def free_memory(patcher, device) -> int:
    """Bytes a pass on ``device`` can have once loaded: what ``patcher`` says it can free, where the
    patcher answers that (newer ComfyUI counts Dynamic VRAM's movable weights), else what is free."""
    ask = getattr(patcher, "get_free_memory", None)
    return int(ask(device)) if callable(ask) else int(comfy.model_management.get_free_memory(device))


@contextmanager
def experts_loaded(experts: list, batch: list[int], vae=None, decode_alongside: bool = False):
    """The models (and ``vae``, when the run uses it) on their device together for a run over
    latents of shape ``batch`` [passes, C, F, h, w], once per run, so a GPU too small for both
    holds each in part rather than swapping them at every chunk; their patches applied
    (``pre_run``) and removed after (``cleanup``), as ComfyUI's samplers do. The memory asked
    for is one model pass's or one latent frame's decode, whichever is more, or both together
    when the decode runs alongside the model (``decode_alongside``: *overlap decode*). Refuses
    with a message when that cannot fit."""
    passes = max(e.model.memory_required(batch) for e in experts)
    models = [*experts, *([vae.patcher] if vae is not None else [])]
    decoding = 0 if vae is None else vae.memory_used_decode([1, batch[1], 1, *batch[3:]], vae.vae_dtype)   # a latent frame
    together = passes + decoding if decode_alongside else passes
    comfy.model_management.load_models_gpu(models, memory_required=max(together, decoding))
    device = experts[0].load_device
    if device.type == "cuda":
        why = too_big(together, free_memory(experts[0], device), batch[2], (batch[4] * 8, batch[3] * 8),
                      decode_alongside and vae is not None, uses_dynamic_vram(experts[0]))
        if why is not None:
            raise WanModelError(why)
    for expert in experts:
        expert.pre_run()
    try:
        yield
    finally:
        for expert in experts:
            expert.cleanup()


def cross_attn(conditioning) -> torch.Tensor:
    """The text embedding [1, L, D] of a stock CONDITIONING (its first entry)."""
    if not conditioning or not torch.is_tensor(conditioning[0][0]) or conditioning[0][0].ndim != 3:
        raise WanModelError("expected a CONDITIONING from a text encoder (e.g. CLIP Text Encode with a Wan umt5)")
    return conditioning[0][0][:1]


@dataclass(frozen=True, eq=False)
class ConditioningSchedule:
    """Conditionings by video frame: ``timeline`` over labels, ``embeddings[label]`` [1, L, D].
    Two schedules are equal when their timelines, labels and embeddings are."""

    timeline: PromptTimeline
    embeddings: tuple[tuple[str, torch.Tensor], ...]

    def with_entry(self, frame: int, label: str, embedding: torch.Tensor,
                   transition: int) -> "ConditioningSchedule":
        if any(label == known for known, _ in self.embeddings):
            raise ScheduleError(f"two schedule entries are labelled {label!r}: give each its own label")
        if any(frame == f for f, _ in self.timeline.entries):
            raise ScheduleError(f"two schedule entries start at frame {frame}")
        timeline = PromptTimeline(self.timeline.entries + ((frame, label),), transition)
        return ConditioningSchedule(timeline, self.embeddings + ((label, embedding),))

    @classmethod
    def single(cls, label: str, embedding: torch.Tensor) -> "ConditioningSchedule":
        return cls(PromptTimeline(((0, label),)), ((label, embedding),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConditioningSchedule):
            return NotImplemented
        return self.timeline == other.timeline and len(self.embeddings) == len(other.embeddings) and all(
            a == b and torch.equal(x, y) for (a, x), (b, y) in zip(self.embeddings, other.embeddings))

    __hash__ = None


def _same_length(contexts: list[torch.Tensor]) -> list[torch.Tensor]:
    """Repeat each [1, L_i, D] to the least common multiple of the L_i, as ComfyUI batches
    conditionings: attention over a sequence repeated k times gives the same result."""
    length = math.lcm(*(c.shape[1] for c in contexts))
    return [c.repeat(1, length // c.shape[1], 1) for c in contexts]


def _apply_model_per_frame(patcher, x: torch.Tensor, t: torch.Tensor, c_concat=None, c_crossattn=None, control=None,
                           transformer_options: dict | None = None, **kwargs) -> torch.Tensor:
    """What ComfyUI's ``BaseModel._apply_model`` does for a flow (CONST) Wan model, with one
    sigma per latent frame: x [n, C, F, h, w], t [n, F] -> the denoised latents x - v * sigma
    (float32). The stock one broadcasts one sigma per sample."""
    base = patcher.model
    dtype = base.manual_cast_dtype or base.get_dtype()
    timestep = patcher.get_model_object("model_sampling").timestep(t).float()
    options = dict(transformer_options or {})
    if hasattr(patcher, "is_dynamic"):   # as the stock call: Dynamic VRAM prefetches the weights it moved out
        options["prefetch_dynamic_vbars"] = uses_dynamic_vram(patcher)
    out = base.diffusion_model(x.to(dtype), timestep, context=c_crossattn.to(x.device, dtype), control=control,
                               transformer_options=options)
    return x - out.float() * t[:, None, :, None, None]


def _model_output(patcher, x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor,
                  cond_or_uncond: list[int]) -> torch.Tensor:
    """One call of ``patcher``'s model: x [n, F, C, H, W], sigma [F], context [n, L, D] -> its flow
    output v [n, F, C, H, W] (float32). The call goes through ComfyUI's wrapper chain as the stock
    samplers' calls do: the model options' ``model_function_wrapper``, the patcher's APPLY_MODEL
    wrappers (TorchCompileModel), DIFFUSION_MODEL wrappers and attention patches (in the
    transformer options) all apply; only the innermost call keeps the per-frame sigma."""
    options = comfy.model_patcher.create_model_options_clone(patcher.model_options)
    transformer_options = options.setdefault("transformer_options", {})
    for kind in ("wrappers", "callbacks"):
        comfy.patcher_extension.merge_nested_dicts(transformer_options.setdefault(kind, {}), getattr(patcher, kind),
                                                   copy_dict1=False)
    transformer_options.update(cond_or_uncond=cond_or_uncond, sigmas=sigma.max().expand(len(x)))

    def apply_model(input, timestep, c_concat=None, c_crossattn=None, control=None, transformer_options=None, **kwargs):
        wrappers = comfy.patcher_extension.get_all_wrappers(comfy.patcher_extension.WrappersMP.APPLY_MODEL,
                                                             transformer_options or {})
        return comfy.patcher_extension.WrapperExecutor.new_class_executor(
            functools.partial(_apply_model_per_frame, patcher), patcher.model, wrappers,
        ).execute(input, timestep, c_concat, c_crossattn, control, transformer_options, **kwargs)

    latents, t = x.movedim(1, 2), sigma.to(x.dtype).expand(len(x), -1)           # [n, C, F, h, w], [n, F]
    c = {"c_crossattn": context, "transformer_options": transformer_options}
    wrapper = options.get("model_function_wrapper")
    denoised = (wrapper(apply_model, {"input": latents, "timestep": t, "c": c, "cond_or_uncond": cond_or_uncond})
                if wrapper is not None else apply_model(latents, t, **c))
    scale = t[:, None, :, None, None]
    v = torch.where(scale > 0, (latents - denoised.float()) / scale.clamp(min=torch.finfo(scale.dtype).tiny), 0.0)
    return v.movedim(2, 1)


class WanVelocity:
    """``velocity(x [Bsz, F, C, H, W] in the model's latent space, tau [F], latent index [F]) -> dx/dtau``,
    and the ``session.ConditioningSource`` of Wan streams: it follows a ``ConditioningSchedule``
    (text is encoded outside, by the stock nodes, so it takes no typed prompt).

    Frames whose prompts differ (a switch inside the buffer) get the per-frame blend of
    the model's outputs under each prompt: one batched pass per distinct prompt in the
    buffer, plus the negative when ``guidance`` != 1.
    With ``low_noise`` (Wan 2.2 A14B's second expert), frames with sigma < ``boundary``
    take the low-noise expert's output and the others the (high-noise) ``patcher``'s;
    each expert present in the buffer sees the whole buffer.
    """

    accepts_text = False
    how_to_reprompt = NO_TEXT_PROMPTS

    def __init__(self, patcher, schedule: ConditioningSchedule, negative: torch.Tensor, guidance: float,
                 low_noise=None, boundary: float = EXPERT_BOUNDARY):
        self.experts = check_experts(patcher, low_noise)
        self.patcher = patcher
        self.boundary = boundary
        self.negative = negative
        self.guidance = guidance
        self.schedule = schedule

    @property
    def timeline(self) -> PromptTimeline:
        return self.schedule.timeline

    def follow(self, schedule: ConditioningSchedule) -> None:
        self.schedule = schedule

    def switch(self, prompt: str, at_frame: int) -> None:
        raise ScheduleError(NO_TEXT_PROMPTS)

    def unknown_words(self, *prompts: str) -> list[str]:
        """No word is unknown here: the text is encoded outside the stream, by the stock nodes."""
        return []

    def output_frame(self, index: int) -> int:
        return output_frame(index)

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, tau: torch.Tensor, frame_index: torch.Tensor) -> torch.Tensor:
        bsz, frames = x.shape[:2]
        video_index = torch.tensor([output_frame(int(i)) for i in frame_index])
        weights = self.timeline.weights(video_index)                               # [F, P]
        active = [p for p in range(weights.shape[1]) if bool(weights[:, p].any())]
        embeddings = dict(self.schedule.embeddings)
        contexts = [embeddings[self.timeline.prompts[p]] for p in active]
        if self.guidance != 1.0:
            contexts.append(self.negative)
        passes = len(contexts)
        context = torch.cat([c.expand(bsz, -1, -1) for c in _same_length(contexts)])
        batch = x.repeat(passes, 1, 1, 1, 1)
        sigma_cpu = sigma_of(tau.cpu().to(torch.float32))                          # [F]: which expert, no device read
        sigma = sigma_cpu.to(x.device)
        owner = (sigma_cpu < self.boundary).long() if len(self.experts) == 2 else torch.zeros_like(sigma_cpu).long()
        cond_or_uncond = [0] * len(active) + [1] * (passes - len(active))
        v = torch.zeros(passes, bsz, *x.shape[1:], device=x.device)               # [passes, Bsz, F, C, H, W]
        for e, expert in enumerate(self.experts):
            mine = owner == e
            if bool(mine.any()):
                out = _model_output(expert, batch, sigma, context, cond_or_uncond).unflatten(0, (passes, bsz))
                v = torch.where(mine.to(x.device).reshape(1, 1, frames, 1, 1, 1), out, v)
        blend = weights[:, active].T.to(x.device).reshape(len(active), 1, frames, 1, 1, 1)
        v_cond = (v[:len(active)] * blend).sum(0)
        if self.guidance != 1.0:
            v_cond = guide(v_cond, v[-1], self.guidance)
        return (-v_cond).to(x.dtype)
