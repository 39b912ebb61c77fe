"""End to end in headless Chromium against a real ComfyUI server: the live panel plays every
frame at the stream's pace (native and Wan), is steered, pops out, and re-runs are correct.
Screenshots of each state go to out/test-artifacts/ (not committed)."""
import base64
import io
import math
import os
import statistics

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from browser import launch, open_comfy
from comfy_server import ComfyServer, comfy_path
from conftest import ROOT, load_workflow, poll
from tiny_wan import causal_stream_prompt, wan_stream_prompt, write_tiny_wan

ARTIFACTS = os.path.join(ROOT, "out", "test-artifacts")
CONDITIONING_NODE = os.path.join(ROOT, "tests", "fixtures", "streamdit_test_conditioning")
PANEL = "[data-testid=streamdit-panel]"
FPS = 16


def tid(name: str) -> str:
    return f"{PANEL} [data-testid=streamdit-{name}]"


def shot(page, name: str, locator=None) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    (locator or page).screenshot(path=os.path.join(ARTIFACTS, name + ".png"))


@pytest.fixture(scope="module")
def playwright_and_server(tmp_path_factory, comfy):
    base = str(tmp_path_factory.mktemp("browser-base"))
    write_tiny_wan(base)
    with ComfyServer(base, extra_nodes=(CONDITIONING_NODE,)) as server, sync_playwright() as p:
        yield p, server


@pytest.fixture(scope="module")
def browser_and_server(playwright_and_server):
    p, server = playwright_and_server
    browser = launch(p)
    yield browser, server
    browser.close()


@pytest.fixture(scope="module")
def page(browser_and_server):
    browser, server = browser_and_server
    page = open_comfy(browser, server)
    page.server = server
    page.evaluate("() => window.app.extensionManager.command.execute('Workspace.ToggleBottomPanelTab.streamdit-live')")
    expect(page.locator(tid("empty"))).to_be_visible()
    shot(page, "panel-empty", page.locator(PANEL))
    return page


def load(page, name: str, schedule: str | None = None, **widgets) -> None:
    """Load a shipped workflow as the template browser does, and set stream node widgets (and
    the prompt schedule's text)."""
    workflow = page.server.get(f"/api/workflow_templates/streamdit-comfy/{name}.json")
    page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", workflow)
    page.evaluate("""([widgets, schedule]) => {
        const node = window.app.graph._nodes.find(n => n.type === 'StreamDiTStream');
        for (const [name, value] of Object.entries(widgets)) node.widgets.find(w => w.name === name).value = value;
        if (schedule !== null) window.app.graph._nodes.find(n => n.type === 'StreamDiTPromptSchedule')
            .widgets.find(w => w.name === 'schedule').value = schedule;
    }""", [widgets, schedule])


def watch(page, stream_id: str) -> None:
    page.evaluate("(id) => window.streamditLive.panel.show(id)", stream_id)


def stop_if_running(server, stream_id: str) -> None:
    """A failed test's endless run is stopped, so the tests after it are not queued behind it."""
    server.request("POST", "/streamdit/stop", {"stream_id": stream_id})
    poll(lambda: idle(server), what=f"stream {stream_id!r} to stop")


def queue(page) -> None:
    page.evaluate("() => window.app.queuePrompt(0)")


def start_live(page, name: str, stream_id: str, first: int = 4, schedule: str | None = None, **widgets) -> None:
    """Load workflow ``name`` for a real-time run of ``stream_id`` until it is stopped, watch it in
    the panel, queue it and wait until the panel has shown ``first`` frames."""
    load(page, name, schedule, stream_id=stream_id, frames=0, realtime=True, fps=FPS, **widgets)
    watch(page, stream_id)
    queue(page)
    poll(lambda: shown(page)["shown"] > first, what="the first frames")


def idle(server) -> bool:
    q = server.get("/queue")
    return not q["queue_running"] and not q["queue_pending"]


def shown(page) -> dict:
    return page.evaluate("""() => { const p = window.streamditLive.panel.player;
        return {log: p.stats.log, dropped: p.stats.dropped, shown: p.stats.shown, session: p.shown?.session ?? null}; }""")


def played(page, made: int) -> tuple[list[int], float, int]:
    """Once the run has ended and the panel has played its last frame (index ``made`` - 1: a run's
    last frames leave at once and the run ends as they are sent, so they may reach the page after
    the queue is empty): the frame indices it
    displayed (in display order), the rate they played at (frames per second: the median over
    consecutive shown frames of index steps per display time, so a stall of a loaded machine
    does not count as the pace) and how many it passed over (a display slower than the stream)."""
    poll(lambda: idle(page.server), timeout=120, what="the run to end")
    poll(lambda: page.evaluate("""(last) => { const p = window.streamditLive.panel.player;
                                           return p.queue.length === 0 && (p.shown?.index ?? -1) >= last; }""",
                               made - 1),
         what=f"the panel to play up to the last frame, {made - 1}")
    seen = shown(page)
    log = seen["log"]
    rates = sorted((b - a) * 1000 / (tb - ta) for (a, ta), (b, tb) in zip(log, log[1:]) if tb > ta)
    return [index for index, _ in log], rates[len(rates) // 2], seen["dropped"]


def assert_every_frame_at_pace(indices: list[int], rate: float, passed_over: int, made: int) -> None:
    print(f"the panel showed {len(indices)} of {made} frames, in order, at {rate:.2f} fps ({passed_over} passed over)")
    assert indices == sorted(set(indices)), "frames shown out of order or twice"
    assert len(indices) + passed_over == made, f"shown {len(indices)} and passed over {passed_over} of {made} frames"
    assert len(indices) >= made / 2, f"shown {len(indices)} of {made} frames"
    assert abs(rate - FPS) <= 2, f"played at {rate:.2f} fps, the stream's fps is {FPS}"


def test_the_panel_plays_every_native_frame_at_the_streams_pace(page):
    load(page, "streamdit_endless_live", stream_id="pace", frames=80, record=False)
    watch(page, "pace")
    queue(page)
    poll(lambda: shown(page)["shown"] > 40, what="half the frames")
    shot(page, "panel-native-16fps", page.locator(PANEL))
    indices, rate, passed_over = played(page, made=80)
    assert_every_frame_at_pace(indices, rate, passed_over, made=80)
    assert indices[0] <= passed_over   # from the stream's first frame on (a loaded display may pass some over)


def test_the_panel_plays_every_wan_frame_at_the_streams_pace(page):
    watch(page, "wan-live")
    status, answer = page.server.queue(wan_stream_prompt("wan-live", 81, action="restart", fps=float(FPS),
                                                         realtime=True))
    assert status == 200, answer
    poll(lambda: shown(page)["shown"] > 40, what="half the frames")
    shot(page, "panel-wan-16fps", page.locator(PANEL))
    expect(page.locator(tid("input"))).to_be_disabled()          # a Wan stream follows its CONDITIONING inputs
    assert "CONDITIONING" in page.get_attribute(tid("input"), "placeholder")
    indices, rate, passed_over = played(page, made=81)
    assert_every_frame_at_pace(indices, rate, passed_over, made=81)


def test_the_panel_plays_a_causal_wan_stream_until_its_stop(page):
    """A causal Wan model (ComfyUI 0.33 and newer) streams in the panel as the other kinds do: in
    order, until the panel's Stop, which it then says."""
    if not os.path.exists(os.path.join(comfy_path(), "comfy", "ldm", "wan", "ar_model.py")):
        pytest.skip("this ComfyUI has no causal Wan model (comfy/ldm/wan/ar_model.py, ComfyUI 0.33 and newer)")
    watch(page, "causal-live")
    status, answer = page.server.queue(causal_stream_prompt("causal-live", 0, realtime=True, fps=float(FPS)))
    assert status == 200, answer
    poll(lambda: shown(page)["shown"] > 20, timeout=120, what="the causal stream's frames")
    shot(page, "panel-causal-wan", page.locator(PANEL))
    expect(page.locator(tid("input"))).to_be_disabled()          # it follows its CONDITIONING inputs
    page.click(tid("stop"))
    expect(page.locator(tid("hint"))).to_contain_text("stopped", timeout=60_000)
    poll(lambda: idle(page.server), timeout=120, what="the run to end")
    indices = [index for index, _ in shown(page)["log"]]
    assert indices == sorted(set(indices)) and len(indices) > 20


def streamed_again(page, before_session) -> None:
    poll(lambda: (s := shown(page))["session"] not in (None, before_session) and s["shown"] > 3,
               what="frames of a new run")


def test_stop_ends_run_instant_too(page):
    """With the Run button on Run (Instant), every run that ends queues the next; the panel's
    Stop ends the run and the re-queueing, as the button's own stop would."""
    server = page.server
    load(page, "streamdit_continue_stream", stream_id="instant", frames=16, realtime=True, fps=FPS)
    watch(page, "instant")
    version = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__ ?? ''")
    newer = tuple(int(n) for n in version.split(".")[:2]) >= (1, 40)   # newer frontends: instant-idle / -running
    page.evaluate("(mode) => { window.app.extensionManager.queueSettings.mode = mode; }",
                  "instant-running" if newer else "instant")
    done = len(server.get("/history"))
    queue(page)
    poll(lambda: len(server.get("/history")) > done and server.get("/streamdit/streams")["instant"]["running"],
         timeout=120, what="Run (Instant) to queue the next run")
    page.click(tid("stop"))
    expect(page.locator(tid("hint"))).to_contain_text("Run (Instant) stopped too")
    assert page.evaluate("() => window.app.extensionManager.queueSettings.mode") in ("disabled", "instant-idle")
    poll(lambda: idle(server), timeout=120, what="the queue to empty")
    expect(page.locator(tid("hint"))).to_contain_text("stopped (Run (Instant) stopped too)")   # it stays said
    runs = len(server.get("/history"))
    page.wait_for_function("() => true")   # one more round trip of the page: a re-queue would be on its way
    poll(lambda: idle(server), what="nothing queued after the stop")
    assert len(server.get("/history")) == runs


def test_stop_then_run_and_reprompt_then_run_stream_new_frames(page):
    server = page.server
    start_live(page, "streamdit_text_to_video", "rerun", first=8)
    page.click(tid("stop"))
    expect(page.locator(tid("stream"))).to_contain_text("rerun — idle", timeout=60_000)
    poll(lambda: idle(server), what="the stopped run to finish")
    stopped = shown(page)["session"]
    queue(page)                                         # the same restart workflow, unchanged
    streamed_again(page, stopped)                      # not ComfyUI's cached result: a new run
    page.click(tid("stop"))
    poll(lambda: idle(server), what="the second run to finish")

    load(page, "streamdit_text_to_video", stream_id="rerun", frames=24, realtime=True, fps=16)
    queue(page)
    poll(lambda: idle(server) and shown(page)["shown"] > 0, what="a complete run")
    complete = shown(page)["session"]
    queue(page)                                         # nothing changed: the cached result is right
    poll(lambda: idle(server), what="the cached run")
    assert shown(page)["session"] == complete
    page.fill(tid("input"), "a yellow square moving down")
    page.click(tid("switch"))                           # a re-prompt of the idle stream ...
    expect(page.locator(tid("hint"))).to_contain_text("sent")
    page.wait_for_timeout(600)                          # past the as-you-type check the typing started
    expect(page.locator(tid("hint"))).to_contain_text("sent", timeout=100)
    queue(page)                                         # ... makes the same workflow stream again
    streamed_again(page, complete)
    poll(lambda: idle(server), what="the re-prompted run")


def test_a_live_reprompt_is_checked_as_you_type_applied_and_copied_back(page):
    server = page.server
    start_live(page, "streamdit_continue_stream", "steer")
    expect(page.locator(tid("stream"))).to_contain_text("steer — running")
    chunks = load_workflow("streamdit_continue_stream")["3"]["inputs"]["N"]
    expect(page.locator(tid("bar"))).to_have_count(chunks)    # one bar per chunk

    page.fill(tid("input"), "a yellow zebra moving down")      # flagged before it is sent
    expect(page.locator(tid("hint"))).to_contain_text("zebra", timeout=10_000)
    expect(page.locator(tid("input"))).to_have_class("sd-input sd-warn")
    page.fill(tid("input"), "a yellow square moving down")
    expect(page.locator(tid("hint"))).to_have_text("", timeout=10_000)
    page.click(tid("switch"))
    poll(lambda: server.get("/streamdit/streams")["steer"]["prompt"] == "a yellow square moving down",
               what="the server to follow the new prompt")
    expect(page.locator(tid("prompt"))).to_have_text("a yellow square moving down", timeout=30_000)

    hostile = '<img src=x onerror="window.__pwned=1"><b>bold</b>'   # user text is text, never HTML
    page.fill(tid("input"), hostile)
    page.click(tid("switch"))
    expect(page.locator(tid("prompt"))).to_have_text(hostile, timeout=30_000)
    assert page.locator(f"{tid('prompt')} *").count() == 0 and page.locator(f"{tid('timeline')} li *").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    shot(page, "panel-reprompted", page.locator(PANEL))

    timeline = server.get("/streamdit/streams")["steer"]["timeline"]
    assert [p for _, p in timeline][-2:] == ["a yellow square moving down", hostile]
    page.click(tid("copy"))
    schedule = page.evaluate("""() => window.app.graph._nodes.find(n => n.type === 'StreamDiTPromptSchedule')
                                     .widgets.find(w => w.name === 'schedule').value""")
    assert schedule == "\n".join(f"{frame}: {prompt}" for frame, prompt in timeline)
    page.click(tid("stop"))
    poll(lambda: idle(server), what="the run to stop")


def test_the_pop_out_and_the_standalone_viewer_show_the_stream(page, browser_and_server):
    browser, server = browser_and_server
    start_live(page, "streamdit_endless_live", "viewer", record=False)
    with page.context.expect_page() as popped:
        page.click(tid("popout"))
    popout = popped.value
    popout.set_viewport_size({"width": 640, "height": 480})
    popout.wait_for_function("window.streamditView && window.streamditView.player.stats.shown > 10", timeout=60_000)
    assert "/view.html?stream=viewer" in popout.url
    shot(popout, "popout")
    standalone = browser.new_page(viewport={"width": 800, "height": 600})
    standalone.goto(f"{server.url}/streamdit/view?stream=viewer")
    standalone.wait_for_function("window.streamditView && window.streamditView.player.stats.shown > 10",
                                 timeout=60_000)
    expect(standalone.locator("[data-testid=streamdit-view-info]")).to_contain_text("viewer · frame")
    shot(standalone, "standalone-viewer")

    # a second browser watching nothing gets no frames; once it watches, it does
    other = open_comfy(browser, server)
    count = "() => window.__frames ?? 0"
    other.evaluate("""() => { window.__frames = 0;
        window.streamditLive.client.addEventListener('frame', () => { window.__frames += 1; }); }""")
    shown_before = popout.evaluate("window.streamditView.player.stats.shown")
    popout.wait_for_function(f"window.streamditView.player.stats.shown > {shown_before + 8}", timeout=60_000)
    assert other.evaluate(count) == 0                  # eight more frames went out: none of them here
    other.evaluate("() => window.streamditLive.client.watch(['viewer'])")
    other.wait_for_function(f"({count})() > 5", timeout=30_000)
    standalone.click("[data-testid=streamdit-view-stop]")      # the viewer's Stop ends the run until stopped
    poll(lambda: idle(server), what="the run to stop")
    for p in (popout, standalone, other):
        p.close()


def test_no_stream_id_reaches_another_tab_as_html(page):
    """Another browser fills the streams (at most 8 are kept), then queues a stream whose id is
    markup: that id was accepted, and "stream 'fill0' was dropped to make room for '<img ...>'"
    went to every tab as the node's progress text, which frontend 1.32 renders as HTML (the script
    ran in this page). Now the id is refused before the prompt runs, and what the pack says on a
    node goes to the browser that queued the prompt alone."""
    server = page.server
    load(page, "streamdit_continue_stream")                           # this page shows a node #3 too
    page.evaluate("() => { window.__xss = 0; }")

    def stream(stream_id: str) -> dict:
        prompt = load_workflow("streamdit_continue_stream")
        prompt["3"]["inputs"].update(stream_id=stream_id, frames=2)
        del prompt["5"]
        return prompt

    for i in range(9):                                                 # the ninth drops the first: a message
        assert server.run(stream(f"fill{i}"))["status"]["status_str"] == "success"
    status, answer = server.queue(stream("<img src=x onerror=window.__xss=1>"))
    assert status == 400 and "a stream id has letters, digits, spaces and - _ . : only" in str(answer)
    page.evaluate("() => new Promise(r => setTimeout(r, 500))")       # what would have been sent, arrives
    assert page.evaluate("() => window.__xss") == 0
    assert page.locator("img[src='x']").count() == 0
    assert "was dropped to make room" not in page.locator("body").inner_text()


def test_the_whole_panel_is_usable_at_1280x720(page):
    shot(page, "panel-1280x720")
    for name in ("select", "live", "play", "scrub", "fit", "fullscreen", "popout", "webrtc", "stop", "input", "switch",
                 "camera", "strength"):
        box = page.locator(tid(name)).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 720 and box["x"] + box["width"] <= 1280, name
    frame = page.locator(tid("frame")).bounding_box()
    assert frame["height"] >= 120 and frame["y"] + frame["height"] <= 720


def test_nodes_2_0_shows_the_newest_frame_on_the_stream_node(browser_and_server):
    browser, server = browser_and_server
    server.request("POST", "/settings/Comfy.VueNodes.Enabled", True)
    try:
        page = open_comfy(browser, server, 1400, 900)
        page.server = server
        load(page, "streamdit_endless_live", stream_id="nodes2", frames=48)
        page.evaluate("""async () => { window.__executed = [];
            (await import('/scripts/api.js')).api.addEventListener('executed', (e) => window.__executed.push(String(e.detail.node))); }""")
        queue(page)
        node = page.locator("[data-node-id='3']")
        image = node.locator("img").first
        expect(image).to_be_visible(timeout=60_000)
        assert image.get_attribute("src").startswith("blob:")   # ComfyUI's progress preview of the newest frame
        shot(page, "nodes2-stream-node", node)
        poll(lambda: idle(server), what="the run to end")
        # the run ended with its recording in its outputs: the node goes on showing its newest frame
        page.wait_for_function("() => window.__executed.includes('3')")
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        expect(node.get_by_text("failed to load")).to_have_count(0)
        expect(node.locator("img").first).to_be_visible()
        assert node.locator("img").first.get_attribute("src").startswith("blob:")
        shot(page, "nodes2-stream-node-after-run", node)
        page.close()
    finally:
        server.request("POST", "/settings/Comfy.VueNodes.Enabled", False)



def write_y4m(path: str, images: np.ndarray, fps: int) -> None:
    """A Y4M video (4:2:0, BT.601 full range) of RGB frames [F, H, W, 3] uint8, for the fake camera."""
    rgb = images.astype(np.float64)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    u = (rgb[..., 2] - y) * 0.564 + 128
    v = (rgb[..., 0] - y) * 0.713 + 128
    f, h, w, _ = images.shape
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for n in range(f):
            chroma = [c[n].reshape(h // 2, 2, w // 2, 2).mean((1, 3)) for c in (u, v)]
            out.write(b"FRAME\n" + b"".join(np.clip(p, 0, 255).round().astype(np.uint8).tobytes()
                                             for p in (y[n], *chroma)))


RECORD_CAMERA = """() => {
    const client = window.streamditLive.client, send = client.sendCamera.bind(client);
    const base64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
    window.__sent = {}; window.__out = [];
    client.sendCamera = (id, header, jpeg) => { window.__sent[header.stamp] = base64(new Uint8Array(jpeg));
                                                return send(id, header, jpeg); };
    client.addEventListener("frame", async (e) => {
        const { meta, blob } = e.detail;
        window.__out.push([meta.input_time ?? null, meta.index, meta.session, base64(new Uint8Array(await blob.arrayBuffer()))]);
    });
}"""


def seen_jpeg(data: str):
    from stream_core.lab.analysis import look
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
    return look(torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 127.5 - 1)


def test_the_camera_feeds_a_running_stream_and_stopping_it_returns_to_the_prompt(playwright_and_server, tmp_path):
    from stream_core.lab.evaluate import world_frames
    from stream_core.lab.world import Scene, wrapped
    p, server = playwright_and_server
    clip = ((world_frames(Scene("red", "circle", "right"), 64, 0) + 1) * 127.5).round().clamp(0, 255)
    # the camera plays the world at half the stream's rate: a stream slowed down by a busy machine
    # still sees steps the model knows (it takes the newest camera frame, so a slow stream sees larger ones)
    write_y4m(str(tmp_path / "camera.y4m"), clip.byte().permute(0, 2, 3, 1).numpy(), FPS // 2)
    browser = launch(p, camera=str(tmp_path / "camera.y4m"))
    try:
        page = open_comfy(browser, server)
        page.server = server
        page.evaluate("() => window.app.extensionManager.command.execute('Workspace.ToggleBottomPanelTab.streamdit-live')")
        page.evaluate(RECORD_CAMERA)
        start_live(page, "streamdit_webcam_to_video", "camera", schedule="0: a blue square moving right", record=False,
                   skip_similar=0.0)
        page.fill(tid("strength"), "0.5")   # a camera at half the stream's rate: 0.5 follows its held frames closer
                                            # than 0.6 (bench/video_to_video.py, the 8 fps rows)
        page.click(tid("camera"))
        expect(page.locator(tid("camera"))).to_have_text("Stop camera")
        expect(page.locator(tid("camera-video"))).to_be_visible()   # the camera beside the output
        page.wait_for_function("document.querySelector('[data-testid=streamdit-camera-video]').videoWidth === 64")
        fed = "() => window.__out.filter(o => o[0] !== null).length"
        page.wait_for_function(f"({fed})() >= 48", timeout=120_000)
        expect(page.locator(tid("camera-stats"))).to_contain_text("in to out")
        shot(page, "panel-camera", page.locator(PANEL))
        sent, out = page.evaluate("() => [window.__sent, window.__out]")
        pairs = [(seen_jpeg(sent[str(stamp)] if str(stamp) in sent else sent[f"{stamp:.0f}"]), seen_jpeg(frame))
                 for stamp, _, _, frame in out if stamp is not None]
        blue = sum(o.colour == "blue" for _, o in pairs) / len(pairs)
        errors = [math.hypot(wrapped(o.x - i.x, 64), wrapped(o.y - i.y, 64)) for i, o in pairs
                  if i.colour is not None and o.colour is not None]
        print(f"camera: {len(pairs)} frames drawn from the camera, blue {blue:.0%}, "
              f"median centroid error {statistics.median(errors):.2f} px")
        # the prompt's colour where the camera's shape is (a stream ignoring the camera is ~20 px off; the
        # bench's 3 px target is for a file's frames one by one, a camera's are dropped when the stream is slow)
        assert blue >= 0.6 and statistics.median(errors) <= 4.0

        page.click(tid("camera"))                                 # the camera off: the prompt alone, no reset
        expect(page.locator(tid("camera"))).to_have_text("Use camera")
        before = len(page.evaluate("() => window.__out"))
        page.wait_for_function(f"window.__out.length >= {before + 24}", timeout=60_000)
        after = page.evaluate("() => window.__out")[before:]
        assert all(frame[0] is None for frame in after[12:])      # past the buffer, no frame took a camera frame
        assert len({frame[2] for frame in after}) == 1 and after[0][1] > out[-1][1]   # the same stream, going on

        viewer = browser.new_page(viewport={"width": 800, "height": 600})   # the standalone viewer's camera too
        viewer.goto(f"{server.url}/streamdit/view?stream=camera&strength=0.6")
        viewer.wait_for_function("window.streamditView && window.streamditView.player.stats.shown > 4", timeout=60_000)
        viewer.click("[data-testid=streamdit-view-camera]")
        expect(viewer.locator("[data-testid=streamdit-view-camera-video]")).to_be_visible()
        fed_again = len(page.evaluate("() => window.__out"))
        page.wait_for_function(f"window.__out.slice({fed_again}).filter(o => o[0] !== null).length >= 8",
                               timeout=60_000)
        shot(viewer, "standalone-viewer-camera")
        viewer.click("[data-testid=streamdit-view-camera]")
        viewer.close()
        page.click(tid("stop"))
        poll(lambda: idle(server), what="the run to stop")
    finally:
        browser.close()
        stop_if_running(server, "camera")


def test_a_still_camera_skips_steps_and_the_panel_counts_them(playwright_and_server, tmp_path):
    from stream_core.lab.evaluate import world_frames
    from stream_core.lab.world import Scene
    p, server = playwright_and_server
    still = ((world_frames(Scene("red", "circle", "right"), 1, 0) + 1) * 127.5).round().clamp(0, 255).expand(8, -1, -1, -1)
    write_y4m(str(tmp_path / "still.y4m"), still.byte().permute(0, 2, 3, 1).numpy(), FPS)
    browser = launch(p, camera=str(tmp_path / "still.y4m"))
    try:
        page = open_comfy(browser, server)
        page.server = server
        page.evaluate("() => window.app.extensionManager.command.execute('Workspace.ToggleBottomPanelTab.streamdit-live')")
        start_live(page, "streamdit_webcam_to_video", "still-camera", record=False, skip_similar=0.98)
        page.click(tid("camera"))
        page.wait_for_function("() => window.streamditLive.panel.state.similarity_filter?.skipped >= 4", timeout=60_000)
        expect(page.locator(tid("camera-stats"))).to_contain_text("unchanged input, steps skipped")
        shot(page, "panel-camera-still", page.locator(PANEL))
        page.click(tid("stop"))
        poll(lambda: idle(server), what="the run to stop")
        f = server.get("/streamdit/streams")["still-camera"]["similarity_filter"]
        assert f["threshold"] == 0.98 and 4 <= f["skipped"] <= f["checked"], f
    finally:
        browser.close()
        stop_if_running(server, "still-camera")
