"""The pack in a real ComfyUI server: shipped workflows, continue, interrupt, errors."""
import copy
import glob
import json
import os
import time

import av
import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from comfy_server import ComfyServer
from make_locales import node_defs
from conftest import ROOT, SHIPPED_STUDENT, load_workflow, poll, workflow_names
from stream_core.lab.analysis import look
from stream_core.engine.timeline import parse_schedule
from tiny_wan import taehv_state, wan_model_state, wan_vae_state, write
from workflow_format import ui_to_api

FRAME_OUTPUT, SAVE_VIDEO, STREAM, SCHEDULE, LOADER = "4", "5", "3", "2", "1"


STOCK_WORKFLOWS = sorted(set(workflow_names()) - set(workflow_names(native_only=True)))
STOCK_LOADERS = {"UNETLoader": ("unet_name", "diffusion_models", wan_model_state),
                 "VAELoader": ("vae_name", "vae", wan_vae_state),
                 "LoraLoaderModelOnly": ("lora_name", "loras", lambda: {"unused.lora_down.weight": torch.zeros(1, 1)})}


@pytest.fixture(scope="module")
def server(tmp_path_factory, comfy):
    base = str(tmp_path_factory.mktemp("comfy-base"))
    # tiny stand-ins under the names the Wan workflows' stock loaders ask for
    for name in STOCK_WORKFLOWS:
        for node in load_workflow(name).values():
            if node["class_type"] in STOCK_LOADERS:
                field, folder, make = STOCK_LOADERS[node["class_type"]]
                write(os.path.join(base, "models", folder, node["inputs"][field]), make())
            if node["class_type"] == "StreamDiTWanStream" and node["inputs"]["decoder"].endswith(".safetensors"):
                write(os.path.join(base, "models", "vae_approx", node["inputs"]["decoder"]), taehv_state())
    with ComfyServer(base) as s:
        yield s


def preview_frames(server, entry) -> np.ndarray:
    """The frames of the frame output node's preview (one animated WebP, lossless at 64x64) of a
    finished prompt: [n, H, W, 3] uint8."""
    (item,) = entry["outputs"][FRAME_OUTPUT]["images"]
    with Image.open(server.output_path(item)) as animation:
        return np.stack([np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(animation)])


def frames_made(entry) -> int:
    """How many frames the run handed to the frame output node (its metadata)."""
    return entry["outputs"][FRAME_OUTPUT]["streamdit"][0]["frames"]


def stream_prompt(stream_id: str, frames: int, action: str = "continue") -> dict:
    prompt = copy.deepcopy(load_workflow("streamdit_continue_stream"))
    prompt[STREAM]["inputs"].update(stream_id=stream_id, frames=frames, action=action)
    return prompt


SAVING_WORKFLOWS = [n for n in workflow_names(native_only=True) if SAVE_VIDEO in load_workflow(n)]


@pytest.mark.parametrize("name", SAVING_WORKFLOWS)
def test_shipped_workflow_runs_and_saves_a_video(server, name):
    prompt = load_workflow(name)
    frames = prompt[STREAM]["inputs"]["frames"]
    entry = server.run(prompt)
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert frames_made(entry) == frames and len(preview_frames(server, entry)) == frames
    video = entry["outputs"][SAVE_VIDEO]["images"][0]
    path = server.output_path(video)
    assert path.endswith(".mp4") and os.path.getsize(path) > 0
    with av.open(path) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == frames
    assert decoded[0].shape == (64, 64, 3)
    with av.open(path) as container:   # the stream's prompts by frame travel in the file
        recorded = json.loads(container.metadata["streamdit"])
    assert recorded["timeline"] == [list(entry) for entry in parse_schedule(prompt[SCHEDULE]["inputs"]["schedule"])]
    assert (recorded["first_frame"], recorded["frames"]) == (0, frames)


def test_the_endless_workflow_grows_one_recording_and_writes_nothing_else(server):
    """Two queued runs of the endless workflow (real-time at 16 fps): one video that grows,
    its index, the newest frame's video on the stream node, no temp files."""
    prompt = load_workflow("streamdit_endless_live")
    inputs = prompt[STREAM]["inputs"]
    assert inputs["realtime"] and inputs["record"] and inputs["frames"] == 0 and len(prompt) == 3   # until stopped
    inputs.update(stream_id="endless-test", frames=32)   # here: two runs of 32 frames
    temp = set(glob.glob(os.path.join(server.base, "temp", "**"), recursive=True))
    started = time.monotonic()
    entries = [server.run(prompt) for _ in range(2)]
    seconds = time.monotonic() - started
    frames = 2 * prompt[STREAM]["inputs"]["frames"]
    assert seconds >= 0.9 * frames / prompt[STREAM]["inputs"]["fps"]    # paced, not as fast as the CPU goes
    (first,), (second,) = (e["outputs"][STREAM]["images"] for e in entries)
    assert first == second and first["filename"].startswith("endless-test_")
    path = server.output_path(first)
    with open(path + ".json") as f:
        index = json.load(f)
    assert index["frames"] == frames - 1 and index["timeline"] == [[0, "a red circle moving right"]]
    with av.open(path) as container:   # the file holds what its index lists: all but the newest frame
        assert sum(1 for _ in container.decode(video=0)) == frames - 1
    assert set(glob.glob(os.path.join(server.base, "temp", "**"), recursive=True)) == temp


def test_the_fast_workflow_streams_each_scheduled_prompt_in_its_colour(server):
    """The distilled student at one pass per shift, through the server: every segment of the
    schedule (held-out colour-shape pairs among them) shows its prompt's colour once the
    switch has passed through the buffer."""
    prompt = load_workflow("streamdit_fast_distilled")
    assert prompt[STREAM]["inputs"]["s"] == 1 and prompt[LOADER]["inputs"]["model_name"] == os.path.basename(SHIPPED_STUDENT)
    frames = preview_frames(server, server.run(prompt))
    segments = parse_schedule(prompt[SCHEDULE]["inputs"]["schedule"])
    starts = [frame for frame, _ in segments] + [len(frames)]
    for (start, text), end in zip(segments, starts[1:]):
        colour = text.split()[1]
        seen = [look(torch.from_numpy(f).permute(2, 0, 1).float() / 127.5 - 1).colour for f in frames[start + 16:end]]
        assert seen.count(colour) >= 0.8 * len(seen), (text, seen)


def test_ui_workflows_are_the_api_workflows_and_served_as_templates(server):
    object_info = server.get("/object_info")
    templates = server.get("/workflow_templates")
    served = next(v for k, v in templates.items() if k.startswith("streamdit"))
    pack = next(k for k in templates if k.startswith("streamdit"))
    assert sorted(served) == workflow_names()
    for name in workflow_names():
        ui = server.get(f"/api/workflow_templates/{pack}/{name}.json")
        assert ui == load_workflow(name, api=False)
        assert ui_to_api(ui, object_info) == load_workflow(name)


def test_template_thumbnails_are_served_where_the_template_browser_asks(server, pack):
    """Every template's thumbnail at /api/workflow_templates/<pack>/<name>.webp, as the file is,
    from this ComfyUI; and from the pack's own route alone (newer ComfyUI serves only the .json
    files there), which serves thumbnails and nothing else."""
    import asyncio
    import urllib.request
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer
    for name in workflow_names():
        for ext in ("webp", "jpg"):
            path = os.path.join(ROOT, "example_workflows", f"{name}.{ext}")
            if os.path.exists(path):
                with urllib.request.urlopen(f"{server.url}/api/workflow_templates/streamdit-comfy/{name}.{ext}") as r:
                    assert r.status == 200 and r.read() == open(path, "rb").read()

    async def pack_routes_alone() -> list:
        routes = web.RouteTableDef()
        pack("nodes.live.routes").register_routes(routes)
        app = web.Application()
        app.add_routes(routes)
        async with TestClient(TestServer(app)) as client:
            answers = []
            for file in ("streamdit_endless_live.webp", "streamdit_wan21_t2v_1_3b.jpg", "streamdit_endless_live.json",
                         "..%2Fpyproject.toml", "missing.webp"):
                r = await client.get(f"/workflow_templates/streamdit-comfy/{file}")
                answers.append((r.status, await r.read()))
            return answers

    (webp, jpg, workflow, outside, missing) = asyncio.run(pack_routes_alone())
    assert webp == (200, open(os.path.join(ROOT, "example_workflows", "streamdit_endless_live.webp"), "rb").read())
    assert jpg[0] == 200 and jpg[1][:2] == b"\xff\xd8"
    assert workflow[0] == outside[0] == missing[0] == 404


def test_node_text_is_served_for_translation_and_the_english_locale_matches_the_nodes(server):
    """ComfyUI's frontend looks up node names, descriptions and tooltips under nodeDefs in /i18n;
    the pack's English file says what the node schemas say, so a translation starts from the truth."""
    with open(os.path.join(ROOT, "locales", "en", "nodeDefs.json")) as f:
        english = json.load(f)
    assert english == node_defs(server.get("/object_info")), "stale: run scripts/make_locales.py"
    served = server.get("/i18n")["en"]["nodeDefs"]
    for node, text in english.items():
        assert served[node] == text
        assert text["description"] and all(i.get("tooltip") for i in text["inputs"].values()), node
    assert english["StreamDiTStream"]["inputs"]["N"]["name"] == "chunks in buffer"


@pytest.mark.parametrize("name", STOCK_WORKFLOWS)
def test_the_wan_workflows_are_valid_for_the_stock_loaders(server, name):
    """With the diffusion models and VAE present under the template names, the only error
    left is the text encoder this machine lacks: every other node, input and link checks out."""
    workflow = load_workflow(name)
    status, answer = server.queue(workflow)
    assert status == 400
    assert list(answer["node_errors"]) == ["3"] and workflow["3"]["class_type"] == "CLIPLoader"
    assert "umt5_xxl_fp8_e4m3fn_scaled.safetensors" in str(answer["node_errors"]["3"])


def test_a_continued_stream_follows_on_from_the_first_run(server):
    first = preview_frames(server, server.run(stream_prompt("follow", 8)))
    second = preview_frames(server, server.run(stream_prompt("follow", 8)))   # same prompt: no cache hit
    whole = preview_frames(server, server.run(stream_prompt("follow-whole", 16, action="restart")))
    assert first.shape == second.shape == (8, 64, 64, 3)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    again = preview_frames(server, server.run(stream_prompt("follow-whole", 16, action="restart")))
    np.testing.assert_array_equal(again, whole)  # restart: the same frames from frame 0


def test_interrupt_stops_a_long_stream_and_the_server_goes_on(server):
    status, answer = server.queue(stream_prompt("long", 100000))
    assert status == 200, answer
    deadline = time.monotonic() + 60
    while not server.get("/queue")["queue_running"] and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    server.request("POST", "/interrupt", {})
    entry = server.wait(answer["prompt_id"], timeout=60)
    events = [m[0] for m in entry["status"]["messages"]]
    assert "execution_interrupted" in events, events
    # the interrupted stream keeps its frames and continues
    ok = server.run(stream_prompt("long", 4))
    assert ok["status"]["status_str"] == "success"


def node_error(server, prompt) -> str:
    status, answer = server.queue(prompt)
    assert status == 400, answer
    return str(answer["node_errors"])


def execution_error(server, prompt) -> str:
    entry = server.run(prompt)
    assert entry["status"]["status_str"] == "error"
    return str([m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"])


def test_bad_inputs_come_back_as_clear_node_errors(server):
    bad = stream_prompt("bad", 4)
    bad[SCHEDULE]["inputs"]["schedule"] = "0: a red circle moving right\nthis line has no frame"
    assert "line 2: expected 'frame: prompt'" in node_error(server, bad)

    bad = stream_prompt("bad", 4)
    bad[LOADER]["inputs"]["model_name"] = "no-such-model.safetensors"
    assert "StreamDiT model 'no-such-model.safetensors' not found" in node_error(server, bad)

    bad = stream_prompt("bad", 4)
    bad[STREAM]["inputs"]["N"] = 0
    assert "impossible partition: N (chunks) must be >= 1" in node_error(server, bad)

    bad = stream_prompt("bad", -1)   # 0 streams until stopped
    assert "Value -1 smaller than min of 0" in node_error(server, bad)

    bad = stream_prompt("bad", 4)
    bad[STREAM]["inputs"]["width"] = 60
    assert "width and height must be multiples of 16" in execution_error(server, bad)

    assert server.run(stream_prompt("after-errors", 2))["status"]["status_str"] == "success"


def test_a_running_stream_is_reprompted_live_and_stopped(server):
    status, answer = server.queue(stream_prompt("live-switch", 100000))
    assert status == 200, answer
    before = poll(lambda: (r := server.get("/streamdit/streams").get("live-switch")) and r["running"] and r["frames"] > 4 and r)
    chunks = load_workflow("streamdit_continue_stream")[STREAM]["inputs"]["N"]
    assert before["prompt"] == "a green triangle moving left" and len(before["tau"]) == chunks
    status, reply = server.request("POST", "/streamdit/prompt",
                                   {"stream_id": "live-switch", "prompt": "a yellow square moving down zebra"})
    assert status == 202 and reply["unknown_words"] == ["zebra"], reply
    after = poll(lambda: (r := server.get("/streamdit/streams")["live-switch"])["prompt"].startswith("a yellow") and r)
    assert after["running"] and after["frames"] >= before["frames"]
    assert server.request("POST", "/streamdit/stop", {"stream_id": "live-switch"})[0] == 202
    entry = server.wait(answer["prompt_id"], timeout=60)
    assert entry["status"]["status_str"] == "success"
    shown = frames_made(entry)
    assert after["frames"] <= shown < 100000
    status, reply = server.request("POST", "/streamdit/stop", {"stream_id": "live-switch"})
    assert status == 409 and "not running" in reply["error"]
    # the switch outlives the run: continuing keeps following the new prompt
    server.run(stream_prompt("live-switch", 4))
    assert server.get("/streamdit/streams")["live-switch"]["prompt"] == "a yellow square moving down zebra"


@pytest.mark.parametrize("path, body, status, message", [
    ("/streamdit/prompt", {"stream_id": "nobody", "prompt": "a red circle"}, 404, "no stream with id 'nobody'"),
    ("/streamdit/prompt", {"stream_id": "follow", "prompt": "   "}, 400, "the prompt is empty"),
    ("/streamdit/prompt", {"stream_id": "follow", "prompt": "x" * 1001}, 400, "longer than 1000 characters"),
    ("/streamdit/prompt", {"stream_id": "follow"}, 400, "'prompt' (a string) is required"),
    ("/streamdit/prompt", b"{not json", 400, "not valid JSON"),
    ("/streamdit/prompt", b"[1, 2]", 400, "must be a JSON object"),
    ("/streamdit/prompt", b"{" + b" " * 20000 + b"}", 413, "larger than 16384 bytes"),
    ("/streamdit/stop", {"stream_id": 7}, 400, "'stream_id' (a string) is required"),
    ("/streamdit/strength", {"stream_id": "follow", "strength": 1.5}, 400, "strength must be a number in [0, 1]"),
    ("/streamdit/strength", {"stream_id": "follow", "strength": "high"}, 400, "strength must be a number in [0, 1]"),
    ("/streamdit/strength", {"stream_id": "follow", "strength": 0.3}, 409, "no video input or camera now"),
    ("/streamdit/strength", {"stream_id": "nobody", "strength": 0.3}, 404, "no stream with id 'nobody'"),
])
def test_bad_live_requests_get_clear_4xx_answers(server, path, body, status, message):
    if not server.get("/streamdit/streams").get("follow"):
        server.run(stream_prompt("follow", 2))
    got, reply = (server.request("POST", path, raw=body) if isinstance(body, bytes)
                  else server.request("POST", path, body))
    assert got == status and message in reply["error"], reply
    assert server.get("/system_stats")   # and the server goes on
