"""A run that streams until it is stopped, and a recording that loses nothing, in a real
ComfyUI server process: stopped by the route or by Cancel, its outputs hold what it made; the
file decodes at every moment to at least the frames its index lists; SIGTERM closes every
recording completely, kill -9 loses at most the last piece; the main script's ComfyUI goes
with it."""
import copy
import json
import os
import signal
import socket
import subprocess
import sys

import av
import pytest

from comfy_server import ComfyServer, free_port
from conftest import ROOT, load_workflow, poll

STREAM, FRAME_OUTPUT = "3", "4"


def endless_prompt(stream_id: str, record: bool = True) -> dict:
    prompt = copy.deepcopy(load_workflow("streamdit_continue_stream"))
    prompt[STREAM]["inputs"].update(stream_id=stream_id, frames=0, action="restart", record=record, realtime=True)
    return prompt


def running(server, stream_id: str, frames: int) -> dict:
    """The stream's report once it runs and has made more than ``frames`` frames."""
    return poll(lambda: (r := server.get("/streamdit/streams").get(stream_id)) and r["running"] and r["frames"] > frames
                and r, timeout=120, what=f"{stream_id} to stream {frames} frames")


def recording(base: str, stream_id: str) -> tuple[str, dict]:
    """(video path, its index) of the stream's recording in the server's output folder."""
    folder = os.path.join(base, "output", "streamdit")
    (name,) = [n for n in os.listdir(folder) if n.startswith(stream_id) and n.endswith(".mp4")]
    with open(os.path.join(folder, name + ".json")) as f:
        return os.path.join(folder, name), json.load(f)


def decoded(path: str) -> int:
    with av.open(path) as video:
        return sum(1 for _ in video.decode(video=0))


@pytest.fixture(scope="module")
def server(tmp_path_factory, comfy):
    with ComfyServer(str(tmp_path_factory.mktemp("until-stopped"))) as s:
        yield s


@pytest.mark.parametrize("how", ["stop route", "cancel"])
def test_a_run_streams_until_stopped_and_its_outputs_hold_what_it_made(server, how):
    stream_id = f"endless-{how.split()[0]}"
    status, answer = server.queue(endless_prompt(stream_id))
    assert status == 200, answer
    before = running(server, stream_id, 20)
    assert server.get("/queue")["queue_running"], "the run holds the queue as any long node does"
    if how == "stop route":
        assert server.request("POST", "/streamdit/stop", {"stream_id": stream_id})[0] == 202
    else:
        assert server.request("POST", "/interrupt", {})[0] == 200
    entry = server.wait(answer["prompt_id"], timeout=120)
    after = server.get("/streamdit/streams")[stream_id]
    assert not after["running"] and after["frames"] >= before["frames"]
    path, index = recording(server.base, stream_id)
    assert not index["complete"]   # the stream may go on: its recording stays open
    assert decoded(path) == index["frames"] == after["frames"] - 1   # the muxer holds the newest until the next
    if how == "stop route":
        assert entry["status"]["status_str"] == "success"
        assert entry["outputs"][FRAME_OUTPUT]["streamdit"][0]["frames"] == after["frames"]
    else:
        assert entry["status"]["status_str"] == "error"   # ComfyUI's own word for an interrupted prompt


def test_the_recording_decodes_at_every_moment_to_the_frames_its_index_lists(server):
    stream_id = "moment"
    status, answer = server.queue(endless_prompt(stream_id))
    assert status == 200, answer
    running(server, stream_id, 4)
    seen = []
    for _ in range(5):
        path, index = recording(server.base, stream_id)
        frames = decoded(path)
        assert frames >= index["frames"], (frames, index["frames"])
        seen.append(index["frames"])
        poll(lambda: recording(server.base, stream_id)[1]["frames"] > seen[-1], what="the index to grow")
    assert seen == sorted(seen) and seen[-1] > seen[0]
    server.request("POST", "/streamdit/stop", {"stream_id": stream_id})
    server.wait(answer["prompt_id"], timeout=120)


def stream_then(tmp_path, comfy, stop) -> tuple[str, dict, dict]:
    """A recorded endless run in a server of its own, ended by ``stop(server)``: (video, index,
    the stream's last report before the end)."""
    server = ComfyServer(str(tmp_path)).start()
    try:
        assert server.queue(endless_prompt("ends"))[0] == 200
        report = running(server, "ends", 24)
        stop(server)
        assert server.process.wait(60) is not None
    finally:
        server.stop()
    return (*recording(server.base, "ends"), report)


def test_sigterm_closes_every_recording_completely(tmp_path, comfy):
    path, index, report = stream_then(tmp_path, comfy, lambda s: s.process.send_signal(signal.SIGTERM))
    assert index["complete"], "the recording was not closed"
    assert decoded(path) == index["frames"] >= report["frames"]   # stopped, closed: every frame in, as the index says


def test_kill_9_loses_at_most_the_last_piece(tmp_path, comfy):
    path, index, report = stream_then(tmp_path, comfy, lambda s: s.process.kill())
    chunk = load_workflow("streamdit_continue_stream")[STREAM]["inputs"]["c"]
    frames = decoded(path)   # the file reads to its end without an error
    assert not index["complete"]
    assert frames >= index["frames"] >= report["frames"] - 4 * chunk - 1, (frames, index["frames"], report["frames"])


def test_the_main_scripts_comfyui_ends_with_it_on_sigterm_and_sighup(tmp_path, comfy):
    for sig in (signal.SIGTERM, signal.SIGHUP):
        port = free_port()
        main = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "run_stream.py"), "--ui", "--port",
                                 str(port), "--out", str(tmp_path / sig.name)], stdout=subprocess.PIPE, text=True)
        try:
            assert "ComfyUI with StreamDiT at" in main.stdout.readline()
            main.send_signal(sig)
            assert main.wait(60) != 0
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
        finally:
            main.kill()
