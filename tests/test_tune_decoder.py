"""Tuning a latent model's decoder on its own estimates: only the decoder moves, the models that
share the encoder get the same decoder, the silhouette is the evaluator's shape mask."""
import dataclasses

import pytest
import torch

from stream_core.lab.analysis import shape_mask
from stream_core.lab.train import default_config, train
from stream_core.lab.train_autoencoder import train_autoencoder
from stream_core.lab.tune_decoder import estimates, soft_silhouette, tune_decoder
from stream_core.lab.world import World, names_held_out_pair
from stream_core.native.checkpoint import load, read_config

SMALL = dict(dim=24, depth=1, heads=2, text_dim=16, text_depth=1)


@pytest.fixture(scope="module")
def latent_models(tmp_path_factory):
    """Two tiny latent models on one autoencoder, and one on another: file paths."""
    tmp = tmp_path_factory.mktemp("tune_decoder")
    ae, other_ae = str(tmp / "ae.safetensors"), str(tmp / "other_ae.safetensors")
    train_autoencoder(2, ae, channels=4, batch=1, log_every=100)
    train_autoencoder(2, other_ae, channels=4, batch=1, log_every=100, seed=1)
    cfg = dataclasses.replace(default_config(latent_channels=4), **SMALL)
    paths = {name: str(tmp / f"{name}.safetensors") for name in ("student", "teacher", "stranger")}
    train(1, 2, paths["student"], config=cfg, log_every=100, autoencoder=ae)
    train(1, 2, paths["teacher"], config=cfg, log_every=100, autoencoder=ae, seed=3)
    train(1, 2, paths["stranger"], config=cfg, log_every=100, autoencoder=other_ae)
    return tmp, paths


def test_only_the_decoder_moves_and_the_model_sharing_the_encoder_gets_it(latent_models):
    tmp, paths = latent_models
    out, teacher_out = str(tmp / "student_tuned.safetensors"), str(tmp / "teacher_tuned.safetensors")
    tune_decoder(paths["student"], 2, out, also=((paths["teacher"], teacher_out),), batch=1, lr=1e-2, log_every=100)
    for before, after in ((paths["student"], out), (paths["teacher"], teacher_out)):
        a, b = load(before).state_dict(), load(after).state_dict()
        moved = {k for k in a if not torch.equal(a[k], b[k])}
        assert moved and all(k.startswith("autoencoder.decoder.") for k in moved)
    tuned, teacher = load(out).state_dict(), load(teacher_out).state_dict()
    assert all(torch.equal(tuned[k], teacher[k]) for k in tuned if k.startswith("autoencoder."))
    meta = read_config(teacher_out)[1]
    assert meta["train.seed"] == "3" and meta["decoder.tuned_on"] == paths["student"] and meta["decoder.steps"] == "2"


def test_a_model_on_another_encoder_or_in_pixels_is_refused(latent_models, tmp_path):
    _, paths = latent_models
    with pytest.raises(ValueError, match="encoder differs"):
        tune_decoder(paths["student"], 1, str(tmp_path / "a.safetensors"),
                     also=((paths["stranger"], str(tmp_path / "b.safetensors")),), batch=1)
    pixel = str(tmp_path / "pixel.safetensors")
    train(1, 2, pixel, config=dataclasses.replace(default_config(), **SMALL), log_every=100)
    with pytest.raises(ValueError, match="no decoder to tune"):
        tune_decoder(pixel, 1, str(tmp_path / "c.safetensors"))
    assert not list(tmp_path.glob("[abc].safetensors"))   # nothing half-written


def test_estimates_are_the_latents_at_the_clean_end_and_the_models_guess_below_it(latent_models):
    _, paths = latent_models
    model = load(paths["student"])
    clips, captions = World(seed=5).batch([0, 1])
    latents = model.encode_frames(clips)
    g = lambda: torch.Generator().manual_seed(0)   # noqa: E731
    assert torch.equal(estimates(model, latents, captions, 1.0, 0.0, g()), latents)   # tau = 1: nothing to remove
    assert torch.equal(estimates(model, latents, captions, 0.5, 1.0, g()), latents)   # every frame kept exact
    guessed = estimates(model, latents, captions, 0.5, 0.0, g())
    assert guessed.shape == latents.shape and not torch.allclose(guessed, latents, atol=1e-3)


def test_frames_of_a_held_out_pair_always_keep_their_exact_latents(latent_models):
    _, paths = latent_models
    model = load(paths["student"])
    clips, _ = World(seed=5).batch([0, 1])
    latents = model.encode_frames(clips)
    captions = [["a green triangle moving up"] * 3 + ["a red triangle moving up"] * 5,
                ["a magenta square moving left on stripes"] * 8]
    guessed = estimates(model, latents, captions, 0.5, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(guessed[0, :3], latents[0, :3]) and torch.equal(guessed[1], latents[1])
    assert not torch.allclose(guessed[0, 3:], latents[0, 3:], atol=1e-3)
    assert names_held_out_pair("a green triangle moving up") and not names_held_out_pair("a green square moving up")


def test_the_soft_silhouette_is_the_shape_mask_made_smooth():
    frames = World(seed=2).clip(0)[0]
    soft = soft_silhouette(frames)
    assert torch.equal(soft > 0.5, shape_mask(frames))
    assert soft[shape_mask(frames)].min() > 0.99 and soft[~shape_mask(frames)].max() < 0.01
