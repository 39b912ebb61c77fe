"""The embedded model loads and streams frames that follow the prompt's colour."""
import pytest
import torch

from conftest import SHIPPED_MODEL
from stream_core.analysis import look
from stream_core.checkpoint import load
from stream_core.evaluate import stream_frames
from stream_core.partition import Partition
from stream_core.timeline import PromptTimeline


@pytest.mark.parametrize("colour", ["red", "blue", "green"])
def test_shipped_model_streams_the_prompted_colour(colour):
    model = load(SHIPPED_MODEL)
    assert model.config.prediction == "x" and model.config.height == 64
    with torch.no_grad():
        frames = stream_frames(model, Partition(0, 4, 2, 2), PromptTimeline(((0, f"a {colour} circle moving right"),)),
                               frames=8, seed=0, guidance=3.0)
    seen = [look(f).colour for f in frames]
    assert seen.count(colour) >= 6, seen
