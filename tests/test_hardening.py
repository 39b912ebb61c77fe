"""A battery of bad inputs against a real ComfyUI server: every node input and every route.

Each case asserts the answer names what is wrong (HTTP 4xx before the prompt runs, or an
execution error before any stream is touched), and then that the stream it aimed at goes
on unharmed: a good run of it gives the same frames as a run of its twin, which never saw
a bad input.
"""
import copy
import io
import json
import os
import struct
import time

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from comfy_server import ComfyServer
from raw_websocket import receive, send_text, websocket
from conftest import ROOT, load_workflow
from tiny_wan import wan_stream_prompt, write_tiny_wan

CONDITIONING_NODE = os.path.join(ROOT, "tests", "fixtures", "streamdit_test_conditioning")
LOADER, SCHEDULE, STREAM, FRAMES = "1", "2", "3", "4"


@pytest.fixture(scope="module")
def server(tmp_path_factory, comfy):
    base = str(tmp_path_factory.mktemp("hardening"))
    write_tiny_wan(base)
    with ComfyServer(base, extra_nodes=(CONDITIONING_NODE,)) as s:
        yield s


def native(stream_id: str, frames: int = 4) -> dict:
    """The shipped continue workflow (the teacher, K=2 N=3 c=2 s=2, guided) without Save Video."""
    prompt = copy.deepcopy(load_workflow("streamdit_continue_stream"))
    del prompt["5"]
    prompt[STREAM]["inputs"].update(stream_id=stream_id, frames=frames)
    return prompt


def wan(stream_id: str, frames: int = 5) -> dict:
    """The tiny Wan stream (guided), a conditioning schedule node to link, and a frame output."""
    return {**wan_stream_prompt(stream_id, frames, guidance=2.0),
            "6": {"class_type": "StreamDiTConditioningSchedule", "inputs": {"conditioning": ["3", 0], "frame": 9,
                                                                              "label": "later", "transition": 0}},
            "7": {"class_type": "StreamDiTFrameOutput", "inputs": {"frames": ["5", 0], "fps": 0.0}}}


def frames_of(server, entry, node: str) -> np.ndarray:
    (item,) = entry["outputs"][node]["images"]
    with Image.open(server.output_path(item)) as animation:
        return np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(animation)])


def answer(server, make, victim: str = "victim", twin: str = "twin") -> str:
    """What the server says of the bad prompt ``make(victim)``: its validation errors (HTTP 400)
    or its execution error; fails the test if the prompt succeeds. The stream node is an output
    node, so when only another output node is bad ComfyUI runs the rest (HTTP 200 with node
    errors): then ``make(twin)`` runs too, and the two streams stay in step; unless the bad node takes
    the stream's frames, when the stream node refuses to advance for the failed prompt."""
    status, reply = server.queue(make(victim))
    if status == 400:
        return json.dumps(reply)
    assert status == 200, reply
    entry = server.wait(reply["prompt_id"], timeout=120)
    if reply.get("node_errors"):
        if entry["status"]["status_str"] == "success":   # the bad node takes nothing from the stream: it ran on
            assert server.run(make(twin))["status"]["status_str"] == "success"
        else:                                            # it takes the stream's frames: the stream stayed where it was
            assert "the stream does not advance for a prompt that failed" in json.dumps(entry["status"]["messages"])
        return json.dumps(reply["node_errors"])
    assert entry["status"]["status_str"] == "error", "the bad input was accepted"
    return json.dumps([m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"])


def names_it(said: str, name: str, value, message: str) -> bool:
    """Whether the answer names what is wrong: the pack's own message, or, where ComfyUI checks a
    combo before the pack does (newer ComfyUI validates V3 combos itself), ComfyUI's own, which
    names the input, the value and the options ("Value not in list: action: 'bogus' not in [...]")."""
    return message in said or ("value_not_in_list" in said and f"{name}: {value!r} not in [" in said)


def in_lockstep(server, make, frames_node: str) -> None:
    """A good continue run of the victim stream gives the frames of its twin's."""
    victim = server.run(make("victim"))
    twin = server.run(make("twin"))
    assert victim["status"]["status_str"] == twin["status"]["status_str"] == "success", victim["status"]
    np.testing.assert_array_equal(frames_of(server, victim, frames_node), frames_of(server, twin, frames_node))


def set_input(prompt: dict, node: str, name: str | None, value) -> dict:
    """``prompt`` with input ``name`` of ``node`` set to ``value`` (deleted for DELETE; with
    ``name`` None, ``value`` is a dict of several inputs)."""
    if name is None:
        prompt[node]["inputs"].update(value)
    elif value is DELETE:
        del prompt[node]["inputs"][name]
    else:
        prompt[node]["inputs"][name] = value
    return prompt


DELETE = object()
NAN, INF = float("nan"), float("inf")

NATIVE_CASES = [   # (node, input, bad value, what the answer must say)
    (STREAM, "stream_id", "s" * 1001, "a stream id has 1 to 64 characters, got 1001"),
    # markup in an id would reach pages as HTML (frontend 1.32 renders a node's progress text so)
    (STREAM, "stream_id", "<img src=x onerror=alert(1)>", "a stream id has letters, digits, spaces and - _ . : only"),
    (STREAM, "stream_id", "\ud800x", "(U+D800)"),   # a lone surrogate failed later runs
    (STREAM, "action", "bogus", "'action' = 'bogus' is not allowed: it must be one of 'continue', 'restart'"),
    (STREAM, "action", 5, "'action' = 5 is not allowed"),
    (STREAM, "action", "", "'action' = '' is not allowed"),
    (STREAM, "seed", -1, "Value -1 smaller than min of 0"),
    (STREAM, "seed", 2**64, "bigger than max"),
    (STREAM, "seed", "abc", "Failed to convert an input value to a INT value"),
    (STREAM, "width", 60, "width and height must be multiples of 16"),
    (STREAM, "width", 0, "Value 0 smaller than min of 16"),
    (STREAM, "width", 10**6, "bigger than max"),
    (STREAM, "width", 4096, "tokens; this model takes at most 4096"),
    (STREAM, "width", "wide", "Failed to convert"),
    (STREAM, "height", 4096, "tokens; this model takes at most 4096"),
    (STREAM, "height", -16, "smaller than min"),
    (STREAM, "height", 70, "multiples of 16"),
    (STREAM, "K", -1, "K (reference frames) must be >= 0"),
    (STREAM, "K", 65, "K = 65: it must be from 0 to 64"),
    (STREAM, "N", 0, "N (chunks) must be >= 1"),
    (STREAM, "N", 65, "N = 65: it must be from 1 to 64"),
    (STREAM, "c", 0, "c (frames per chunk) must be >= 1"),
    (STREAM, "c", 1_500_000_000, "c = 1500000000: it must be from 1 to 64"),
    (STREAM, "s", 0, "s (micro-steps per chunk) must be >= 1"),
    (STREAM, "s", 65, "s = 65: it must be from 1 to 64"),
    (STREAM, None, {"N": 64, "c": 64}, "4098 frames of 64x64 is 65568 tokens; this model takes at most 4096"),
    (STREAM, None, {"width": 512, "height": 512}, "8 frames of 512x512 is 8192 tokens; this model takes at most 4096"),
    (STREAM, "guidance", NAN, "'guidance' = nan is not allowed: a finite number is needed"),
    (STREAM, "guidance", INF, "Value inf bigger than max of 30.0"),
    (STREAM, "guidance", -1.0, "smaller than min"),
    (STREAM, "guidance", 31.0, "bigger than max"),
    (STREAM, "guidance", "lots", "Failed to convert"),
    (STREAM, "guidance_until", NAN, "'guidance_until' = nan is not allowed"),
    (STREAM, "guidance_until", 2.0, "bigger than max"),
    (STREAM, "guidance_until", -0.5, "smaller than min"),
    (STREAM, "frames", -1, "Value -1 smaller than min of 0"),   # 0: until stopped
    (STREAM, "frames", 100001, "bigger than max"),
    (STREAM, "frames", -5, "smaller than min"),
    (STREAM, "fps", NAN, "'fps' = nan is not allowed"),
    (STREAM, "fps", 0.0, "smaller than min"),
    (STREAM, "fps", 1000.0, "bigger than max"),
    (STREAM, "model", DELETE, "Required input is missing"),
    (STREAM, "schedule", ["1", 0], "Return type mismatch"),
    (LOADER, "model_name", "no-such-model.safetensors", "StreamDiT model 'no-such-model.safetensors' not found"),
    (LOADER, "model_name", "../../../../etc/passwd", "not found"),
    (LOADER, "model_name", None, "'model_name' = None is not allowed"),
    (LOADER, "model_name", 5, "model_name must be a file name"),
    (LOADER, "model_name", "x" * 5000, "not found"),
    (LOADER, "device", "tpu", "'device' = 'tpu' is not allowed: it must be one of 'auto', 'cpu', 'cuda'"),
    (LOADER, "device", None, "'device' = None is not allowed"),
    (LOADER, "dtype", "float64", "'dtype' = 'float64' is not allowed"),
    (LOADER, "dtype", 16, "'dtype' = 16 is not allowed"),
    (SCHEDULE, "schedule", "", "the schedule is empty"),
    (SCHEDULE, "schedule", "nonsense", "line 1: expected 'frame: prompt'"),
    (SCHEDULE, "schedule", "0: a\n0: b", "line 2: frame 0 already has a prompt"),
    (SCHEDULE, "schedule", "-3: a", "frame must be >= 0"),
    (SCHEDULE, "schedule", "99999999999: a", "frame must be >= 0 and <= 1000000000"),
    (SCHEDULE, "schedule", "999999999999999999999: a", "frame must be >= 0 and <= 1000000000, got a number of 21 digits"),
    (SCHEDULE, "schedule", "0: " + "x" * 1001, "prompt longer than 1000"),
    (SCHEDULE, "schedule", "\n".join(f"{i}: a red circle" for i in range(105_000)), "at most 100000 are allowed"),
    (SCHEDULE, "schedule", "\n".join(f"{i}: a" for i in range(1001)), "at most 1000 entries"),
    (SCHEDULE, "schedule", "0:\n", "the prompt after '0:' is empty"),
    (SCHEDULE, "schedule", "# only a comment", "the schedule is empty"),
    (SCHEDULE, "transition", -1, "smaller than min"),
    (SCHEDULE, "transition", 10**9, "bigger than max"),
    (FRAMES, "fps", NAN, "fps = nan: a finite number is needed"),
    (FRAMES, "fps", -1.0, "fps = -1.0: it must be from 0.0 to 240.0"),
    (FRAMES, "fps", 1e9, "it must be from 0.0 to 240.0"),
    (FRAMES, "frames", DELETE, "Required input is missing"),
]


@pytest.fixture(scope="module")
def started(server):
    """The victim and its twin, streamed once."""
    in_lockstep(server, native, FRAMES)


@pytest.mark.parametrize("node, name, value, message", NATIVE_CASES,
                         ids=[f"{n}-{name}-{str(v)[:20]}" for n, name, v, _ in NATIVE_CASES])
def test_a_bad_native_input_is_named_and_the_stream_goes_on(server, started, node, name, value, message):
    said = answer(server, lambda stream_id: set_input(native(stream_id), node, name, value))
    assert names_it(said, name, value, message), said
    in_lockstep(server, native, FRAMES)


WAN_STREAM, WAN_SCHEDULE, WAN_FRAMES = "5", "6", "7"
WAN_CASES = [
    (WAN_STREAM, "scheduler", "bogus", "'scheduler' = 'bogus' is not allowed"),
    (WAN_STREAM, "action", "again", "'action' = 'again' is not allowed"),
    (WAN_STREAM, "guidance", NAN, "'guidance' = nan is not allowed"),
    (WAN_STREAM, "boundary", 2.0, "bigger than max"),
    (WAN_STREAM, "boundary", NAN, "'boundary' = nan is not allowed"),
    (WAN_STREAM, "width", 40, "multiples of 16"),
    (WAN_STREAM, "N", 0, "N (chunks) must be >= 1"),
    (WAN_STREAM, "fps", NAN, "'fps' = nan is not allowed"),
    (WAN_STREAM, "model", ["3", 0], "Return type mismatch"),
    (WAN_STREAM, "schedule", ["6", 0], None),          # a good input among the bad: it must run
    (WAN_SCHEDULE, "frame", -1, "smaller than min"),
    (WAN_SCHEDULE, "label", "x" * 2000, "at most 1000 characters"),
    (WAN_SCHEDULE, "transition", -2, "smaller than min"),
]


@pytest.mark.parametrize("node, name, value, message", WAN_CASES,
                         ids=[f"{n}-{name}-{str(v)[:20]}" for n, name, v, _ in WAN_CASES])
def test_a_bad_wan_input_is_named_and_the_stream_goes_on(server, node, name, value, message):
    def make(stream_id):
        prompt = set_input(wan(stream_id), node, name, value)
        if node == WAN_SCHEDULE:
            prompt[WAN_STREAM]["inputs"]["schedule"] = [WAN_SCHEDULE, 0]
        return prompt

    if message is None:
        for stream_id in ("victim-wan", "twin-wan"):
            assert server.run(make(stream_id))["status"]["status_str"] == "success"
    else:
        said = answer(server, make, "victim-wan", "twin-wan")
        assert names_it(said, name, value, message), said
    in_lockstep(server, lambda stream_id: wan(stream_id + "-wan"), WAN_FRAMES)


ROUTE_CASES = [   # (path, body bytes, content type, status, message)
    ("/streamdit/prompt", b'{"stream_id": "victim", "prompt": "a red circle"}', "text/plain", 415, "send JSON"),
    ("/streamdit/prompt", b"stream_id=victim&prompt=x", "application/x-www-form-urlencoded", 415, "send JSON"),
    ("/streamdit/prompt", b'{"stream_id": "victim", "prompt": "x"}', "", 415, "send JSON"),
    ("/streamdit/prompt", b"{not json", "application/json", 400, "not valid JSON"),
    ("/streamdit/prompt", b"[" * 100_00 + b"]" * 100_00, "application/json", 413, "larger than 16384 bytes"),
    ("/streamdit/prompt", b"[" * 5000 + b"]" * 5000, "application/json", 400, "nested too deeply"),
    ("/streamdit/prompt", b"[1, 2]", "application/json", 400, "must be a JSON object"),
    ("/streamdit/prompt", b'"text"', "application/json", 400, "must be a JSON object"),
    ("/streamdit/prompt", b"null", "application/json", 400, "must be a JSON object"),
    ("/streamdit/prompt", b"{}", "application/json", 400, "'stream_id' (a string) is required"),
    ("/streamdit/prompt", b'{"stream_id": "victim"}', "application/json", 400, "'prompt' (a string) is required"),
    ("/streamdit/prompt", b'{"stream_id": 7, "prompt": "x"}', "application/json", 400, "'stream_id' (a string)"),
    ("/streamdit/prompt", b'{"stream_id": "victim", "prompt": ["x"]}', "application/json", 400, "'prompt' (a string)"),
    ("/streamdit/prompt", b'{"stream_id": "victim", "prompt": "   "}', "application/json", 400, "the prompt is empty"),
    ("/streamdit/prompt", b'{"stream_id": "victim", "prompt": "a red circle\\n16: a blue square moving left"}',
     "application/json", 400, "a prompt is one line: it has a line break (U+000A)"),
    ("/streamdit/prompt", b'{"stream_id": "victim", "prompt": "a red circle\\u2028a blue square"}',
     "application/json", 400, "a prompt is one line: it has a line break (U+2028)"),
    ("/streamdit/stop", b'{"stream_id": "<b>x</b>"}', "application/json", 400, "stream_id: a stream id has"),
    ("/streamdit/prompt", json.dumps({"stream_id": "victim", "prompt": "x" * 1001}).encode(), "application/json", 400,
     "longer than 1000 characters"),
    ("/streamdit/prompt", b'{"stream_id": "nobody", "prompt": "x"}', "application/json", 404, "no stream with id 'nobody'"),
    ("/streamdit/prompt", b"{" + b" " * 20000 + b"}", "application/json", 413, "larger than 16384 bytes"),
    ("/streamdit/prompt", b'{"stream_id": "victim", "prompt": NaN}', "application/json", 400, "'prompt' (a string)"),
    ("/streamdit/stop", b'{"stream_id": "victim"}', "text/plain", 415, "send JSON"),
    ("/streamdit/stop", b"{}", "application/json", 400, "'stream_id' (a string) is required"),
    ("/streamdit/stop", b'{"stream_id": null}', "application/json", 400, "'stream_id' (a string) is required"),
    ("/streamdit/stop", b'{"stream_id": "nobody"}', "application/json", 404, "no stream with id 'nobody'"),
    ("/streamdit/stop", b'{"stream_id": "victim"}', "application/json", 409, "is not running"),
    ("/streamdit/stop", b"{bad", "application/json", 400, "not valid JSON"),
    ("/streamdit/check", b'{"stream_id": "victim", "prompt": "x"}', "text/plain", 415, "send JSON"),
    ("/streamdit/check", b'{"stream_id": "victim"}', "application/json", 400, "'prompt' (a string) is required"),
    ("/streamdit/check", b'{"stream_id": "nobody", "prompt": "x"}', "application/json", 404, "no stream with id"),
    ("/streamdit/check", json.dumps({"stream_id": "victim", "prompt": "x" * 1001}).encode(), "application/json", 400,
     "longer than 1000 characters"),
]


@pytest.mark.parametrize("path, body, content_type, status, message", ROUTE_CASES,
                         ids=[f"{p[10:]}-{status}-{i}" for i, (p, _, _, status, _) in enumerate(ROUTE_CASES)])
def test_a_bad_request_gets_a_clear_4xx_and_the_stream_goes_on(server, started, path, body, content_type, status,
                                                               message):
    got, reply = raw_post(server, path, body, content_type)
    assert got == status and message in reply["error"], (got, reply)
    assert server.get("/system_stats")
    in_lockstep(server, native, FRAMES)


def test_a_body_unlike_its_encoding_and_a_get_of_a_post_route_are_answered_clearly(server, started):
    """A body sent with Content-Encoding: deflate that is not deflate got HTTP 500 ("Server got itself
    in trouble"); a GET of a route that takes a POST was a bare 404 with no body."""
    import urllib.error
    import urllib.request
    request = urllib.request.Request(server.url + "/streamdit/prompt", data=b'{"stream_id": "victim", "prompt": "x"}',
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "Content-Encoding": "deflate"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400 and "cannot be read (Content-Encoding: 'deflate')" in json.loads(
        refused.value.read())["error"]
    for path, fields in (("/streamdit/prompt", "stream_id"), ("/streamdit/stop", "stream_id"),
                         ("/streamdit/check", "prompt")):
        status, reply = server.request("GET", path)
        assert status == 405 and reply["error"].startswith("POST a JSON object") and fields in reply["error"], reply
    in_lockstep(server, native, FRAMES)


def test_stop_cancel_and_reprompt_at_random_moments_end_each_run_cleanly(server, started):
    """Stop, ComfyUI's Cancel and a live re-prompt sent at seeded random moments of real-time runs
    (before the first step, in start-up, between steps, at the end): every run ends as success, or
    as interrupted for a Cancel, never with an error; the stream goes on after. Bounded: 12 runs."""
    import random
    rng = random.Random(36)
    prompt = set_input(native("moments", frames=48), STREAM, None, {"realtime": True, "fps": 48.0})
    for turn in range(12):
        action, delay = rng.choice(["stop", "cancel", "prompt"]), rng.uniform(0.0, 1.2)
        status, reply = server.queue(prompt)
        assert status == 200, reply
        time.sleep(delay)
        if action == "stop":
            code, _ = server.request("POST", "/streamdit/stop", {"stream_id": "moments"})
            assert code in (202, 404, 409)          # started, not yet made, or already over
        elif action == "cancel":
            server.request("POST", "/interrupt", {})
        else:
            code, _ = server.request("POST", "/streamdit/prompt", {"stream_id": "moments", "prompt": "a blue square"})
            assert code in (202, 404)
        entry = server.wait(reply["prompt_id"], timeout=120)
        kinds = [message[0] for message in entry["status"]["messages"]]
        assert "execution_error" not in kinds, (turn, action, round(delay, 2), entry["status"])
        assert entry["status"]["status_str"] == "success" or "execution_interrupted" in kinds, (turn, action, kinds)
    assert server.run(native("moments"))["status"]["status_str"] == "success"
    in_lockstep(server, native, FRAMES)


def raw_post(server, path: str, body: bytes, content_type: str) -> tuple[int, dict]:
    import urllib.error
    import urllib.request
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(server.url + path, data=body, method="POST", headers=headers)
    if not content_type:
        request.remove_header("Content-type")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


SOCKET_CASES = [   # (what the viewer sends, what must follow)
    ("cross-site origin", "refused"),
    (b"{not json", "ignored"),
    (b"[1, 2]", "ignored"),
    (b'{"watch": "victim"}', "ignored"),
    (b'{"watch": [1, 2, null]}', "ignored"),
    (b'{"quality": "best", "max_fps": -5}', "ignored"),
    (b'{"quality": 1e308, "max_fps": NaN}', "ignored"),
    (json.dumps({"watch": [f"s{i}" for i in range(1500)]}).encode(), "ignored"),
    (b'{"watch": ["' + b"x" * 20_000 + b'"]}', "closed"),
]


@pytest.mark.parametrize("sent, then", SOCKET_CASES, ids=[str(s)[:24] for s, _ in SOCKET_CASES])
def test_a_bad_viewer_message_is_refused_or_ignored_and_the_stream_goes_on(server, started, sent, then):
    if then == "refused":
        status, sock = websocket(server, origin="http://evil.example")
        sock.close()
        assert status == 403
    else:
        status, sock = websocket(server)
        assert status == 101
        send_text(sock, b'{"list": true}')
        opcode, listing = receive(sock)                       # the list of streams, asked for
        assert opcode == 1 and json.loads(listing)["type"] == "streams"
        send_text(sock, sent)
        if then == "closed":                                  # too large a message: the server closes
            opcode, _ = receive(sock)
            assert opcode == 8
        else:                                                 # a bad request changes nothing ...
            send_text(sock, b'{"watch": ["victim"]}')         # ... and a good one still works
            opcode, status_message = receive(sock)
            assert opcode == 1 and json.loads(status_message)["stream_id"] == "victim"
        sock.close()
    in_lockstep(server, native, FRAMES)


def test_a_stream_does_not_advance_for_a_prompt_whose_frame_output_was_refused(server, started):
    """ComfyUI runs a prompt's valid output nodes when another fails its check; the stream node is
    one, and it would move its stream on for the user's failed run."""
    before = server.get("/streamdit/streams")["victim"]["frames"]
    status, reply = server.queue(set_input(native("victim"), FRAMES, "fps", -1.0))
    assert status == 200 and FRAMES in reply["node_errors"], reply
    entry = server.wait(reply["prompt_id"], timeout=120)
    assert entry["status"]["status_str"] == "error"
    assert "node #4 (StreamDiTFrameOutput) takes this stream's frames and was refused" in json.dumps(
        entry["status"]["messages"])
    assert server.get("/streamdit/streams")["victim"]["frames"] == before
    in_lockstep(server, native, FRAMES)


def test_the_list_of_streams_goes_only_to_viewers_that_ask_for_it(server, started):
    """Stream ids are people's text: the list goes to the viewers that ask for it (the panel, the
    viewer's picker), not to every page that is open."""
    _, quiet = websocket(server)
    _, asking = websocket(server)
    send_text(asking, b'{"list": true}')
    opcode, first = receive(asking)
    assert opcode == 1 and json.loads(first)["type"] == "streams" and "victim" in json.loads(first)["streams"]
    in_lockstep(server, native, FRAMES)                   # runs start and end
    send_text(quiet, b'{"watch": ["victim"]}')
    opcode, message = receive(quiet)
    assert opcode == 1 and json.loads(message)["type"] == "status"   # nothing came before it: no list
    opcode, message = receive(asking)
    assert opcode == 1 and json.loads(message)["type"] == "streams"  # the one that asked heard of the runs
    quiet.close()
    asking.close()


def camera_message(header: dict, image: bytes, kind: int = 2) -> bytes:
    meta = json.dumps(header).encode()
    return struct.pack(">II", kind, len(meta)) + meta + image


def encoded(size: tuple[int, int], format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=format)
    return buffer.getvalue()


GOOD_JPEG = encoded((64, 64))
CAMERA_CASES = [   # (a camera message from the panel, what the answer says)
    (b"\x00\x00", "a camera message is"),
    (camera_message({"stream_id": "victim"}, GOOD_JPEG, kind=3), "a camera message is"),
    (struct.pack(">II", 2, 10**6) + b"{}", "a camera message is"),
    (struct.pack(">II", 2, 5) + b"{nope" + GOOD_JPEG, "not JSON"),
    (camera_message({"strength": 0.5}, GOOD_JPEG), "stream_id"),
    (camera_message({"stream_id": "nobody"}, GOOD_JPEG), "no stream with id 'nobody'"),
    (camera_message({"stream_id": "victim"}, encoded((64, 64), "PNG")), "not a JPEG"),
    (camera_message({"stream_id": "victim"}, GOOD_JPEG[:200]), "not a JPEG"),
    (camera_message({"stream_id": "victim"}, b"\xff\xd8" + os.urandom(3000)), "not a JPEG"),
    (camera_message({"stream_id": "victim"}, encoded((2000, 1100))), "at most 2073600 pixels"),
    (camera_message({"stream_id": "victim", "strength": 2}, GOOD_JPEG), "strength must be a number in [0, 1]"),
    (camera_message({"stream_id": "victim", "strength": "high"}, GOOD_JPEG), "strength must be a number"),
    (camera_message({"stream_id": "victim", "stamp": "now"}, GOOD_JPEG), "stamp must be a number"),
]


@pytest.mark.parametrize("sent, message", CAMERA_CASES, ids=[str(s)[:24] for s, _ in CAMERA_CASES])
def test_a_bad_camera_frame_is_answered_and_feeds_nothing(server, started, sent, message):
    status, sock = websocket(server)
    assert status == 101
    send_text(sock, sent, opcode=2)
    opcode, answer_ = receive(sock)
    assert opcode == 1 and message in json.loads(answer_)["error"], answer_
    send_text(sock, b'{"watch": ["victim"]}')                 # the connection still works
    opcode, status_message = receive(sock)
    assert opcode == 1 and json.loads(status_message)["camera"] is None   # and the victim has no camera
    sock.close()


def test_after_bad_camera_frames_the_stream_goes_on(server, started):
    in_lockstep(server, native, FRAMES)


def test_300_viewers_that_never_read_cost_the_stream_nothing(server, started):
    """300 sockets watch the victim and never read: its runs still give its twin's frames, and the
    server answers other requests meanwhile (their frames wait in bounded queues, oldest dropped)."""
    sockets = []
    try:
        for _ in range(300):
            status, sock = websocket(server)
            assert status == 101
            send_text(sock, b'{"watch": ["victim"], "max_fps": 240}')
            sockets.append(sock)
        in_lockstep(server, lambda stream_id: native(stream_id, frames=32), FRAMES)
        assert server.get("/streamdit/streams")["victim"]["running"] is False
    finally:
        for sock in sockets:
            sock.close()
    in_lockstep(server, native, FRAMES)


def test_a_camera_frame_larger_than_the_stream_is_scaled_as_it_arrives(pack):
    """A full-HD camera frame to a 64x64 stream is decoded at a reduced scale and waits at the
    stream's size: what a flood of them holds is what small ones would."""
    live = pack("nodes.live.hub")
    big = encoded((1920, 1080))
    image = live.camera_image(big, (64, 64))
    assert image.shape == (64, 64, 3) and image.dtype == torch.uint8
    assert abs(image.float().mean(dim=(0, 1)) - torch.tensor([200.0, 30.0, 30.0])).max() < 4
    assert live.camera_image(GOOD_JPEG, None).shape == (64, 64, 3)


def test_a_viewer_that_does_not_read_is_closed_after_a_bound(pack, monkeypatch):
    """Its messages wait at most SEND_TIMEOUT; then the viewer is closed and takes no more frames."""
    import asyncio
    live = pack("nodes.live.hub")
    monkeypatch.setattr(live, "SEND_TIMEOUT", 0.05)

    class Stuck:   # a socket whose peer never reads: a send never completes
        closed, close_code = False, None

        async def send_bytes(self, data):
            await asyncio.Event().wait()

        async def close(self, code, message):
            self.closed, self.close_code = True, code

    async def run():
        viewer = live.Viewer(Stuck(), None)
        viewer.watching = frozenset({"s"})
        viewer.offer_frame(b"frame")
        await asyncio.wait_for(viewer.pump(), 5)
        return viewer

    viewer = asyncio.run(run())
    assert viewer.too_slow and viewer.ws.closed and viewer.ws.close_code == 1008


def test_a_flood_of_prompts_coalesces_into_one(server):
    server.run(native("flooded"))
    for i in range(2000):
        got, _ = raw_post(server, "/streamdit/prompt", json.dumps({"stream_id": "flooded", "prompt": f"a red circle {i}"})
                          .encode(), "application/json")
        assert got == 202
    entry = server.run(native("flooded"))
    assert entry["status"]["status_str"] == "success"
    timeline = server.get("/streamdit/streams")["flooded"]["timeline"]
    assert timeline[-1][1] == "a red circle 1999" and not any(p == "a red circle 1998" for _, p in timeline)


def test_the_battery_has_at_least_100_bad_inputs():
    bad = [case for case in NATIVE_CASES + WAN_CASES if case[3] is not None] + ROUTE_CASES + SOCKET_CASES + CAMERA_CASES
    assert len(bad) >= 100, len(bad)
