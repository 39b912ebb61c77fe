import dataclasses

import torch

from stream_core.model import StreamDiT
from stream_core.train import chunk_mixture, default_config, loss_on, stratified_times
from stream_core.world import World


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


def test_resume_continues_exactly_where_training_stopped(tmp_path):
    cfg = dataclasses.replace(default_config(), dim=24, depth=1, heads=2, text_dim=16, text_depth=1)
    from stream_core.checkpoint import load
    from stream_core.train import train
    whole = str(tmp_path / "whole.safetensors")
    parts = str(tmp_path / "parts.safetensors")
    train(4, 2, whole, config=cfg, log_every=100)
    train(2, 2, parts, config=cfg, log_every=100)
    train(4, 2, parts, config=cfg, log_every=100)    # resumes at step 2 from parts.safetensors.state
    a, b = load(whole).state_dict(), load(parts).state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
