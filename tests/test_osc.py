"""OSC control (python-osc): a VJ tool's messages switch a running stream's prompt, set its
input's strength and stop it, refused where the HTTP routes refuse, in a real ComfyUI server
listening where $STREAMDIT_OSC_PORT says; each message is answered to its sender."""
import copy
import os
import socket

import pytest

from comfy_server import ComfyServer, free_port
from conftest import load_workflow, poll

pytest.importorskip("pythonosc", reason="python-osc is not installed (pip install python-osc): OSC control is off")
from pythonosc.osc_message import OscMessage  # noqa: E402
from pythonosc.osc_message_builder import OscMessageBuilder  # noqa: E402

STREAM = "3"


def message(address: str, *args) -> bytes:
    built = OscMessageBuilder(address)
    for arg in args:
        built.add_arg(arg)
    return built.build().dgram


@pytest.fixture(scope="module")
def osc_server(tmp_path_factory, comfy):
    """(ComfyUI server, a UDP socket of a VJ tool connected to its OSC port)."""
    port = free_port()   # a free TCP port number; UDP's is free too here (loopback, nothing else binds it)
    os.environ["STREAMDIT_OSC_PORT"] = str(port)
    try:
        server = ComfyServer(str(tmp_path_factory.mktemp("osc"))).start()
    finally:
        del os.environ["STREAMDIT_OSC_PORT"]
    tool = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tool.settimeout(10)
    tool.connect(("127.0.0.1", port))
    yield server, tool
    tool.close()
    server.stop()


def ask(tool, address: str, *args) -> tuple[str, list]:
    tool.send(message(address, *args))
    reply = OscMessage(tool.recv(65536))
    return reply.address, list(reply.params)


def test_osc_switches_the_prompt_and_stops_a_running_stream(osc_server):
    server, tool = osc_server
    prompt = copy.deepcopy(load_workflow("streamdit_continue_stream"))
    prompt[STREAM]["inputs"].update(stream_id="vj", frames=0, action="restart", record=False, realtime=True)
    status, queued = server.queue(prompt)
    assert status == 200, queued
    poll(lambda: (r := server.get("/streamdit/streams").get("vj")) and r["running"] and r["frames"] > 4,
         timeout=120, what="the stream to run")
    assert ask(tool, "/streamdit/prompt", "vj", "a blue square moving up") == ("/streamdit/ok", ["/streamdit/prompt", "vj"])
    poll(lambda: server.get("/streamdit/streams")["vj"]["timeline"][-1][1] == "a blue square moving up",
         what="the new prompt in the stream's timeline")
    # refused as the routes refuse: a bad prompt, an unknown stream, a strength without an input
    address, args = ask(tool, "/streamdit/prompt", "vj", "two\nlines")
    assert address == "/streamdit/error" and args[1] == 400 and "one line" in args[2]
    assert ask(tool, "/streamdit/stop", "nobody")[1][1] == 404
    address, args = ask(tool, "/streamdit/strength", "vj", 0.3)
    assert address == "/streamdit/error" and args[1] == 409 and "no video input or camera" in args[2]
    assert ask(tool, "/streamdit/strength", "vj", 1.5)[1][1] == 400
    assert ask(tool, "/streamdit/prompt", "vj")[1][1:] == [400, "/streamdit/prompt takes <stream id> <str>"]
    assert ask(tool, "/streamdit/dance", "vj")[1][1] == 404
    assert ask(tool, "/streamdit/stop", "vj") == ("/streamdit/ok", ["/streamdit/stop", "vj"])
    entry = server.wait(queued["prompt_id"], timeout=120)
    assert entry["status"]["status_str"] == "success" and not server.get("/streamdit/streams")["vj"]["running"]


def test_strength_reaches_the_streams_input(pack):
    """/streamdit/strength sets the input's strength at the next step (in-process: a session with
    a video input)."""
    import torch
    from stream_core.engine.frame_input import VideoInput
    from stream_core.native.session import NativeStreamFactory
    from conftest import tiny_model
    from stream_core.engine.partition import Partition
    from stream_core.engine.timeline import PromptTimeline
    requests, registry = pack("nodes.live.requests"), pack("nodes.live.registry")
    factory = NativeStreamFactory(model=tiny_model(), model_key="tiny", schedule=PromptTimeline(((0, "a red circle"),)),
                                  seed=0, width=16, height=16, partition=Partition(0, 2, 1, 1), guidance=1.0,
                                  video=VideoInput(torch.rand(8, 16, 16, 3), 0.6))
    session = factory.create()
    factory.reconfigure(session)
    registry.STREAMS.put("strong", session)
    assert requests.set_strength("strong", 0.25) == {"queued": True, "strength": 0.25}
    assert session.stream.frame_input.strength == 0.6       # from the next step on
    session.apply_requests()
    assert session.stream.frame_input.strength == 0.25
