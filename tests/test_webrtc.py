"""WebRTC playback (WHEP through aiortc, optional) against a real ComfyUI server: the offer's
refusals say why; the standalone viewer with ``&webrtc=1`` and the panel's WebRTC button play
a running stream in headless Chromium, in order."""
import copy
import os
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import sync_playwright

from browser import launch, open_comfy
from comfy_server import ComfyServer
from conftest import ROOT, load_workflow, poll

pytest.importorskip("aiortc", reason="aiortc is not installed (pip install aiortc): WebRTC playback is off")

STREAM = "3"
ARTIFACTS = os.path.join(ROOT, "out", "test-artifacts")


@pytest.fixture(scope="module")
def server(tmp_path_factory, comfy):
    with ComfyServer(str(tmp_path_factory.mktemp("webrtc"))) as s:
        yield s


def offer(server, body: bytes, stream: str = "rtc", content_type: str = "application/sdp",
          origin: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"{server.url}/streamdit/whep?stream={stream}", data=body, method="POST",
                                     headers={"Content-Type": content_type, **({"Origin": origin} if origin else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_bad_offer_is_refused_with_its_reason(server):
    for args, status, words in (((b"v=0",), 400, "cannot be answered"),
                                ((b"v=0", "rtc", "application/json"), 415, "application/sdp"),
                                ((b"v=0", "%3Cb%3E"), 400, "stream:"),
                                ((b"v" * 70_000,), 413, "at most"),
                                ((b"\xff\xfe",), 400, "UTF-8"),
                                ((b"v=0", "rtc", "application/sdp", "http://elsewhere.example"), 403, "")):
        got, text = offer(server, *args)   # another site's page: ComfyUI's own origin check may refuse it first
        assert got == status and words in text, (args[1:], got, text)
    assert server.request("DELETE", "/streamdit/whep/unknown")[0] == 404


COUNT_FRAMES = """(selector) => { const video = document.querySelector(selector);
    window.__frames = [];
    const each = (now, meta) => { window.__frames.push(meta.rtpTimestamp); video.requestVideoFrameCallback(each); };
    video.requestVideoFrameCallback(each); }"""


@pytest.fixture(scope="module")
def streaming(server):
    """A browser, and the endless workflow streaming 'rtc' until stopped."""
    prompt = copy.deepcopy(load_workflow("streamdit_endless_live"))
    prompt[STREAM]["inputs"].update(stream_id="rtc", frames=0, realtime=True, record=False)
    status, answer = server.queue(prompt)
    assert status == 200, answer
    try:
        with sync_playwright() as p:
            browser = launch(p)
            yield browser
            browser.close()
    finally:
        server.request("POST", "/streamdit/stop", {"stream_id": "rtc"})
        poll(lambda: not server.get("/queue")["queue_running"], timeout=60, what="the stream to stop")


def played_in_order(page, count: int) -> None:
    """Waits until the page's video has shown ``count`` frames; their RTP times rise (in order, none twice)."""
    poll(lambda: len(page.evaluate("() => window.__frames")) >= count, timeout=120, what=f"{count} WebRTC frames")
    stamps = page.evaluate("() => window.__frames")
    assert all(b > a for a, b in zip(stamps, stamps[1:])), stamps


def test_the_viewer_plays_a_stream_over_webrtc(server, streaming):
    page = streaming.new_page()
    page.goto(f"{server.url}/streamdit/view?stream=rtc&webrtc=1")   # the option survives the redirect
    page.wait_for_function("() => window.streamditView && window.streamditView.webrtc")
    page.evaluate(COUNT_FRAMES, "[data-testid=streamdit-view-rtc]")
    played_in_order(page, 32)
    info = page.locator("[data-testid=streamdit-view-info]").text_content()
    assert "WebRTC" in info and "frames" in info, info
    assert page.locator("[data-testid=streamdit-view-frame]").is_hidden()
    page.close()


def test_the_panel_plays_a_stream_over_webrtc_and_back(server, streaming):
    page = open_comfy(streaming, server)
    page.evaluate("() => window.app.extensionManager.command.execute('Workspace.ToggleBottomPanelTab.streamdit-live')")
    page.evaluate("() => window.streamditLive.panel.show('rtc')")
    panel = "[data-testid=streamdit-panel]"
    page.click(f"{panel} [data-testid=streamdit-webrtc]")
    page.evaluate(COUNT_FRAMES, f"{panel} [data-testid=streamdit-rtc]")
    played_in_order(page, 16)
    assert page.locator(f"{panel} [data-testid=streamdit-hint]").text_content() == "playing over WebRTC"
    assert page.locator(f"{panel} [data-testid=streamdit-frame]").is_hidden()
    poll(lambda: "fps" in page.locator(f"{panel} [data-testid=streamdit-rtc-stats]").text_content(),
         what="the WebRTC figures")
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.locator(panel).screenshot(path=os.path.join(ARTIFACTS, "panel-webrtc.png"))
    page.click(f"{panel} [data-testid=streamdit-webrtc]")   # back to the panel's own player
    assert page.locator(f"{panel} [data-testid=streamdit-frame]").is_visible()
    assert page.locator(f"{panel} [data-testid=streamdit-rtc]").is_hidden()
    page.close()
