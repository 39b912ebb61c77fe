"""The embedded models load and stream frames that follow the prompt's colour: the teacher
with guidance, the distilled student at one pass per shift without it."""
import pytest
import torch

from conftest import SHIPPED_MODEL, SHIPPED_STUDENT
from stream_core.analysis import look
from stream_core.checkpoint import load
from stream_core.evaluate import stream_frames
from stream_core.partition import Partition
from stream_core.timeline import PromptTimeline


@pytest.mark.parametrize("path, partition, guidance", [(SHIPPED_MODEL, Partition(0, 4, 2, 2), 3.0),
                                                      (SHIPPED_STUDENT, Partition(0, 4, 2, 1), 1.0)],
                         ids=["teacher", "student"])
@pytest.mark.parametrize("colour", ["red", "blue", "green"])
def test_shipped_model_streams_the_prompted_colour(colour, path, partition, guidance):
    model = load(path)
    assert model.config.prediction == "x" and model.config.height == 64
    with torch.no_grad():
        frames = stream_frames(model, partition, PromptTimeline(((0, f"a {colour} circle moving right"),)),
                               frames=8, seed=0, guidance=guidance)
    seen = [look(f).colour for f in frames]
    assert seen.count(colour) >= 6, seen
