"""The live-session contract: a third kind of conditioning source is one class and one factory.

The stub below is such a kind: its frames are constant images whose value is the word count
of their prompt. It streams through the pack's own run path (as ComfyUI imported it) and is
steered through the pack's real HTTP routes, which know nothing of it.
"""
import asyncio
from dataclasses import dataclass

import pytest
import torch
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

SHAPE = (1, 2, 2)


def stub_kind(pack, accepts_text: bool):
    """(source class, factory class) of the stub kind, built on the pack's engine."""
    engine = {m: pack(f"stream_core.engine.{m}") for m in ("session", "stream", "decoded_stream", "partition")}

    class WordCountSource:
        """Each frame's data is the word count of its prompt; words with digits are unknown."""

        how_to_reprompt = "send any words"

        def __init__(self, timeline, takes_text: bool):
            self.accepts_text = takes_text
            self.follow(timeline)

        @property
        def timeline(self):
            return self._timeline

        def follow(self, timeline) -> None:
            self._timeline = timeline

        def switch(self, prompt: str, at_frame: int) -> None:
            self.follow(self.timeline.switched(prompt, at_frame))

        def unknown_words(self, *prompts: str) -> list[str]:
            return [w for p in prompts or self.timeline.prompts for w in p.split() if not w.isalpha()]

        def output_frame(self, index: int) -> int:
            return index

        def __call__(self, x, tau, frame_index):
            counts = torch.tensor([float(len(p.split())) for p in self.timeline.prompts], dtype=x.dtype)
            mu = (self.timeline.weights(frame_index).to(x.dtype) @ counts).reshape(1, -1, 1, 1, 1)
            return (mu - x) / (1 - tau.to(x)).clamp(min=1e-6).reshape(1, -1, 1, 1, 1)   # lands on mu exactly

    @dataclass(frozen=True)
    class WordCountFactory:
        schedule: object
        seed: int = 0
        notes: tuple = ()

        @property
        def key(self) -> tuple:
            return ("word-count", self.seed)

        def create(self):
            source = WordCountSource(self.schedule, accepts_text)
            stream = engine["stream"].Stream(source, engine["partition"].Partition(K=0, N=2, c=2, s=1), SHAPE,
                                             seed=self.seed, dtype=torch.float64)
            frames = engine["decoded_stream"].DecodedStream(
                stream, lambda latents: latents.mean((1, 2, 3))[:, None, None, None].expand(-1, 2, 2, 3))
            return engine["session"].Session(frames, source, self.key, self.schedule)

        def reconfigure(self, session) -> None:
            session.follow(self.schedule)

    return WordCountSource, WordCountFactory


async def post(routes_module, path: str, body: dict):
    routes = web.RouteTableDef()
    routes_module.register_routes(routes)
    app = web.Application()
    app.add_routes(routes)
    async with TestClient(TestServer(app)) as client:
        reply = await client.post(path, json=body)
        listing = await client.get("/streamdit/streams")
        return reply.status, await reply.json(), await listing.json()


def test_a_stub_kind_streams_and_is_reprompted_through_the_real_routes(comfy, pack):
    _, factory_cls = stub_kind(pack, accepts_text=True)
    run_stream = pack("nodes.run.queued_run").run_stream
    timeline = pack("stream_core.engine.timeline").PromptTimeline(((0, "one two"),))
    factory = factory_cls(timeline)
    first = run_stream(factory, "stub", "restart", 6, None)
    assert first.images.shape == (6, 2, 2, 3) and bool((first.images == 2.0).all())

    status, reply, listing = asyncio.run(post(pack("nodes.live.routes"), "/streamdit/prompt",
                                              {"stream_id": "stub", "prompt": "one two three x9"}))
    assert status == 202 and reply["unknown_words"] == ["x9"], reply
    assert listing["stub"]["prompt"] == "one two" and listing["stub"]["accepts_text"] is True
    assert listing["stub"]["partition"] == {"K": 0, "N": 2, "c": 2, "s": 1} and len(listing["stub"]["tau"]) == 2

    more = run_stream(factory, "stub", "continue", 4, None)   # the switch takes over from the next frame on
    assert more.first_index == 6 and bool((more.images == 4.0).all()), more.images[:, 0, 0, 0]
    status, _, listing = asyncio.run(post(pack("nodes.live.routes"), "/streamdit/stop", {"stream_id": "stub"}))
    assert status == 409 and listing["stub"]["prompt"] == "one two three x9"
    # the node's schedule, edited, replaces the live switch
    edited = run_stream(factory_cls(timeline.switched("a b c d e", 12)), "stub", "continue", 4, None)
    assert edited.images[:, 0, 0, 0].tolist() == [2.0, 2.0, 5.0, 5.0]


def test_a_stub_kind_without_text_is_refused_with_its_own_reason(comfy, pack):
    _, factory_cls = stub_kind(pack, accepts_text=False)
    timeline = pack("stream_core.engine.timeline").PromptTimeline(((0, "one"),))
    pack("nodes.run.queued_run").run_stream(factory_cls(timeline), "stub-no-text", "restart", 2, None)
    status, reply, listing = asyncio.run(post(pack("nodes.live.routes"), "/streamdit/prompt",
                                              {"stream_id": "stub-no-text", "prompt": "two words"}))
    assert status == 409 and reply["error"] == "send any words"
    assert listing["stub-no-text"]["accepts_text"] is False


@pytest.mark.parametrize("kind", ["native", "wan"])
def test_every_shipped_kind_implements_the_whole_contract(pack, kind):
    """The members of ``ConditioningSource`` exist on each shipped source class."""
    session = pack("stream_core.engine.session")
    contract = session.ConditioningSource
    members = [m for m in vars(contract) if not m.startswith("_")] + list(contract.__annotations__) + ["__call__"]
    native, wan = pack("stream_core.native.conditioning"), pack("nodes.wan.source")
    cls = native.TextVelocity if kind == "native" else wan.WanVelocity
    missing = [m for m in members if not hasattr(cls, m) and m not in getattr(cls, "__annotations__", {})]
    assert not missing and set(members) >= {"accepts_text", "how_to_reprompt", "timeline", "follow", "switch",
                                            "unknown_words", "output_frame"}, missing


def test_a_status_request_during_a_model_call_does_not_wait_for_it(comfy, pack):
    """While a stream's model call is under way (here: blocked until released), the list of
    streams and the stream's report answer at once: nothing on the server's event loop reads
    the device or waits on the stream's thread."""
    import threading
    source_cls, factory_cls = stub_kind(pack, accepts_text=True)
    inside, release = threading.Event(), threading.Event()

    class Blocking(source_cls):
        def __call__(self, x, tau, frame_index):
            if not release.is_set():
                inside.set()
                assert release.wait(120), "the test never released the model"
            return super().__call__(x, tau, frame_index)

    class BlockingFactory(factory_cls):
        def create(self):
            session = super().create()
            blocking = Blocking(self.schedule, True)
            session.source = session.stream.velocity = blocking
            return session

    timeline = pack("stream_core.engine.timeline").PromptTimeline(((0, "one two"),))
    run = threading.Thread(target=pack("nodes.run.queued_run").run_stream,
                           args=(BlockingFactory(timeline), "blocked", "restart", 4, None))
    run.start()
    try:
        assert inside.wait(60), "the model was never called"

        async def ask():
            routes = web.RouteTableDef()
            pack("nodes.live.routes").register_routes(routes)
            app = web.Application()
            app.add_routes(routes)
            async with TestClient(TestServer(app)) as client:
                return await asyncio.wait_for((await client.get("/streamdit/streams")).json(), 60)

        listing = asyncio.run(ask())
        assert not release.is_set() and listing["blocked"]["running"] is True
        assert listing["blocked"]["tau"] and listing["blocked"]["prompt"] == "one two"
    finally:
        release.set()
        run.join(60)
    assert not run.is_alive()
