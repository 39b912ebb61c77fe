"""Live input (the panel's camera) in the engine: frames arrive at their own rate from another
thread, the stream takes the newest at its own, and the camera turns on and off between
steps without a reset."""
import threading
import time

import pytest
import torch

from analytic import point_mass_velocity
from stream_core.engine.decoded_stream import DecodedStream
from stream_core.engine.frame_input import LatentClip, VideoInput, play
from stream_core.engine.live_input import QUEUE_FRAMES, LiveFrames
from stream_core.engine.partition import Partition
from stream_core.engine.session import Session
from stream_core.engine.stream import Stream
from stream_core.engine.timeline import PromptTimeline

SHAPE = (3, 2, 2)          # latent (C, H, W); an "image" here is [H, W, C] of the same numbers
P = Partition(K=0, N=4, c=2, s=1)
TARGET = 5.0


def encode(images: torch.Tensor) -> torch.Tensor:
    """images [F, H, W, 3] -> latents [1, F, 3, H, W]: the identity up to layout."""
    return images.permute(0, 3, 1, 2)[None]


def image(value: float) -> torch.Tensor:
    return torch.full((2, 2, 3), float(value))


def values(latents: torch.Tensor) -> list[float]:
    return [round(float(v), 4) for v in latents[0].flatten(1).mean(1)]


def test_a_chunk_takes_the_newest_frames_in_order_and_holds_the_last_when_none_came():
    live = LiveFrames(encode, 0.5)
    assert live.latents(0, 2) is None                         # nothing yet: text-to-video
    for v in range(1, 6):
        live.push(image(v), 0.5, stamp=100 + v)
    assert values(live.latents(0, 2)) == [4.0, 5.0]           # the newest two, oldest first
    assert values(live.latents(2, 2)) == [5.0, 5.0]           # none came: the newest is held
    live.push(image(6), 0.5)
    assert values(live.latents(4, 2)) == [6.0, 6.0]
    assert (live.received, live.used, live.dropped, live.repeated) == (6, 3, 3, 3)
    assert live.left(0) == 104 and live.left(1) == 105 and live.left(3) == 105 and live.left(99) is None
    assert live.latency is not None and live.latency >= 0


def test_the_queue_is_bounded_and_strength_is_checked():
    live = LiveFrames(encode, 0.5)
    for v in range(100):
        live.push(image(v), 0.25)
    assert live.strength == 0.25 and live.dropped == 100 - QUEUE_FRAMES
    assert values(live.latents(0, 2)) == [98.0, 99.0]
    for bad in (1.5, -0.1, float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="strength"):
            live.push(image(0), bad)


def test_a_stream_fed_from_another_thread_shows_the_newest_inputs_in_order():
    stream = Stream(point_mass_velocity(lambda i: torch.full(i.shape, TARGET)), P, SHAPE)
    live = stream.frame_input = LiveFrames(encode, 0.0)   # strength 0: the output is the input itself
    pushed, stop, fresh = [], threading.Event(), threading.Semaphore(0)

    def camera():
        v = 1
        while not stop.is_set():
            live.push(image(v), 0.0)
            pushed.append(v)
            fresh.release()
            v += 1
            time.sleep(0.002)

    live.push(image(0), 0.0)
    thread = threading.Thread(target=camera)
    thread.start()
    try:
        out = []
        for _ in range(20):   # paced, as a live stream is: a new camera frame before each chunk, however busy the machine
            assert fresh.acquire(timeout=60), "the camera thread pushed nothing"
            out += values(stream.take(2))
    finally:
        stop.set()
        thread.join()
    assert set(out) <= {0.0, *map(float, pushed)}                    # every frame is an input frame ...
    assert all(a <= b for a, b in zip(out, out[1:]))                 # ... in the order they came
    assert len(set(out)) > 2                                         # it followed the moving camera
    assert live.used + live.repeated == stream.next_entry(0.0)           # one input per frame that reached its level


def session(encoder=encode) -> Session:
    class Constant:
        """A prompt-less source: every frame's data is TARGET."""
        accepts_text, how_to_reprompt = False, "it has no prompt"
        timeline = PromptTimeline(((0, "anything"),))
        __call__ = staticmethod(point_mass_velocity(lambda i: torch.full(i.shape, TARGET)))

        def output_frame(self, index):
            return index

    source = Constant()
    stream = Stream(source, P, SHAPE)
    return Session(DecodedStream(stream, lambda latents: latents.permute(0, 2, 3, 1)), source, ("key",), None,
                   camera_encoder=None if encoder is None else lambda: encoder)


def test_the_camera_turns_on_and_off_between_steps_without_a_reset():
    s = session()
    assert s.report()["video_input"] and s.report()["camera"] is None
    s.frames.take(4)
    s.feed(image(1.0), 0.0, stamp=7)
    assert s.stream.frame_input is None                             # not inside a step: at the next
    s.apply_requests()
    assert s.stream.frame_input is s.camera and s.report()["camera"]["received"] == 1
    out = s.frames.take(12)
    assert torch.allclose(out[-4:], torch.ones(4, 2, 2, 3))         # the camera frame came through
    play(s.stream, None, encode)                                    # a run without a video input ...
    assert s.stream.frame_input is s.camera                         # ... leaves the camera on
    s.request_camera_off()
    s.apply_requests()
    assert s.stream.frame_input is None and s.report()["camera"] is None
    first = s.frames.frames_taken
    again = s.frames.take(12)
    assert s.frames.frames_taken == first + 12                      # the stream went on, no reset
    assert torch.allclose(again[-4:], torch.full((4, 2, 2, 3), TARGET), atol=1e-5)   # the prompt's frames again


def test_turning_the_camera_off_leaves_a_node_video_alone_and_a_model_without_encoder_refuses_it():
    s = session()
    play(s.stream, VideoInput(torch.rand(3, 2, 2, 3), 0.5), encode)
    clip = s.stream.frame_input
    assert isinstance(clip, LatentClip)
    s.request_camera_off()
    s.apply_requests()
    assert s.stream.frame_input is clip
    with pytest.raises(ValueError, match="no video input"):
        session(encoder=None).feed(image(0), 0.5)


def test_camera_bytes_wait_as_bytes_and_reach_the_encoder_as_floats():
    live = LiveFrames(encode, 0.5)
    live.push(torch.full((2, 2, 3), 51, dtype=torch.uint8), 0.5)
    assert live.nbytes == 12                                  # a byte a pixel channel while waiting
    assert values(live.latents(0, 1)) == [0.2]
