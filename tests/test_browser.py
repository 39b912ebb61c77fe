"""End to end in headless Chromium: the shipped workflow streams into the live panel and is
re-prompted from it. A screenshot of the panel is kept in out/test-artifacts/ (not committed)."""
import os
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from comfy_server import ComfyServer
from conftest import ROOT, load_workflow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
ARTIFACTS = os.path.join(ROOT, "out", "test-artifacts")
PANEL = "[data-testid=streamdit-panel]"


def tid(name: str) -> str:
    return f"{PANEL} [data-testid=streamdit-{name}]"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    assert os.path.exists(CHROMIUM), "Chromium is missing: scripts/setup.sh installs it with apt"
    with ComfyServer(str(tmp_path_factory.mktemp("browser-base"))) as server, sync_playwright() as p:
        server.request("POST", "/settings/Comfy.TutorialCompleted", True)   # no first-run template dialog
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.server = server
        page.goto(server.url)
        page.wait_for_function("window.app && window.app.graph && window.app.extensionManager", timeout=90_000)
        yield page
        browser.close()


def counter(page) -> int:
    text = page.inner_text(tid("counter"))
    return int(text) if text else -1


def test_the_workflow_streams_into_the_panel_and_is_reprompted_live(page):
    server = page.server
    # load the shipped workflow the way the template browser does, and open the panel
    workflow = server.get("/api/workflow_templates/streamdit-comfy/streamdit_text_to_video.json")
    page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", workflow)
    page.evaluate("() => window.app.extensionManager.command.execute("
                  "'Workspace.ToggleBottomPanelTab.streamdit-live')")
    expect(page.locator(tid("empty"))).to_be_visible()
    # a long run, so there is time to steer it; queued as the Run button queues
    page.evaluate("""() => {
        const node = window.app.graph._nodes.find(n => n.type === 'StreamDiTStream');
        node.widgets.find(w => w.name === 'frames').value = 100000;
        return window.app.queuePrompt(0);
    }""")
    page.wait_for_function(f"document.querySelector('{tid('counter')}')?.textContent >= 0", timeout=120_000)
    first_count, first_src = counter(page), page.get_attribute(tid("frame"), "src")
    page.wait_for_function(f"Number(document.querySelector('{tid('counter')}').textContent) > {first_count + 2}",
                           timeout=60_000)
    assert page.get_attribute(tid("frame"), "src") != first_src           # the image changes
    chunks = load_workflow("streamdit_text_to_video")["3"]["inputs"]["N"]
    expect(page.locator(tid("bar"))).to_have_count(chunks)                # one bar per chunk
    expect(page.locator(tid("stream"))).to_contain_text("t2v — running")
    assert page.evaluate("() => window.app.graph._nodes.find(n => n.type === 'StreamDiTStream').imgs?.length") == 1

    # switch the prompt live
    page.fill(tid("input"), "a yellow square moving down")
    page.click(tid("switch"))
    deadline = time.monotonic() + 60
    while server.get("/streamdit/streams")["t2v"]["prompt"] != "a yellow square moving down":
        assert time.monotonic() < deadline, "the server never reported the new prompt"
        time.sleep(0.1)
    expect(page.locator(tid("prompt"))).to_have_text("prompt: a yellow square moving down", timeout=30_000)
    at_switch = counter(page)
    page.wait_for_function(f"Number(document.querySelector('{tid('counter')}').textContent) > {at_switch + 2}",
                           timeout=60_000)

    # user text is text, never HTML
    hostile = '<img src=x onerror="window.__pwned=1"><b>bold</b>'
    page.fill(tid("input"), hostile)
    page.click(tid("switch"))
    expect(page.locator(tid("prompt"))).to_have_text("prompt: " + hostile, timeout=30_000)
    assert page.locator(f"{tid('prompt')} *").count() == 0
    assert page.evaluate("() => window.__pwned") is None

    os.makedirs(ARTIFACTS, exist_ok=True)
    page.locator(PANEL).screenshot(path=os.path.join(ARTIFACTS, "panel.png"))

    # stop ends the run with the frames it made
    page.click(tid("stop"))
    expect(page.locator(tid("stream"))).to_contain_text("t2v — idle", timeout=60_000)
    assert not server.get("/streamdit/streams")["t2v"]["running"]
    deadline = time.monotonic() + 60
    while server.get("/queue")["queue_running"]:     # the frame output and the video save finish the run
        assert time.monotonic() < deadline, "the stopped run never finished"
        time.sleep(0.2)
    (entry,) = server.get("/history").values()
    assert entry["status"]["status_str"] == "success"
    assert len(entry["outputs"]["4"]["images"]) >= at_switch
