import threading

import pytest
import torch

from stream_core.engine.decode_ahead import DecodeAhead
from stream_core.engine.decoded_stream import DecodedStream, no_images
from stream_core.engine.partition import Partition
from stream_core.engine.stream import Stream
from analytic import means, point_mass_velocity

SHAPE = (2, 4, 4)


class CountingDecoder:
    """A stateful decoder like a causal video VAE: the first latent gives 1 image, every
    later one 4, and each image carries a running count, so a latent decoded twice, out
    of order or skipped shows."""

    def __init__(self):
        self.seen = []

    def __call__(self, latents):
        images = []
        for latent in latents:
            n = 1 if not self.seen else 4
            self.seen.append(float(latent[0, 0, 0]))
            images += [torch.full((3, 3, 3), float(len(self.seen)))] * n
        return torch.stack(images)


def decoded(seed=3):
    stream = Stream(point_mass_velocity(means), Partition(K=0, N=3, c=2, s=2), SHAPE, seed=seed,
                    dtype=torch.float64)
    return DecodedStream(stream, CountingDecoder())


def test_take_counts_images_and_every_latent_is_decoded_once_in_order():
    whole = decoded().take(29)
    assert whole.shape == (29, 3, 3, 3)
    split = decoded()
    parts = torch.cat([split.take(1), split.take(0), split.take(6), split.take(22)])
    torch.testing.assert_close(parts, whole, rtol=0, atol=0)
    assert split.frames_taken == 29 and split.images_out == split.frames_taken + split.ready
    torch.testing.assert_close(torch.tensor(split.decode.seen, dtype=torch.float64), means(torch.arange(len(split.decode.seen))).double())
    assert whole[:, 0, 0, 0].tolist() == [1] + [n for n in range(2, 9) for _ in range(4)]


def test_an_interrupted_take_loses_no_images():
    whole = decoded().take(21)
    stream = decoded()
    calls = []

    def interrupt(ready, images):
        calls.append((ready, len(images)))
        if ready >= 9:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stream.take(21, progress=interrupt)
    assert [n for _, n in calls] and all(n in (0, 1 + 4, 8) for _, n in calls)
    torch.testing.assert_close(torch.cat([stream.take(10), stream.take(11)]), whole, rtol=0, atol=0)


def test_deliver_hands_out_every_image_once_in_pieces_and_keeps_the_overflow():
    whole = decoded().take(29)
    stream = decoded()
    pieces = []
    stream.deliver(7, pieces.append)                         # a micro-step decodes 1+4, then 8: 1 image waits
    assert [len(p) for p in pieces] == [0, 5, 0, 2] and stream.ready == 6
    stream.deliver(22, pieces.append)                        # the waiting images come first
    assert sum(len(p) for p in pieces) == 29 and stream.frames_taken == 29
    torch.testing.assert_close(torch.cat([p for p in pieces if len(p)]), whole, rtol=0, atol=0)


def test_a_sink_that_raises_keeps_what_it_was_handed_as_taken():
    stream = decoded()
    got = []

    def stop_after_five(images):
        got.append(images)
        if sum(len(p) for p in got) >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stream.deliver(20, stop_after_five)
    assert stream.frames_taken == 5 and stream.ready == 0    # nothing decoded waits to come back later
    torch.testing.assert_close(torch.cat([*(p for p in got if len(p)), stream.take(4)]), decoded().take(9), rtol=0,
                               atol=0)


def decoded_ahead(seed=3):
    """``decoded`` with its decoder run one step behind on a worker thread (``DecodeAhead``)."""
    plain = decoded(seed)
    ahead = DecodeAhead(lambda latents: (plain.decode(latents),))

    def decode(latents):
        done = ahead(latents)
        return no_images() if done is None else done[0]
    return DecodedStream(plain.stream, decode), plain.decode, ahead


def test_decoding_ahead_gives_the_same_images_one_step_later():
    whole = decoded().take(29)
    stream, counting, ahead = decoded_ahead()
    parts = torch.cat([stream.take(1), stream.take(6), stream.take(22)])
    torch.testing.assert_close(parts, whole, rtol=0, atol=0)
    ahead.close()   # waits for the last step's latents (c = 2), decoded ahead: their images are not out yet
    latents = stream.stream.frames_out
    assert len(counting.seen) == latents and stream.images_out == 1 + 4 * (latents - 2 - 1)
    assert ahead.nbytes == 0


def test_decoding_ahead_runs_in_the_callers_inference_mode_and_hands_back_its_errors():
    modes = []

    def decode(latents):
        modes.append((torch.is_inference_mode_enabled(), threading.current_thread() is threading.main_thread()))
        if len(modes) == 3:
            raise ValueError("the decoder failed")
        return (latents * 2,)

    ahead = DecodeAhead(decode)
    with torch.inference_mode():
        assert ahead(torch.ones(1)) is None
        torch.testing.assert_close(ahead(torch.full((1,), 3.0))[0], torch.full((1,), 2.0))
        done = ahead(torch.ones(1))[0]
        assert done.is_inference() and float(done) == 6.0
    with pytest.raises(ValueError, match="the decoder failed"):
        ahead(torch.ones(1))
    ahead.close()   # waits for the fourth decode, started outside inference mode
    assert modes == [(True, False)] * 3 + [(False, False)]
