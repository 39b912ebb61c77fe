import dataclasses

import torch

from stream_core.native.model import StreamDiT
from stream_core.engine.time_grid import shift_tau
from stream_core.lab.analysis import shape_mask
from stream_core.lab.train import chunk_mixture, default_config, drop_words, loss_on, stratified_times
from stream_core.lab.train_autoencoder import object_weights
from stream_core.lab.world import COLOURS, SHAPES, World


def test_chunk_times_are_stratified_and_shared_within_a_chunk():
    g = torch.Generator().manual_seed(0)
    assert chunk_mixture(8) == (1, 2, 4, 8)
    tau = stratified_times(200, 8, (1, 2, 4, 8), g)
    seen_sizes = set()
    for row in tau:
        c = next(c for c in (1, 2, 4, 8) if all(len(set(row[i:i + c].tolist())) == 1 for i in range(0, 8, c))
                 and (c == 8 or any(len(set(row[i:i + 2 * c].tolist())) > 1 for i in range(0, 8, 2 * c))))
        seen_sizes.add(c)
        n = 8 // c
        chunk_tau = row[::c]
        for i, t in enumerate(chunk_tau.tolist()):   # chunk 0 (oldest) is the cleanest stratum
            assert (n - 1 - i) / n <= t <= (n - i) / n
    assert seen_sizes == {1, 2, 4, 8}


def test_shifted_times_keep_the_strata_and_move_toward_noise():
    plain = stratified_times(500, 8, (1, 2, 4, 8), torch.Generator().manual_seed(1))
    shifted = stratified_times(500, 8, (1, 2, 4, 8), torch.Generator().manual_seed(1), shift=3.0)
    torch.testing.assert_close(shifted, shift_tau(plain, 3.0))
    assert bool((shifted <= plain).all()) and shifted.mean() < plain.mean() - 0.1
    assert bool((shifted[:, :-1] >= shifted[:, 1:]).all())   # chunk 0 (oldest) still the cleanest
    torch.testing.assert_close(shift_tau(torch.tensor([0.0, 1.0]), 3.0), torch.tensor([0.0, 1.0]))


def test_a_few_steps_lower_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    cfg = dataclasses.replace(default_config(), dim=48, depth=2, heads=4, text_dim=32, text_depth=1)
    model = StreamDiT(cfg)
    clips, captions = World(seed=0).batch([0, 1, 2, 3])
    g = torch.Generator().manual_seed(1)
    tau = stratified_times(4, 8, chunk_mixture(8), g)
    noise = torch.randn(clips.shape, generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    with torch.no_grad():
        before = loss_on(model, clips, captions, tau, noise).item()
    for _ in range(30):
        loss = loss_on(model, clips, captions, tau, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = loss_on(model, clips, captions, tau, noise).item()
    assert after < 0.8 * before, (before, after)


def test_object_weights_cover_the_shapes_latent_pixels_and_weigh_the_loss(tmp_path):
    clips, captions = World(seed=0).batch([0, 1])
    weights = object_weights(clips, 8, 10.0)
    assert weights.shape == (2, 8, 8, 8) and set(weights.unique().tolist()) == {1.0, 11.0}
    for frame, weight in zip(clips.flatten(0, 1), weights.flatten(0, 1)):
        mask = shape_mask(frame)
        heavy = weight == 11.0
        assert 1 <= int(heavy.sum()) <= 16   # a shape of radius 8 px covers a few 8x8 latent pixels
        assert bool(mask[heavy.repeat_interleave(8, 0).repeat_interleave(8, 1)].sum() == mask.sum())
    cfg = dataclasses.replace(default_config(), dim=24, depth=1, heads=2, text_dim=16, text_depth=1)
    model = StreamDiT(cfg)   # pixel space: factor 1, one weight per pixel
    g = torch.Generator().manual_seed(1)
    tau, noise = stratified_times(2, 8, chunk_mixture(8), g), torch.randn(clips.shape, generator=g)
    with torch.no_grad():
        plain = loss_on(model, clips, captions, tau, noise)
        assert torch.equal(loss_on(model, clips, captions, tau, noise, torch.ones(2, 8, 64, 64)), plain)
        assert torch.allclose(loss_on(model, clips, captions, tau, noise, torch.full((2, 8, 64, 64), 3.0)), 3 * plain)
        assert loss_on(model, clips, captions, tau, noise, object_weights(clips, 1, 10.0)) > plain
    from stream_core.lab.train import train
    from safetensors import safe_open
    out = str(tmp_path / "weighted.safetensors")
    train(1, 2, out, config=cfg, log_every=100, object_weight=10.0)
    assert safe_open(out, "pt").metadata()["train.object_weight"] == "10.0"


def test_word_dropout_leaves_out_one_colour_or_shape_word_from_a_whole_clip():
    captions = [["a red circle moving right"] * 4 + ["a blue circle moving right"] * 4 for _ in range(400)]
    dropped = drop_words(captions, 0.3, torch.Generator().manual_seed(0))
    assert drop_words(captions, 0.0, torch.Generator().manual_seed(0)) == captions
    changed = [clip for clip, before in zip(dropped, captions) if clip != before]
    assert 0.2 < len(changed) / len(captions) < 0.4
    no_colour = [clip for clip in changed if not any(w in COLOURS for w in clip[0].split())]
    no_shape = [clip for clip in changed if not any(w in SHAPES for w in clip[0].split())]
    assert len(no_colour) + len(no_shape) == len(changed) and no_colour and no_shape
    for clip in no_colour:   # the colour change mid-clip is gone too: the whole clip loses the word
        assert set(clip) == {"a circle moving right"}
    assert all(set(clip) == {"a red moving right", "a blue moving right"} for clip in no_shape)


def test_resume_continues_exactly_where_training_stopped(tmp_path):
    cfg = dataclasses.replace(default_config(), dim=24, depth=1, heads=2, text_dim=16, text_depth=1)
    from stream_core.native.checkpoint import load
    from stream_core.lab.train import train
    whole = str(tmp_path / "whole.safetensors")
    parts = str(tmp_path / "parts.safetensors")
    train(4, 2, whole, config=cfg, log_every=100)
    train(2, 2, parts, config=cfg, log_every=100)
    train(4, 2, parts, config=cfg, log_every=100)    # resumes at step 2 from parts.safetensors.state
    a, b = load(whole).state_dict(), load(parts).state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


def test_a_state_past_the_asked_steps_is_left_untouched(tmp_path):
    cfg = dataclasses.replace(default_config(), dim=24, depth=1, heads=2, text_dim=16, text_depth=1)
    from stream_core.lab.train import train
    out = tmp_path / "m.safetensors"
    state = tmp_path / "m.safetensors.state"
    train(3, 2, str(out), config=cfg, log_every=100)
    before = out.read_bytes(), state.read_bytes()
    train(2, 2, str(out), config=cfg, log_every=100)   # fewer steps than the state holds
    assert (out.read_bytes(), state.read_bytes()) == before


def test_immiscible_assignment_is_a_permutation_that_shortens_distances():
    from stream_core.lab.train import immiscible
    g = torch.Generator().manual_seed(0)
    clips, noise = torch.randn(8, 50, generator=g) + 2, torch.randn(8, 50, generator=g)
    paired = immiscible(clips, noise)
    assert sorted(paired.sum(1).tolist()) == sorted(noise.sum(1).tolist())   # same noises, new order
    assert (clips - paired).norm(dim=1).sum() <= (clips - noise).norm(dim=1).sum()


def test_two_processes_train_what_one_process_trains(tmp_path):
    import os
    import subprocess
    import sys

    from comfy_server import free_port
    from conftest import ROOT
    from stream_core.native.checkpoint import load
    from stream_core.lab.train import train
    sizes = dict(dim=24, depth=1, heads=2)
    one = str(tmp_path / "one.safetensors")
    two = str(tmp_path / "two.safetensors")
    train(3, 4, one, config=dataclasses.replace(default_config(), **sizes), log_every=100)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                          str(free_port()), "-m", "stream_core.lab.train", "--steps", "3", "--batch", "4", "--out", two,
                          *[f"--{k}={v}" for k, v in sizes.items()]], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]   # what torchrun and its workers said
    a, b = load(one).state_dict(), load(two).state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


def test_fine_tuning_starts_from_the_given_model(tmp_path):
    cfg = dataclasses.replace(default_config(), dim=24, depth=1, heads=2, text_dim=16, text_depth=1)
    from stream_core.native.checkpoint import load
    from stream_core.lab.train import train
    first, tuned, fresh = (str(tmp_path / f"{n}.safetensors") for n in ("first", "tuned", "fresh"))
    train(3, 2, first, config=cfg, log_every=100)
    train(1, 2, tuned, config=cfg, log_every=100, lr=0.0, init=first)     # no step size: the start comes out
    train(1, 2, fresh, config=cfg, log_every=100, lr=0.0)
    a, b, c = load(first).state_dict(), load(tuned).state_dict(), load(fresh).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
