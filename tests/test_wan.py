"""Wan 2.1 / 2.2 streaming with stock ComfyUI models, on tiny random-weight Wan models
and VAEs built from ComfyUI's own classes and loaded by its stock loaders."""
import os

import pytest
import torch

from tiny_wan import TEXT_DIM, taehv_state, tiny_wan22_vae, wan_model_state, wan_vae_state, write

LATENT = (16, 4, 4)            # [C, h, w] of one latent frame: 32x32 video


@pytest.fixture(scope="module")
def wan(comfy, comfy_base):
    """Stock loaders over tiny files: (MODEL, VAE)."""
    write(os.path.join(comfy_base, "models", "diffusion_models", "tiny_wan_t2v.safetensors"), wan_model_state())
    write(os.path.join(comfy_base, "models", "vae", "tiny_wan_vae.safetensors"), wan_vae_state())
    model = comfy.UNETLoader().load_unet("tiny_wan_t2v.safetensors", "default")[0]
    vae = comfy.VAELoader().load_vae("tiny_wan_vae.safetensors")[0]
    return model, vae


@pytest.fixture(scope="module")
def wan22(comfy, comfy_base):
    """Wan 2.2 TI2V-5B-style: a 48-channel WanModel (ComfyUI loads it as WAN22) and a 2.2 VAE."""
    write(os.path.join(comfy_base, "models", "diffusion_models", "tiny_wan22_5b.safetensors"),
          wan_model_state(seed=3, in_dim=48, out_dim=48))
    model = comfy.UNETLoader().load_unet("tiny_wan22_5b.safetensors", "default")[0]
    assert type(model.model).__name__ == "WAN22"
    return model, tiny_wan22_vae()


@pytest.fixture(scope="module")
def experts(comfy, comfy_base, wan):
    """Wan 2.2 A14B-style: (high-noise, low-noise) experts, two different WanModels."""
    write(os.path.join(comfy_base, "models", "diffusion_models", "tiny_wan_low_noise.safetensors"),
          wan_model_state(seed=1))
    return wan[0], comfy.UNETLoader().load_unet("tiny_wan_low_noise.safetensors", "default")[0]


def conditioning(seed: int, length: int):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, length, TEXT_DIM, generator=g), {}]]


@pytest.mark.parametrize("kind", ["wan", "wan22"])
def test_uniform_buffer_equals_the_stock_sampler(pack, request, kind):
    """All frames at one noise level: every buffer step is KSampler's Euler step, with CFG
    against a negative of another length, on the model's own shifted schedule."""
    import comfy.sample
    from stream_core.engine.partition import Partition
    from stream_core.engine.stream import Stream
    wan_ = pack("nodes.wan.source")
    model, _ = request.getfixturevalue(kind)
    latent = (model.model.latent_format.latent_channels, *LATENT[1:])
    frames, steps, cfg = 3, 4, 4.0
    positive, negative = conditioning(1, 12), conditioning(2, 8)
    schedule = wan_.ConditioningSchedule.single("positive", wan_.cross_attn(positive))
    velocity = wan_.WanVelocity(model, schedule, wan_.cross_attn(negative), cfg)
    stream = Stream(velocity, Partition.uniform(frames, steps), latent, seed=3,
                    grid=wan_.model_tau_grid(model, "simple", steps))
    ours = model.model.process_latent_out(stream.take(frames).movedim(1, 2))
    noise = torch.randn(1, frames, *latent, generator=torch.Generator().manual_seed(3)).movedim(1, 2)
    stock = comfy.sample.sample(model, noise, steps, cfg, "euler", "simple", positive, negative,
                                torch.zeros_like(noise), disable_pbar=True)
    assert stream.evaluations == steps
    assert stock.abs().mean() > 0.1
    torch.testing.assert_close(ours, stock, rtol=1e-4, atol=1e-4)


def test_per_frame_timesteps_reach_the_model(pack, wan):
    """A StreamDiT buffer step calls the diffusion model once with one timestep per latent
    frame: 1000 * sigma, sigma = 1 - tau of that frame's chunk, for cond and uncond."""
    from stream_core.engine.partition import Partition
    from stream_core.engine.stream import Stream
    wan_ = pack("nodes.wan.source")
    model, _ = wan
    seen = []
    hook = model.model.diffusion_model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append((args[0].shape, args[1].clone())), with_kwargs=True)
    try:
        schedule = wan_.ConditioningSchedule.single("positive", wan_.cross_attn(conditioning(1, 8)))
        velocity = wan_.WanVelocity(model, schedule, wan_.cross_attn(conditioning(2, 8)), 3.0)
        p = Partition(K=0, N=3, c=2, s=2)
        stream = Stream(velocity, p, LATENT, grid=wan_.model_tau_grid(model, "simple", p.T))
        stream.step()
        seen.clear()
        tau = stream.tau.float()
        stream.step()
    finally:
        hook.remove()
    (x_shape, timestep), = seen
    assert tuple(x_shape) == (2, 16, p.B, 4, 4)             # [cond+uncond, C, F, h, w]
    assert timestep.shape == (2, p.B)
    torch.testing.assert_close(timestep, (1000 * (1 - tau)).expand(2, -1))
    assert len(set(timestep[0].tolist())) == p.N           # one level per chunk


def test_a_scheduled_prompt_blends_frame_by_frame(pack, wan):
    """Frames of one buffer under two prompts get each their own prompt's output."""
    from stream_core.engine.timeline import PromptTimeline
    wan_ = pack("nodes.wan.source")
    model, _ = wan
    a, b = wan_.cross_attn(conditioning(1, 8)), wan_.cross_attn(conditioning(4, 8))
    x = torch.randn(1, 4, *LATENT, generator=torch.Generator().manual_seed(0))
    tau, index = torch.full((4,), 0.3), torch.arange(4)

    def v(schedule):
        return wan_.WanVelocity(model, schedule, a, 1.0)(x, tau, index)
    switch = wan_.ConditioningSchedule(PromptTimeline(((0, "a"), (5, "b"))), (("a", a), ("b", b)))
    # latent 2 starts at video frame 5: latents 0, 1 follow "a", latents 2, 3 follow "b"
    only_a, only_b = v(wan_.ConditioningSchedule.single("a", a)), v(wan_.ConditioningSchedule.single("b", b))
    both = v(switch)
    assert not torch.allclose(only_a, only_b, atol=1e-3)
    # each frame's output is its prompt's output over the whole buffer
    assert torch.allclose(both[:, 2:], only_b[:, 2:], atol=1e-5) and torch.allclose(both[:, :2], only_a[:, :2], atol=1e-5)


@pytest.mark.parametrize("kind", ["wan", "wan22"])
@pytest.mark.parametrize("chunks", [[7], [1, 1, 1, 1, 1, 1, 1], [1, 2, 4], [3, 4]], ids=str)
def test_streaming_decode_equals_the_one_shot_decode(pack, request, kind, chunks):
    decoder_cls = pack("nodes.wan.decode").WanStreamDecoder
    _, vae = request.getfixturevalue(kind)
    size = 32 // vae.spacial_compression_decode()
    latents = torch.randn(1, vae.latent_channels, 7, size, size, generator=torch.Generator().manual_seed(5))
    one_shot = vae.decode(latents)[0]                       # [25, 32, 32, 3]
    decoder, pieces, start = decoder_cls(vae), [], 0
    for n in chunks:
        pieces.append(decoder(latents[0, :, start:start + n].movedim(1, 0)))
        start += n
    assert [len(p) for p in pieces] == [4 * n - 3 * (i == 0) for i, n in enumerate(chunks)]
    streamed = torch.cat(pieces)
    assert streamed.shape == one_shot.shape == (25, 32, 32, 3) and one_shot.std() > 0.01
    torch.testing.assert_close(streamed, one_shot, rtol=0, atol=1e-6)


def test_two_experts_split_like_the_stock_two_sampler_workflow(pack, experts):
    """Wan 2.2 A14B: with all frames at one level, the buffer equals ComfyUI's usual two
    KSamplerAdvanced nodes (high-noise expert for the first steps, low-noise after); in a
    StreamDiT buffer each frame takes the expert of its own level."""
    import comfy.sample
    from stream_core.engine.partition import Partition
    from stream_core.engine.stream import Stream
    wan_ = pack("nodes.wan.source")
    high, low = experts
    frames, steps, split, cfg = 2, 6, 2, 3.0
    positive, negative = conditioning(1, 8), conditioning(2, 8)
    sigmas = 1 - wan_.model_tau_grid(high, "simple", steps)
    boundary = float(sigmas[split - 1] + sigmas[split]) / 2
    schedule = wan_.ConditioningSchedule.single("positive", wan_.cross_attn(positive))
    velocity = wan_.WanVelocity(high, schedule, wan_.cross_attn(negative), cfg, low, boundary)
    stream = Stream(velocity, Partition.uniform(frames, steps), LATENT, seed=4, grid=1 - sigmas)
    ours = high.model.process_latent_out(stream.take(frames).movedim(1, 2))
    noise = torch.randn(1, frames, *LATENT, generator=torch.Generator().manual_seed(4)).movedim(1, 2)
    run = dict(steps=steps, cfg=cfg, sampler_name="euler", scheduler="simple", positive=positive,
               negative=negative, disable_pbar=True)
    noisy = comfy.sample.sample(high, noise, latent_image=torch.zeros_like(noise), start_step=0, last_step=split,
                                force_full_denoise=False, **run)
    stock = comfy.sample.sample(low, torch.zeros_like(noise), latent_image=noisy, start_step=split,
                                last_step=steps, disable_noise=True, **run)
    torch.testing.assert_close(ours, stock, rtol=1e-4, atol=1e-4)
    high_only = comfy.sample.sample(high, noise, latent_image=torch.zeros_like(noise), **run)
    assert (high_only - stock).abs().max() > 0.05           # the low-noise expert did make a difference
    # in a buffer at several levels, each frame gets its own level's expert
    x = torch.randn(1, 4, *LATENT, generator=torch.Generator().manual_seed(0))
    tau = torch.tensor([0.9, 0.6, 0.3, 0.05])                # sigma 0.1, 0.4 | 0.7, 0.95 with boundary 0.5
    both = wan_.WanVelocity(high, schedule, None, 1.0, low, 0.5)(x, tau, torch.arange(4))
    alone = {m: wan_.WanVelocity(m, schedule, None, 1.0)(x, tau, torch.arange(4)) for m in (high, low)}
    torch.testing.assert_close(both[:, :2], alone[low][:, :2])
    torch.testing.assert_close(both[:, 2:], alone[high][:, 2:])


def test_refused_models_get_a_clear_message(pack, comfy, comfy_base):
    import comfy.sd
    wan_ = pack("nodes.wan.source")
    decoder_cls = pack("nodes.wan.decode").WanStreamDecoder
    vace = comfy.sd.load_diffusion_model_state_dict(wan_model_state(model_type="vace", vace_layers=1,
                                                                    vace_in_dim=96))
    with pytest.raises(wan_.WanModelError, match="VaceWanModel.*own noise level"):
        wan_.check_model(vace)
    i2v = comfy.sd.load_diffusion_model_state_dict(wan_model_state(model_type="i2v", in_dim=36))
    with pytest.raises(wan_.WanModelError, match="image-to-video"):
        wan_.check_model(i2v)
    for coder in (decoder_cls, pack("nodes.wan.encode").WanStreamEncoder):
        with pytest.raises(wan_.WanModelError, match="not a Wan 2.1 / 2.2 VAE"):
            coder(comfy.sd.VAE(sd={"pixel_space_vae": torch.tensor(1.0)}))


def test_the_wan_stream_node_streams_continues_and_follows_a_schedule(comfy, wan):
    m = comfy.NODE_CLASS_MAPPINGS
    model, vae = wan
    later = m["StreamDiTConditioningSchedule"].execute(conditioning(7, 8), 9, "", 0).result[0]
    args = dict(model=model, positive=conditioning(1, 8), negative=conditioning(2, 6), vae=vae, stream_id="wan",
                action="restart", seed=2, width=32, height=32, K=0, N=2, c=2, s=2, scheduler="simple",
                guidance=2.0, frames=13)
    node = m["StreamDiTWanStream"]
    whole = node.execute(**args).result[0]
    assert whole.images.shape == (13, 32, 32, 3) and whole.first_index == 0
    first = node.execute(**{**args, "frames": 6}).result[0]
    rest = node.execute(**{**args, "frames": 7, "action": "continue"}).result[0]
    assert rest.first_index == 6
    torch.testing.assert_close(torch.cat([first.images, rest.images]), whole.images, rtol=0, atol=0)
    scheduled = node.execute(**{**args, "schedule": later}).result[0]
    assert later.timeline.prompt_at(9) == "frame 9"
    # latents 0, 1 (frames 0-4) follow the positive in both; from latent 3 (frame 9) on, the schedule's
    # conditioning takes over (equal up to float noise of a larger batch)
    torch.testing.assert_close(scheduled.images[:5], whole.images[:5], rtol=0, atol=2e-3)
    assert (scheduled.images[9:] - whole.images[9:]).abs().max() > 0.05
    images = m["StreamDiTFrameOutput"].execute(whole, 16.0).result[0]
    assert images.shape == (13, 32, 32, 3)


def test_the_wan_stream_node_refuses_a_bad_size_or_the_wrong_vae(comfy, wan, wan22):
    args = dict(model=wan[0], positive=conditioning(1, 8), negative=conditioning(2, 8), vae=wan[1], stream_id="bad",
                action="restart", seed=0, width=40, height=32, K=0, N=2, c=2, s=2, scheduler="simple",
                guidance=1.0, frames=4)
    node = comfy.NODE_CLASS_MAPPINGS["StreamDiTWanStream"]
    with pytest.raises(ValueError, match="multiples of 16"):
        node.execute(**args)
    with pytest.raises(ValueError, match="16 latent channels and the model 48"):
        node.execute(**{**args, "model": wan22[0], "width": 32})


def test_the_wan_stream_node_takes_both_wan22_experts(comfy, experts, wan):
    high, low = experts
    args = dict(model=high, positive=conditioning(1, 8), negative=conditioning(2, 8), vae=wan[1], stream_id="a14b",
                action="restart", seed=0, width=32, height=32, K=0, N=2, c=1, s=2, scheduler="simple",
                guidance=1.0, frames=5)
    node = comfy.NODE_CLASS_MAPPINGS["StreamDiTWanStream"]
    alone = node.execute(**args).result[0].images
    split = node.execute(**args, model_low_noise=low, boundary=0.9).result[0].images   # sigmas 1, .96 | .89, .73
    assert split.shape == alone.shape == (5, 32, 32, 3)
    assert (split - alone).abs().max() > 0.05


def test_text_prompts_from_the_panel_are_refused_with_a_reason(pack, wan):
    """The panel's prompt box sends text; a Wan stream follows CONDITIONING: it says so
    (``accepts_text``; the route answers 409 with ``how_to_reprompt``), and a switch is refused."""
    ScheduleError = pack("stream_core.engine.timeline").ScheduleError   # noqa: N806 (the pack's own class)
    wan_ = pack("nodes.wan.source")
    schedule = wan_.ConditioningSchedule.single("positive", wan_.cross_attn(conditioning(1, 8)))
    velocity = wan_.WanVelocity(wan[0], schedule, None, 1.0)
    assert not velocity.accepts_text and "follows the CONDITIONING inputs" in velocity.how_to_reprompt
    with pytest.raises(ScheduleError, match="follows the CONDITIONING inputs"):
        velocity.switch("a cat", at_frame=4)


def test_model_calls_go_through_comfyuis_wrapper_chain(pack, wan):
    """Wrappers registered on the patcher (as TorchCompileModel's APPLY_MODEL wrapper, cache
    accelerators' DIFFUSION_MODEL wrappers) and a model_function_wrapper are called by the
    stream's model calls; passing through, they leave the output as it was; the per-frame
    timestep reaches them."""
    import comfy.patcher_extension as pe
    wan_ = pack("nodes.wan.source")
    plain, _ = wan
    model = plain.clone()
    seen = {"apply": [], "diffusion": [], "function": []}

    def apply_wrapper(executor, x, t, *args, **kwargs):
        seen["apply"].append(tuple(t.shape))
        return executor(x, t, *args, **kwargs)

    def diffusion_wrapper(executor, *args, **kwargs):
        seen["diffusion"].append(executor.class_obj.__class__.__name__)
        return executor(*args, **kwargs)

    def function_wrapper(apply_model, args):
        seen["function"].append(args["cond_or_uncond"])
        return apply_model(args["input"], args["timestep"], **args["c"])

    model.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "test", apply_wrapper)
    model.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, "test", diffusion_wrapper)
    model.set_model_unet_function_wrapper(function_wrapper)
    schedule = wan_.ConditioningSchedule.single("positive", wan_.cross_attn(conditioning(1, 8)))
    x = torch.randn(1, 4, *LATENT, generator=torch.Generator().manual_seed(0))
    tau, index = torch.tensor([0.9, 0.6, 0.3, 0.05]), torch.arange(4)
    wrapped = wan_.WanVelocity(model, schedule, wan_.cross_attn(conditioning(2, 8)), 3.0)(x, tau, index)
    unwrapped = wan_.WanVelocity(plain, schedule, wan_.cross_attn(conditioning(2, 8)), 3.0)(x, tau, index)
    assert seen == {"apply": [(2, 4)], "diffusion": ["WanModel"], "function": [[0, 1]]}
    torch.testing.assert_close(wrapped, unwrapped, rtol=0, atol=0)

    def doubling(executor, x, t, *args, **kwargs):   # a wrapper that changes the model's output does change it
        denoised = executor(x, t, *args, **kwargs)
        return x - 2 * (x - denoised)

    model.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "double", doubling)
    doubled = wan_.WanVelocity(model, schedule, wan_.cross_attn(conditioning(2, 8)), 3.0)(x, tau, index)
    torch.testing.assert_close(doubled, 2 * unwrapped, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_decoder_file(comfy, comfy_base):
    """A random-weight TAEHV for Wan 2.1 latents in models/vae_approx/ as taew_test.safetensors,
    and the same network loaded by ComfyUI's own class."""
    import comfy.taesd.taehv
    state = taehv_state()
    write(os.path.join(comfy_base, "models", "vae_approx", "taew_test.safetensors"), state)
    taehv = comfy.taesd.taehv.TAEHV(latent_channels=16)
    taehv.load_state_dict(state)
    return taehv, "taew_test.safetensors"


def test_torch_compile_model_compiles_a_wan_stream_once(comfy, wan):
    """ComfyUI's TorchCompileModel node (inductor, here on the CPU) applies to a Wan stream: the
    model calls run compiled graphs, the frames equal the plain model's, and once the shapes of a
    lean start and a steady stream have been compiled, a new stream compiles nothing more (no
    recompilation per call from the per-frame timesteps or the options the calls carry)."""
    from comfy_extras.nodes_torch_compile import TorchCompileModel
    from torch._dynamo.utils import counters
    model, vae = wan
    compiled = TorchCompileModel.execute(model, "inductor").result[0]
    args = dict(positive=conditioning(1, 8), negative=conditioning(2, 8), vae=vae, stream_id="compiled",
                action="restart", seed=0, width=32, height=32, K=0, N=4, c=2, s=1, scheduler="simple", guidance=1.0,
                frames=21, decoder="latent rgb")
    node = comfy.NODE_CLASS_MAPPINGS["StreamDiTWanStream"]
    plain = node.execute(model=model, **args).result[1]
    counters.clear()
    first = node.execute(model=compiled, **args).result[1]
    assert counters["stats"]["unique_graphs"] > 0                      # the wrapper compiled the diffusion model
    counters.clear()
    again = node.execute(model=compiled, **args).result[1]
    assert counters["stats"]["unique_graphs"] == 0 and counters["frames"]["total"] == 0   # nothing recompiled
    torch.testing.assert_close(first, plain, rtol=0, atol=1e-5)
    torch.testing.assert_close(again, plain, rtol=0, atol=1e-5)


@pytest.mark.parametrize("chunks", [[7], [1, 1, 1, 1, 1, 1, 1], [1, 2, 4], [3, 4]], ids=str)
def test_the_tiny_decoder_streams_what_taehv_decodes_at_once(pack, tiny_decoder_file, chunks):
    previews = pack("nodes.wan.previews")
    taehv, name = tiny_decoder_file
    assert name in previews.tiny_decoder_files()
    decoder = previews.load_tiny_decoder(name, torch.device("cpu"))
    latents = torch.randn(1, 16, 7, 4, 4, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        one_shot = taehv.decode(latents)[0].movedim(0, -1).clamp(0, 1)          # [25, 32, 32, 3]
    pieces, start = [], 0
    for n in chunks:
        pieces.append(decoder(latents[0, :, start:start + n].movedim(1, 0)))   # [n, 16, 4, 4] -> frames
        start += n
    assert [len(p) for p in pieces] == [4 * n - 3 * (i == 0) for i, n in enumerate(chunks)]
    streamed = torch.cat(pieces)
    assert streamed.shape == one_shot.shape == (25, 32, 32, 3) and one_shot.std() > 0.01
    torch.testing.assert_close(streamed, one_shot, rtol=0, atol=1e-5)


def test_a_tiny_autoencoder_loaded_by_comfyuis_vae_loader_streams_as_the_vae(comfy, comfy_base, wan):
    """ComfyUI's own VAELoader loads TAEHV files (taew2_1, lighttaew2_1) as a VAE: wired to the
    stream's vae input, the stream decodes with it, piece by piece, what that VAE's own decode of
    the run's latents gives at once (and leaves the VAE as it was)."""
    model, _ = wan
    write(os.path.join(comfy_base, "models", "vae", "tiny_taew_test.safetensors"), taehv_state(seed=4))
    taehv_vae = comfy.VAELoader().load_vae("tiny_taew_test.safetensors")[0]
    assert type(taehv_vae.first_stage_model).__name__ == "TAEHV"
    before = {k: v.clone() for k, v in taehv_vae.first_stage_model.state_dict().items()}
    node = comfy.NODE_CLASS_MAPPINGS["StreamDiTWanStream"]
    out = node.execute(model=model, positive=conditioning(1, 8), negative=conditioning(2, 8), vae=taehv_vae,
                       stream_id="taehv-vae", action="restart", seed=0, width=32, height=32, K=0, N=2, c=2, s=1,
                       scheduler="simple", guidance=1.0, frames=13, decoder="vae").result
    images, latent = out[1], out[2]["samples"]                              # [13, 32, 32, 3], [1, 16, 4, 4, 4]
    one_shot = taehv_vae.decode(latent)[0]
    assert images.shape == one_shot.shape == (13, 32, 32, 3) and images.std() > 0.01
    torch.testing.assert_close(images, one_shot.clamp(0, 1).to(images.dtype), rtol=0, atol=1e-5)
    assert all(torch.equal(v, before[k]) for k, v in taehv_vae.first_stage_model.state_dict().items())


def test_the_wan_stream_node_decodes_with_the_tiny_decoder_or_latent_rgb(comfy, wan, tiny_decoder_file):
    model, vae = wan
    args = dict(model=model, positive=conditioning(1, 8), negative=conditioning(2, 8), vae=vae, stream_id="decoders",
                action="restart", seed=0, width=32, height=32, K=0, N=2, c=2, s=1, scheduler="simple", guidance=1.0,
                frames=13)
    node = comfy.NODE_CLASS_MAPPINGS["StreamDiTWanStream"]
    options = node.GET_NODE_INFO_V1()["input"]["optional"]["decoder"][1]["options"]
    assert options[:2] == ["vae", "latent rgb"] and "taew_test.safetensors" in options
    full, full_images, latent = node.execute(**args).result
    tiny = node.execute(**args, decoder="taew_test.safetensors").result[0].images
    rough = node.execute(**args, decoder="latent rgb").result[0].images
    assert torch.equal(full.images, full_images)                        # the IMAGE output is the run's frames
    decoded = vae.decode(latent["samples"])[0]                          # the LATENT output: the run's latents,
    torch.testing.assert_close(decoded, full.images, rtol=0, atol=1e-5)  # in the VAE's space, for stock nodes
    full = full.images
    assert full.shape == tiny.shape == rough.shape == (13, 32, 32, 3)
    assert (tiny - full).abs().max() > 0.05 and (rough - full).abs().max() > 0.05   # three different decoders
    assert torch.equal(rough[1], rough[4])                     # a latent's colour stands for its 4 frames
    with pytest.raises(ValueError, match="not allowed"):
        node.execute(**args, decoder="absent.safetensors")


def test_the_real_time_workflow_steps_at_the_noise_levels_its_lora_was_distilled_at(pack, wan):
    """Self-Forcing DMD was distilled at timesteps 1000, 750, 500, 250 warped by a shift of 5: the
    shipped real-time workflow's ModelSamplingSD3 and its buffer's 4 steps give those sigmas."""
    from comfy_extras.nodes_model_advanced import ModelSamplingSD3
    from conftest import load_workflow
    workflow = load_workflow("streamdit_wan21_t2v_1_3b_realtime")
    stream = next(node["inputs"] for node in workflow.values() if node["class_type"] == "StreamDiTWanStream")
    sampling = workflow[stream["model"][0]]
    assert sampling["class_type"] == "ModelSamplingSD3"
    shifted = ModelSamplingSD3().patch(wan[0], sampling["inputs"]["shift"])[0]
    grid = pack("nodes.wan.source").model_tau_grid(shifted, stream["scheduler"], stream["N"] * stream["s"])
    sigmas = pack("stream_core.engine.flow").sigma_of(grid)
    t = torch.tensor([1000, 750, 500, 250]) / 1000
    torch.testing.assert_close(sigmas, torch.cat([5 * t / (1 + 4 * t), torch.zeros(1)]).double(), rtol=0, atol=1e-4)


def test_a_wan_stream_starts_lean(comfy, wan):
    """The start-up passes leave out the chunks already taken (the first frame sooner): N = 4,
    c = 2, s = 1 makes its 3 start-up model calls over 6, 4 and 2 latents, then every step
    over the buffer's 8."""
    model, vae = wan
    counting = model.clone()
    latents = []

    def count(apply_model, args):
        latents.append(args["input"].shape[2])
        return apply_model(args["input"], args["timestep"], **args["c"])

    counting.set_model_unet_function_wrapper(count)
    node = comfy.NODE_CLASS_MAPPINGS["StreamDiTWanStream"]
    node.execute(model=counting, positive=conditioning(1, 8), negative=conditioning(2, 8), vae=vae, stream_id="lean",
                 action="restart", seed=0, width=32, height=32, K=0, N=4, c=2, s=1, scheduler="simple", guidance=1.0,
                 frames=9, decoder="latent rgb")
    assert latents == [6, 4, 2, 8, 8]   # 9 frames: latents 0-1 (frames 0-4), then 2-3


def test_overlapping_the_decode_gives_the_same_frames_and_latents(comfy, wan):
    """overlap decode: each step's frames decoded on a worker thread while the next step runs;
    the run's frames, its LATENT output and a continued run's frames are as without it."""
    model, vae = wan
    args = dict(model=model, positive=conditioning(1, 8), negative=conditioning(2, 8), vae=vae, stream_id="overlap",
                action="restart", seed=0, width=32, height=32, K=0, N=2, c=2, s=1, scheduler="simple", guidance=1.0,
                frames=13)
    node = comfy.NODE_CLASS_MAPPINGS["StreamDiTWanStream"]
    plain, _, plain_latent = node.execute(**args).result
    ahead, _, ahead_latent = node.execute(**args, overlap_decode=True).result
    torch.testing.assert_close(ahead.images, plain.images, rtol=0, atol=0)
    torch.testing.assert_close(ahead_latent["samples"], plain_latent["samples"], rtol=0, atol=0)
    more = node.execute(**{**args, "action": "continue", "frames": 8}, overlap_decode=True).result[0]
    whole = node.execute(**{**args, "frames": 21}).result[0]
    torch.testing.assert_close(torch.cat([ahead.images, more.images]), whole.images, rtol=0, atol=0)


@pytest.mark.parametrize("decoder, video, overlap, with_vae", [("vae", False, False, True), ("vae", False, True, True),
                                                               ("latent rgb", True, False, True),
                                                               ("latent rgb", False, True, False)])
def test_a_run_loads_the_model_and_the_vae_once_together(comfy, wan, monkeypatch, decoder, video, overlap, with_vae):
    """No per-chunk swapping: the model, and the VAE when the run uses it (the full decode, a
    video input to encode), are loaded in one call at the run's start, and the streaming
    decode and encode do not ask for the VAE alone at every chunk. The memory asked for is a
    model pass's, or with the full decode overlapping the model, the pass's and a latent
    frame's decode together."""
    import comfy.model_management as mm
    model, vae = wan
    mm.unload_all_models()
    calls = []
    load = mm.load_models_gpu
    monkeypatch.setattr(mm, "load_models_gpu", lambda models, *a, **k: (calls.append((list(models), k)),
                                                                         load(models, *a, **k)))
    frames = torch.rand(29, 32, 32, 3, generator=torch.Generator().manual_seed(8))
    args = dict(model=model, positive=conditioning(1, 8), negative=conditioning(2, 8), vae=vae, stream_id="loads",
                action="restart", seed=0, width=32, height=32, K=0, N=2, c=2, s=1, scheduler="simple", guidance=1.0,
                frames=21, decoder=decoder, overlap_decode=overlap)          # five chunks leave the buffer
    if video:
        args["video_input"] = comfy.NODE_CLASS_MAPPINGS["StreamDiTVideoInput"].execute(0.6, images=frames).result[0]
    comfy.NODE_CLASS_MAPPINGS["StreamDiTWanStream"].execute(**args)
    assert len(calls) == 1 and model in calls[0][0] and (vae.patcher in calls[0][0]) == with_vae
    one_pass = model.model.memory_required([1, 16, 4, 4, 4])                # N*c = 4 latents of 4x4
    decode = vae.memory_used_decode([1, 16, 1, 4, 4], vae.vae_dtype)
    assert calls[0][1]["memory_required"] == (one_pass + decode if overlap and decoder == "vae" else
                                              max(one_pass, decode if with_vae else 0))


def test_a_pass_that_cannot_fit_is_refused_with_what_to_change(pack):
    too_big = pack("nodes.wan.source").too_big
    assert too_big(2**30, 2**31, 10, (832, 480)) is None
    message = too_big(3 * 2**30, 2**30, 10, (832, 480))
    assert "10 latent frames at 832x480 needs about 3.0 GiB, and 1.0 GiB are free" in message and "--lowvram" in message
    assert message.startswith("one model pass over") and "overlap" not in message
    message = too_big(3 * 2**30, 2**30, 10, (832, 480), with_decode=True)
    assert message.startswith("one model pass and the overlapped decode over") and "turn overlap decode off" in message


def test_under_dynamic_vram_the_refusal_gives_advice_that_works_there(pack):
    """ComfyUI's Dynamic VRAM ignores --lowvram and already moves weights out: the advice leaves it out."""
    message = pack("nodes.wan.source").too_big(3 * 2**30, 2**30, 10, (832, 480), dynamic_vram=True)
    assert "needs about 3.0 GiB, and 1.0 GiB can be freed" in message and "Dynamic VRAM" in message
    assert "--lowvram" not in message and "use guidance 1" in message


def test_the_memory_check_asks_the_patcher_what_it_can_free(pack, wan):
    """Where the patcher answers what it can free (newer ComfyUI: Dynamic VRAM's movable weights
    too), that is the free memory the check uses; elsewhere ComfyUI's free memory."""
    import comfy.model_management as mm
    wan_ = pack("nodes.wan.source")
    model = wan[0].clone()
    device = torch.device("cpu")
    expected = model.get_free_memory(device) if hasattr(model, "get_free_memory") else mm.get_free_memory(device)
    assert abs(wan_.free_memory(model, device) - expected) < 2**30     # the same answer, a moment apart
    model.get_free_memory = lambda device: 7 * 2**30                  # the patcher's answer wins
    assert wan_.free_memory(model, device) == 7 * 2**30
    assert wan_.uses_dynamic_vram(model) is False                      # CPU: no Dynamic VRAM
    model.is_dynamic = lambda: True
    assert wan_.uses_dynamic_vram(model) is True


@pytest.mark.parametrize("dynamic", [False, True])
def test_the_model_call_passes_what_the_stock_call_passes_to_the_diffusion_model(pack, wan, dynamic):
    """The transformer options the Wan model sees from a stream's call carry what ComfyUI's own
    call adds (newer ComfyUI: ``prefetch_dynamic_vbars``, from the patcher that runs the model)."""
    import comfy.patcher_extension as pe
    wan_ = pack("nodes.wan.source")
    model = wan[0].clone()
    if hasattr(model, "is_dynamic"):
        model.is_dynamic = lambda: dynamic
    seen = []

    def diffusion_wrapper(executor, *args, **kwargs):
        options = kwargs.get("transformer_options", args[-1] if args and isinstance(args[-1], dict) else {})
        seen.append({k: options[k] for k in ("prefetch_dynamic_vbars",) if k in options})
        return executor(*args, **kwargs)

    model.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, "test", diffusion_wrapper)
    x = torch.randn(1, 2, *LATENT, generator=torch.Generator().manual_seed(0))
    schedule = wan_.ConditioningSchedule.single("positive", wan_.cross_attn(conditioning(1, 8)))
    wan_.WanVelocity(model, schedule, wan_.cross_attn(conditioning(2, 8)), 1.0)(x, torch.tensor([0.5, 0.5]),
                                                                                torch.arange(2))
    base = model.model
    previous = getattr(base, "current_patcher", None)
    base.current_patcher = model          # as ComfyUI's sampler sets it for its run
    try:
        options = {"wrappers": {}}
        pe.merge_nested_dicts(options["wrappers"], model.wrappers, copy_dict1=False)
        base.apply_model(x.movedim(1, 2), torch.tensor([0.5]), c_crossattn=wan_.cross_attn(conditioning(1, 8)),
                         transformer_options=options)
    finally:
        base.current_patcher = previous
    ours, stock = seen
    assert ours == stock and (("prefetch_dynamic_vbars" in stock) == hasattr(model, "is_dynamic"))
    if stock:
        assert stock["prefetch_dynamic_vbars"] is dynamic


@pytest.mark.parametrize("kind", ["wan", "wan22"])
@pytest.mark.parametrize("pieces", [[25], [1, 4, 4, 4, 4, 4, 4], [5, 8, 12], [13, 12]], ids=str)
def test_streaming_encode_equals_the_one_shot_encode(pack, request, kind, pieces):
    encoder_cls = pack("nodes.wan.encode").WanStreamEncoder
    _, vae = request.getfixturevalue(kind)
    video = torch.rand(25, 32, 32, 3, generator=torch.Generator().manual_seed(6))
    one_shot = vae.encode(video)[0].movedim(1, 0)           # [7, C, h, w]: ComfyUI's own encode
    encoder, start, out = encoder_cls(vae), 0, []
    for n in pieces:
        out.append(encoder(video[start:start + n]))
        start += n
    assert [len(p) for p in out] == [(n + 3 * (i == 0)) // 4 for i, n in enumerate(pieces)]
    streamed = torch.cat(out)
    assert streamed.shape == one_shot.shape and one_shot.std() > 0.01
    torch.testing.assert_close(streamed, one_shot, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of 4 frames"):
        encoder(video[:3])


def test_the_wan_stream_node_redraws_a_video_input_and_refuses_a_mismatched_vae(comfy, wan, wan22):
    m = comfy.NODE_CLASS_MAPPINGS
    model, vae = wan
    video = torch.rand(29, 32, 32, 3, generator=torch.Generator().manual_seed(8))
    args = dict(model=model, positive=conditioning(1, 8), negative=conditioning(2, 6), vae=vae, stream_id="wan-v2v",
                action="restart", seed=2, width=32, height=32, K=0, N=2, c=2, s=1, scheduler="simple",
                guidance=1.0, frames=21)
    node = m["StreamDiTWanStream"]
    same = node.execute(**args, video_input=m["StreamDiTVideoInput"].execute(0.0, images=video).result[0]).result[0]
    # strength 0: the stream's latents are the input's, so its frames are ComfyUI's encode then decode of the video
    through = vae.decode(vae.encode(video))[0]
    torch.testing.assert_close(same.images, through[:21], rtol=0, atol=1e-4)
    more = node.execute(**{**args, "action": "continue", "frames": 8},
                        video_input=m["StreamDiTVideoInput"].execute(0.0, images=video).result[0]).result[0]
    torch.testing.assert_close(more.images, through[21:29], rtol=0, atol=1e-4)    # a continued run goes on
    redrawn = node.execute(**args, video_input=m["StreamDiTVideoInput"].execute(0.6, images=video).result[0]).result[0]
    plain = node.execute(**args).result[0]
    # at 0.6 the input shows through: nearer the input than text-to-video is
    assert (redrawn.images - through[:21]).abs().mean() < (plain.images - through[:21]).abs().mean()
    with pytest.raises(ValueError, match="16 latent channels and the model 48"):
        node.execute(**{**args, "model": wan22[0]}, video_input=m["StreamDiTVideoInput"].execute(0.5, images=video).result[0])


def test_a_camera_feeds_a_wan_stream_four_frames_a_latent(comfy, pack, wan):
    m = comfy.NODE_CLASS_MAPPINGS
    model, vae = wan
    args = dict(model=model, positive=conditioning(1, 8), negative=conditioning(2, 6), vae=vae, stream_id="wan-cam",
                action="restart", seed=2, width=32, height=32, K=0, N=2, c=2, s=1, scheduler="simple",
                guidance=1.0, frames=5)
    node = m["StreamDiTWanStream"]
    node.execute(**args)
    session = pack("nodes.live.registry").STREAMS.get("wan-cam")
    assert session.report()["video_input"]
    still = torch.rand(32, 32, 3, generator=torch.Generator().manual_seed(9))
    for stamp in range(8):                                   # a still camera, turned on mid-stream
        session.feed(still, 0.0, stamp)
    latents = node.execute(**{**args, "action": "continue", "frames": 32})[2]["samples"][0]   # [C, 8, h, w]
    camera = session.camera.report()
    assert (camera["received"], camera["used"]) == (8, 8) and camera["repeated"] > 0   # 4 per latent, then repeated
    # strength 0: a latent takes its input as it reaches the cleanest chunk, so all 8 took the camera; they are the
    # Wan VAE's encoding of the still video, its first latent (the one frame the encoder starts on) left out: one
    # cache across the camera's calls
    expected = vae.encode(still.expand(33, -1, -1, -1))[0, :, 1:9]
    torch.testing.assert_close(latents, expected, rtol=0, atol=1e-4)


def test_a_still_camera_lets_a_wan_stream_skip_steps(comfy, pack, wan):
    m = comfy.NODE_CLASS_MAPPINGS
    model, vae = wan
    args = dict(model=model, positive=conditioning(1, 8), negative=conditioning(2, 6), vae=vae, stream_id="wan-skip",
                action="restart", seed=2, width=32, height=32, K=0, N=2, c=2, s=1, scheduler="simple",
                guidance=1.0, frames=5, skip_similar=0.9)
    node = m["StreamDiTWanStream"]
    node.execute(**args)
    session = pack("nodes.live.registry").STREAMS.get("wan-skip")
    still = torch.rand(32, 32, 3, generator=torch.Generator().manual_seed(9))
    for stamp in range(8):
        session.feed(still, 0.5, stamp)
    evaluations = session.stream.evaluations
    out = node.execute(**{**args, "action": "continue", "frames": 32})
    latents, images = out[2]["samples"][0], out[1]                 # [C, 8, h, w], [32, 32, 32, 3]
    f = session.report()["similarity_filter"]
    assert f["threshold"] == 0.9 and f["skipped"] >= 2, f
    assert session.stream.evaluations - evaluations == 4 - f["skipped"]   # a skipped step runs no model
    assert any(torch.equal(latents[:, i], latents[:, i - 2]) for i in range(2, 8))   # the last chunk again
    assert images.shape == (32, 32, 32, 3) and torch.isfinite(images).all()
