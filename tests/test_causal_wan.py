"""Causal (autoregressive) Wan streams on a tiny random-weight ``CausalWanModel`` built from
ComfyUI's own class and opened by its stock loader (ComfyUI 0.33 and newer), against ComfyUI's
own ``ar_video`` sampler."""
import os

import pytest
import torch

from conftest import ROOT
from tiny_wan import CAUSAL_METADATA, TEXT_DIM, wan_model_state, wan_vae_state, write

LATENT = (16, 4, 4)            # [C, h, w] of one latent frame: 32x32 video


@pytest.fixture(scope="module")
def causal(comfy, comfy_base):
    """Stock loaders over tiny files: (causal MODEL, VAE)."""
    import importlib.util
    if importlib.util.find_spec("comfy.ldm.wan.ar_model") is None:
        pytest.skip("this ComfyUI has no causal Wan model (comfy/ldm/wan/ar_model.py, ComfyUI 0.33 and newer)")
    write(os.path.join(comfy_base, "models", "diffusion_models", "tiny_causal_wan.safetensors"),
          wan_model_state(seed=5), CAUSAL_METADATA)
    write(os.path.join(comfy_base, "models", "diffusion_models", "tiny_wan_t2v.safetensors"), wan_model_state())
    write(os.path.join(comfy_base, "models", "vae", "tiny_wan_vae.safetensors"), wan_vae_state())
    model = comfy.UNETLoader().load_unet("tiny_causal_wan.safetensors", "default")[0]
    assert type(model.model.diffusion_model).__name__ == "CausalWanModel"
    return model, comfy.VAELoader().load_vae("tiny_wan_vae.safetensors")[0]


def conditioning(seed: int, length: int = 12):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, length, TEXT_DIM, generator=g), {}]]


def schedule_of(pack, *prompts):
    """A ConditioningSchedule: prompt i (a conditioning seed) from stream frame at_i on."""
    source = pack("nodes.wan.source")
    (at, seed), *rest = prompts
    schedule = source.ConditioningSchedule.single(f"p{seed}", source.cross_attn(conditioning(seed)))
    for at, seed in rest:
        schedule = schedule.with_entry(source.output_frame(at), f"p{seed}", source.cross_attn(conditioning(seed)), 0)
    return schedule


def causal_stream(pack, model, schedule, N: int, c: int, steps: int, seed: int = 0, **source):
    from stream_core.engine.integrator import renoise
    from stream_core.engine.partition import Partition
    from stream_core.engine.stream import Stream
    wan = pack("nodes.wan.source")
    velocity = pack("nodes.wan.causal_source").CausalWanVelocity(model, schedule, **source)
    grid = wan.model_tau_grid(model, "simple", N * steps)
    return Stream(velocity, Partition(0, N, c, steps), LATENT, seed=seed, grid=grid, integrator=renoise), velocity


@pytest.mark.parametrize("c", [1, 3])
def test_one_chunk_window_equals_comfyuis_ar_video_sampler(pack, causal, monkeypatch, c):
    """N = 1: the stream is block-by-block generation. With the same noise (the stream's own draws:
    each block's starting noise, then one fresh noise per step), its frames equal those of
    ComfyUI's ``ar_video`` sampler with ``num_frame_per_block`` = c, frame-wise and chunk-wise."""
    import comfy.sample
    import comfy.samplers
    model, _ = causal
    steps, blocks = 3, 3
    drawn, randn = [], torch.randn

    def recording(*args, **kwargs):
        drawn.append(randn(*args, **kwargs))
        return drawn[-1]
    stream, velocity = causal_stream(pack, model, schedule_of(pack, (0, 1)), N=1, c=c, steps=steps)
    with monkeypatch.context() as patch:
        patch.setattr(torch, "randn", recording)
        ours = stream.take(blocks * c)
    per_block = [drawn[b * (steps + 1):(b + 1) * (steps + 1)] for b in range(blocks)]   # start noise, fresh x steps
    assert len(drawn) == blocks * (steps + 1) + 1 and len(velocity.cache.chunks) == blocks

    start = torch.cat([block[0] for block in per_block], dim=1).movedim(1, 2)        # [1, C, frames, h, w]
    fresh = iter([noise.movedim(1, 2) for block in per_block for noise in block[1:steps]])   # not the last step's
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", steps)
    sampler = comfy.samplers.ksampler("ar_video", {"num_frame_per_block": c})
    with monkeypatch.context() as patch:
        patch.setattr(torch, "randn_like", lambda like, **kw: next(fresh))
        stock = comfy.sample.sample_custom(model, start, 1.0, sampler, sigmas, conditioning(1), conditioning(2),
                                           torch.zeros_like(start), disable_pbar=True, seed=0)
    assert next(fresh, None) is None, "ar_video drew less noise than the stream"
    assert stock.abs().mean() > 0.1
    torch.testing.assert_close(model.model.process_latent_out(ours.movedim(1, 2)), stock, rtol=1e-4, atol=1e-4)


def test_keys_moved_in_time_equal_keys_written_there(pack, causal):
    """Attention sees positions only relative to each other: a chunk's keys written at frame 0 and
    rotated 5 frames on (what the cache does when it drops a chunk) equal the keys the model
    writes for it at frame 5."""
    model, _ = causal
    causal_source = pack("nodes.wan.causal_source")
    net = model.model.diffusion_model
    latents = torch.randn(1, 16, 2, *LATENT[1:], generator=torch.Generator().manual_seed(4))
    context = conditioning(1)[0][0]

    def keys_at(frame: int) -> list[torch.Tensor]:
        kv = net.init_kv_caches(1, 2 * 4, "cpu", torch.float32)
        net.forward_block(latents, torch.zeros(1, 2), context, frame, kv,
                          net.init_crossattn_caches(1, "cpu", torch.float32))
        return [cache["k"] for cache in kv]

    at_zero, at_five = keys_at(0), keys_at(5)
    assert not torch.allclose(at_zero[0], at_five[0])
    for moved, written in zip(at_zero, at_five):
        torch.testing.assert_close(causal_source.rotate_keys(net, moved, 5), written, rtol=1e-4, atol=1e-5)


def test_an_endless_causal_stream_holds_constant_memory(pack, causal):
    """2,000 latent frames: the cache keeps the sink and the last window (whole chunks), the frames
    in the window always sit right after it (positions never past sink + window + the window's
    own), the memory held stops growing once the cache is full, and every model call is handed
    the cache's own tensors (no copy of it per call)."""
    model, _ = causal
    sink, window, c = 2, 6, 2
    stream, velocity = causal_stream(pack, model, schedule_of(pack, (0, 1)), N=2, c=c, steps=1, sink=sink,
                                     window=window)
    net = model.model.diffusion_model
    starts, copied = [], []
    original = net.forward_block

    def call(*args, **kwargs):
        starts.append(kwargs["start_frame"])
        if velocity.cache.chunks:   # the model gets the cache's own tensors, never a copy
            copied.append(kwargs["kv_caches"][0]["k"].data_ptr() != velocity.cache.layer(0, 0)[0].data_ptr())
        return original(*args, **kwargs)
    net.forward_block = call
    try:
        held = []
        for _ in range(20):
            stream.take(100)
            held.append((velocity.cache.nbytes, stream.nbytes, velocity.cache.frames))
    finally:
        del net.forward_block
    assert stream.frames_taken == 2000
    assert held[0] == held[-1] and len(set(held)) == 1, held
    assert velocity.cache.frames == sink + window and velocity.cache.dropped == stream.frames_out - sink - window
    assert max(starts) == sink + window
    assert len(copied) > 1900 and not any(copied)   # a window pass and a cache write per chunk of 2


@pytest.mark.parametrize("recache", [True, False])
def test_a_new_prompt_rewrites_the_cache_or_keeps_it(pack, causal, recache):
    """A schedule switch at frame 8: with ``recache`` (LongLive's KV re-cache) the cache is written
    again under the new prompt as the window reaches it (equal to a cache written under that
    prompt from the start), without it the frames before keep the context they were written
    with; the frames after the switch differ between the two."""
    model, _ = causal
    switched = schedule_of(pack, (0, 1), (8, 2))
    frames = {}
    for choice in (not recache, recache):   # ``mine``, ``kept``: the choice under test's
        stream, mine = causal_stream(pack, model, switched, N=2, c=2, steps=1, recache=choice)
        before = stream.take(8)
        kept = list(mine.cache.chunks)
        frames[choice] = torch.cat([before, stream.take(6)], dim=1)
    assert torch.equal(frames[True][:, :8], frames[False][:, :8])
    assert not torch.allclose(frames[True][:, 8:], frames[False][:, 8:])
    if recache:
        assert mine.recaches == 1 and mine.written_under == "p2"
        assert not torch.allclose(kept[0].keys[1], mine.cache.chunks[0].keys[1])   # written again
        _, rewritten = causal_stream(pack, model, schedule_of(pack, (0, 2)), N=2, c=2, steps=1)
        for chunk in mine.cache.chunks[:len(kept)]:
            entry = rewritten._written(chunk.latents, "p2", [c for c in mine.cache.chunks if c.position < chunk.position])
            torch.testing.assert_close(entry.keys[1], chunk.keys[1])
    else:
        assert mine.recaches == 0 and all(torch.equal(a.keys[1], b.keys[1]) for a, b in zip(kept, mine.cache.chunks))


def test_a_failed_step_leaves_the_cache_as_it_was(pack, causal):
    """The cache write fails once (as a cancel or an out-of-memory would): the step is undone, cache
    included, and the retry makes the frames an unbroken stream makes."""
    model, _ = causal
    unbroken, _ = causal_stream(pack, model, schedule_of(pack, (0, 1)), N=2, c=2, steps=2)
    expected = unbroken.take(10)
    stream, velocity = causal_stream(pack, model, schedule_of(pack, (0, 1)), N=2, c=2, steps=2)
    got = [stream.take(4)]
    write, failed = velocity._written, []

    def failing(*args):
        if not failed:
            failed.append(velocity.cache.frames)
            raise RuntimeError("out of memory")
        return write(*args)
    velocity._written = failing
    with pytest.raises(RuntimeError):
        while True:
            got.append(stream.take(1))
    frames_before = velocity.cache.frames
    assert failed == [frames_before]
    got.append(stream.take(10 - sum(g.shape[1] for g in got)))
    torch.testing.assert_close(torch.cat(got, dim=1), expected)


def node_args(model, vae, stream_id: str, **more) -> dict:
    return {**dict(model=model, positive=conditioning(1), vae=vae, stream_id=stream_id, action="restart", seed=2,
                   width=32, height=32, N=2, c=1, s=2, scheduler="simple", sampler="renoise", sink=1, window=3,
                   recache=True, frames=9), **more}


def test_the_causal_node_streams_continues_follows_a_schedule_and_a_camera(comfy, pack, causal):
    """Through the node as ComfyUI runs it: a run continued equals one long run, a schedule's
    prompt changes the frames from its entry on (and those sharing the window with them, not the
    ones before), and a camera's frames go into the stream."""
    m = comfy.NODE_CLASS_MAPPINGS
    model, vae = causal
    node = m["StreamDiTCausalWanStream"]
    whole = node.execute(**node_args(model, vae, "causal")).result[0]
    first = node.execute(**node_args(model, vae, "causal", frames=5)).result[0]
    rest = node.execute(**{**node_args(model, vae, "causal", frames=4), "action": "continue"}).result[0]
    torch.testing.assert_close(torch.cat([first.images, rest.images]), whole.images)
    later = m["StreamDiTConditioningSchedule"].execute(conditioning(7), 5, "", 0).result[0]
    scheduled = node.execute(**node_args(model, vae, "causal", schedule=later)).result[0]
    # video frame 5 is latent 2's first; latent 0 (video frame 0) never shares the window with it
    assert torch.equal(scheduled.images[:1], whole.images[:1]) and not torch.allclose(scheduled.images[5:],
                                                                                       whole.images[5:])
    session = pack("nodes.live.registry").STREAMS.get("causal")
    assert session.report()["video_input"] and not session.report()["accepts_text"]
    still = torch.rand(32, 32, 3, generator=torch.Generator().manual_seed(9))
    for stamp in range(8):
        session.feed(still, 0.0, stamp)
    node.execute(**{**node_args(model, vae, "causal", frames=16), "action": "continue"})
    assert session.camera.report()["used"] > 0


def test_the_causal_node_redraws_a_video_input_and_skips_a_still_one(comfy, pack, causal):
    """A video input (SDEdit into the entering chunk): at strength 0 the stream gives back the VAE's
    encoding of the video; a still video with *skip similar input* skips cycles without a model
    call, repeating the last chunk."""
    m = comfy.NODE_CLASS_MAPPINGS
    model, vae = causal
    node = m["StreamDiTCausalWanStream"]
    video = torch.rand(9, 32, 32, 3, generator=torch.Generator().manual_seed(3))
    kept = node.execute(**node_args(model, vae, "causal-v2v", frames=9,
                                    video_input=m["StreamDiTVideoInput"].execute(0.0, images=video).result[0]))
    latents = kept[2]["samples"][0]                                    # [C, 3, h, w]
    torch.testing.assert_close(latents, vae.encode(video)[0], rtol=0, atol=1e-4)
    still = video[:1].expand(33, -1, -1, -1)
    args = node_args(model, vae, "causal-still", frames=33, skip_similar=0.9,
                     video_input=m["StreamDiTVideoInput"].execute(0.5, images=still).result[0])
    latents = node.execute(**args)[2]["samples"][0]                    # [C, 9, h, w]
    session = pack("nodes.live.registry").STREAMS.get("causal-still")
    f = session.report()["similarity_filter"]
    assert f["skipped"] >= 2, f
    assert any(torch.equal(latents[:, i], latents[:, i - 1]) for i in range(2, 9))   # a chunk of 1 again


def test_each_wan_node_refuses_the_other_kind_with_where_it_goes(comfy, causal):
    m = comfy.NODE_CLASS_MAPPINGS
    model, vae = causal
    plain = comfy.UNETLoader().load_unet("tiny_wan_t2v.safetensors", "default")[0]
    with pytest.raises(Exception, match="not a causal Wan model.*StreamDiT Wan Stream"):
        m["StreamDiTCausalWanStream"].execute(**node_args(plain, vae, "refused"))
    with pytest.raises(Exception, match="causal.*StreamDiT Causal Wan Stream"):
        m["StreamDiTWanStream"].execute(model=model, positive=conditioning(1), negative=conditioning(2), vae=vae,
                                        stream_id="refused", action="restart", seed=0, width=32, height=32, K=0, N=2,
                                        c=1, s=1, scheduler="simple", guidance=1.0, frames=2)


def test_on_a_comfyui_without_the_causal_model_the_node_says_which_it_needs(comfy, comfy_base):
    import importlib.util
    if importlib.util.find_spec("comfy.ldm.wan.ar_model") is not None:
        pytest.skip("this ComfyUI has the causal Wan model: the refusal of a plain model is tested above")
    write(os.path.join(comfy_base, "models", "diffusion_models", "tiny_wan_t2v.safetensors"), wan_model_state())
    write(os.path.join(comfy_base, "models", "vae", "tiny_wan_vae.safetensors"), wan_vae_state())
    model = comfy.UNETLoader().load_unet("tiny_wan_t2v.safetensors", "default")[0]
    vae = comfy.VAELoader().load_vae("tiny_wan_vae.safetensors")[0]
    with pytest.raises(Exception, match=r"no causal Wan model .*ComfyUI 0\.33 and newer"):
        comfy.NODE_CLASS_MAPPINGS["StreamDiTCausalWanStream"].execute(**node_args(model, vae, "old"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, causal):
    from comfy_server import ComfyServer
    base = str(tmp_path_factory.mktemp("causal-server"))
    write(os.path.join(base, "models", "diffusion_models", "tiny_causal_wan.safetensors"), wan_model_state(seed=5),
          CAUSAL_METADATA)
    write(os.path.join(base, "models", "vae", "tiny_wan_vae.safetensors"), wan_vae_state())
    with ComfyServer(base, extra_nodes=(os.path.join(ROOT, "tests", "fixtures", "streamdit_test_conditioning"),)) as s:
        yield s


def test_a_causal_stream_runs_until_stopped_on_a_server_and_is_recorded(server):
    """A real ComfyUI server: the stock loader opens the causal file, the node streams until the
    stop route ends it, re-prompted live it answers with how (its conditionings), and the
    recording holds what it made."""
    from conftest import poll
    from tiny_wan import causal_stream_prompt
    status, answer = server.queue(causal_stream_prompt("causal-live", 0, realtime=True, record=True, fps=16.0))
    assert status == 200, answer
    poll(lambda: (r := server.get("/streamdit/streams").get("causal-live")) and r["running"] and r["frames"] > 12,
         timeout=120, what="the causal stream to run")
    code, reply = server.request("POST", "/streamdit/prompt", {"stream_id": "causal-live", "prompt": "a red ball"})
    assert code == 409 and "CONDITIONING" in str(reply)
    assert server.request("POST", "/streamdit/stop", {"stream_id": "causal-live"})[0] == 202
    entry = server.wait(answer["prompt_id"], timeout=120)
    assert entry["status"]["status_str"] == "success"
    report = server.get("/streamdit/streams")["causal-live"]
    assert not report["running"] and report["frames"] > 12
    folder = os.path.join(server.base, "output", "streamdit")
    assert any(n.startswith("causal-live") and n.endswith(".mp4") for n in os.listdir(folder))
