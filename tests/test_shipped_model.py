"""The embedded models load and stream 64x64 frames that follow the prompt's colour and
direction: the teacher with guidance from its first frame, the distilled student at one pass
per shift without it once its buffer has turned over (its start-up, one uniform generation,
is unlike the staggered buffers it was distilled on, and for some seeds shows a stray shape
for a few frames: docs/model.md)."""
import pytest
import torch

from conftest import SHIPPED_MODEL, SHIPPED_STUDENT
from stream_core.lab.analysis import follows, look
from stream_core.lab.world import COLOURS
from stream_core.native.checkpoint import load
from stream_core.lab.evaluate import stream_frames
from stream_core.engine.partition import Partition
from stream_core.engine.timeline import PromptTimeline


@pytest.mark.parametrize("path, partition, guidance, skipped", [(SHIPPED_MODEL, Partition(0, 4, 2, 2), 2.0, 0),
                                                               (SHIPPED_STUDENT, Partition(0, 4, 2, 1), 1.0, 8)],
                         ids=["teacher", "student"])
@pytest.mark.parametrize("colour", COLOURS)
def test_shipped_model_streams_the_prompted_colour_and_direction(colour, path, partition, guidance, skipped):
    model = load(path)
    assert model.config.latent == "autoencoder" and model.config.height * model.config.factor == 64
    with torch.no_grad():
        frames = stream_frames(model, partition, PromptTimeline(((0, f"a {colour} circle moving right"),)),
                               frames=16 + skipped, seed=0, guidance=guidance)[skipped:]
    assert frames.shape == (16, 3, 64, 64)
    seen = [look(f) for f in frames]
    assert [s.colour for s in seen].count(colour) >= 8, seen   # chance: 1 in 10
    assert follows(seen, "right", 64), seen
