"""The frame autoencoder and a StreamDiT in its latent space: training, saving, streaming images."""
import dataclasses

import pytest
import torch
from safetensors import safe_open

from stream_core.lab.analysis import look, shape_mask
from stream_core.native.checkpoint import load
from stream_core.lab.evaluate import stream_frames
from stream_core.native.images import to_images
from stream_core.engine.partition import Partition
from stream_core.engine.timeline import PromptTimeline
from stream_core.lab.train import default_config, train
from stream_core.lab.train_autoencoder import load_autoencoder, reconstruction_loss, train_autoencoder
from stream_core.native.autoencoder import FrameAutoencoder
from stream_core.lab.world import World


def test_a_few_steps_lower_the_reconstruction_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    ae = FrameAutoencoder(4, widths=(8, 16, 16))
    frames = World(seed=3).batch([0, 1])[0].flatten(0, 1)
    opt = torch.optim.AdamW(ae.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        return reconstruction_loss(ae, frames, torch.Generator().manual_seed(0))

    before = loss().item()
    for _ in range(40):
        value = loss()
        opt.zero_grad()
        value.backward()
        opt.step()
    assert loss().item() < 0.8 * before


def test_the_latent_noise_is_what_makes_the_loss_depend_on_the_generator():
    torch.manual_seed(0)   # an untrained decoder barely feels the noise (about 1e-6 of the loss): fix its weights
    ae = FrameAutoencoder(4, widths=(8, 16, 16))
    frames = World(seed=3).batch([0])[0].flatten(0, 1)
    with torch.no_grad():
        def loss(seed: int, noise: float) -> float:
            return reconstruction_loss(ae, frames, torch.Generator().manual_seed(seed), noise).item()

        assert loss(0, 0.0) == loss(1, 0.0)
        assert loss(0, 20.0) != loss(1, 20.0)
        g = torch.Generator().manual_seed(0)
        reconstruction_loss(ae, frames, g, 0.0)   # no draw without noise: recipes repeat
        assert torch.equal(g.get_state(), torch.Generator().manual_seed(0).get_state())


def test_shape_mask_finds_the_shape_and_not_the_stripes():
    frames = World(seed=0).batch(list(range(6)))[0].flatten(0, 1)
    checked = 0
    for frame, m in zip(frames, shape_mask(frames)):
        seen = look(frame)
        assert 20 < int(m.sum()) < 400
        columns = m.any(0).nonzero().flatten()
        if columns.min() > 0 and columns.max() < 63:    # not over the border (look rolls such a shape whole)
            assert abs(float(torch.nonzero(m).float()[:, 1].mean()) + 0.5 - seen.x) < 1
            checked += 1
    assert checked >= 8


def test_a_latent_model_trains_in_the_autoencoders_space_and_streams_images(tmp_path):
    ae_path, model_path = str(tmp_path / "ae.safetensors"), str(tmp_path / "model.safetensors")
    ae = train_autoencoder(3, ae_path, channels=4, batch=1, log_every=100)
    latents = ae.encode(World(seed=9).clip(0)[0])
    assert latents.shape == (8, 4, 8, 8)
    cfg = dataclasses.replace(default_config(latent_channels=4), dim=24, depth=1, heads=2, text_dim=16, text_depth=1)
    train(2, 2, model_path, config=cfg, log_every=100, autoencoder=ae_path)
    model = load(model_path)
    assert model.config.latent == "autoencoder" and model.config.factor == 8
    for key, value in load_autoencoder(ae_path).state_dict().items():   # frozen, shipped inside the model
        torch.testing.assert_close(model.autoencoder.state_dict()[key], value, rtol=0, atol=0)
    with torch.no_grad():
        frames = stream_frames(model, Partition(0, 4, 2, 1), PromptTimeline(((0, "a red circle moving up"),)),
                               frames=5, seed=0, guidance=1.0)
        assert frames.shape == (5, 3, 64, 64) and frames.abs().max() <= 1
        images = to_images(model, model.encode_frames(World(seed=9).clip(0)[0]))
    assert images.shape == (8, 64, 64, 3) and 0 <= images.min() and images.max() <= 1


def test_a_factor_4_autoencoder_round_trips_and_a_model_trains_on_it(tmp_path):
    ae_path, model_path = str(tmp_path / "ae4.safetensors"), str(tmp_path / "model4.safetensors")
    train_autoencoder(2, ae_path, channels=4, batch=1, log_every=100, factor=4)
    ae = load_autoencoder(ae_path)   # the factor is read off the weights
    assert ae.factor == 4 and ae.encode(World(seed=9).clip(0)[0]).shape == (8, 4, 16, 16)
    small = dict(dim=24, depth=1, heads=2, text_dim=16, text_depth=1)
    with pytest.raises(ValueError, match="factor 4, but the config's latent_factor is 8"):
        train(1, 2, model_path, config=dataclasses.replace(default_config(4), **small), autoencoder=ae_path)
    cfg = dataclasses.replace(default_config(4, latent_factor=4), **small)
    assert (cfg.patch, cfg.height) == (4, 16)   # still 16 tokens a frame
    train(2, 2, model_path, config=cfg, log_every=100, autoencoder=ae_path)
    model = load(model_path)
    assert model.config.factor == 4
    with torch.no_grad():
        frames = stream_frames(model, Partition(0, 4, 2, 1), PromptTimeline(((0, "a red circle moving up"),)),
                               frames=3, seed=0, guidance=1.0)
    assert frames.shape == (3, 3, 64, 64)


def test_an_autoencoder_fine_tunes_from_its_own_file_or_from_the_model_carrying_it(tmp_path):
    ae_path, model_path = str(tmp_path / "ae.safetensors"), str(tmp_path / "model.safetensors")
    first = train_autoencoder(2, ae_path, channels=4, batch=1, log_every=100)
    cfg = dataclasses.replace(default_config(latent_channels=4), dim=24, depth=1, heads=2, text_dim=16, text_depth=1)
    train(1, 2, model_path, config=cfg, log_every=100, autoencoder=ae_path)
    for start in (ae_path, model_path):
        tuned = train_autoencoder(1, str(tmp_path / "tuned.safetensors"), batch=1, lr=0.0, log_every=100, init=start)
        for key, value in first.state_dict().items():      # no step size: the start comes out, channels kept
            torch.testing.assert_close(tuned.state_dict()[key], value, rtol=0, atol=1e-6)


def test_clipped_gradients_bound_the_step_and_the_options_are_recorded(tmp_path):
    ae_path = str(tmp_path / "start.safetensors")
    start = {k: v.clone() for k, v in train_autoencoder(1, ae_path, channels=4, batch=1, lr=0.0, log_every=100).state_dict().items()}

    def largest_change(**options) -> float:
        tuned = train_autoencoder(2, str(tmp_path / "tuned.safetensors"), batch=1, lr=0.5, log_every=100,
                                  init=ae_path, **options)
        return max(float((tuned.state_dict()[k] - v).abs().max()) for k, v in start.items() if k.startswith("encoder."))

    # Adam moves every weight by about lr a step; gradients clipped to almost nothing move them
    # by almost nothing (their size is below Adam's epsilon)
    assert largest_change() > 1e-3
    assert largest_change(clip_grad=1e-12) < 1e-5
    train_autoencoder(1, ae_path, channels=4, batch=1, log_every=100, every_pair=True, latent_noise=0.0)
    metadata = safe_open(ae_path, "pt").metadata()
    assert metadata["autoencoder.every_pair"] == "True" and metadata["autoencoder.latent_noise"] == "0.0"


def test_the_autoencoder_computes_channels_last_and_matches_the_plain_layout(tmp_path):
    ae_path, model_path = str(tmp_path / "ae.safetensors"), str(tmp_path / "model.safetensors")
    train_autoencoder(1, ae_path, channels=4, batch=1, log_every=100)
    cfg = dataclasses.replace(default_config(latent_channels=4), dim=24, depth=1, heads=2, text_dim=16, text_depth=1)
    train(1, 2, model_path, config=cfg, log_every=100, autoencoder=ae_path)
    for ae in (load_autoencoder(ae_path), load(model_path).autoencoder):   # the layout survives loading
        conv = ae.encoder[0].weight
        assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
        plain = FrameAutoencoder(4)
        plain.load_state_dict(ae.state_dict())
        plain.to(memory_format=torch.contiguous_format)
        assert plain.encoder[0].weight.is_contiguous()
        frames = World(seed=9).clip(0)[0]
        with torch.no_grad():
            latents = ae.encode(frames)
            expected = (plain.encoder(frames) - plain.shift[:, None, None]) / plain.scale[:, None, None]
            torch.testing.assert_close(latents, expected, rtol=1e-3, atol=1e-3)   # summed in another order
            decoded = ae.decode(latents)
            expected = plain.decoder(latents * plain.scale[:, None, None] + plain.shift[:, None, None]).clamp(-1, 1)
            torch.testing.assert_close(decoded, expected, rtol=1e-3, atol=1e-3)
        assert latents.is_contiguous() and decoded.is_contiguous()   # the layout stays inside
