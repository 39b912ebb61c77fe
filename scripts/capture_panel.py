"""Record the live panel during a real run into docs/panel.gif (for the README).

Starts ComfyUI with the pack, opens it in headless Chromium, loads the shipped endless
live workflow (the distilled student, paced to 16 fps), queues it for 400 frames,
screenshots the StreamDiT Live panel while it plays and re-prompts the stream from the
panel half-way.
Run: .venv/bin/python scripts/capture_panel.py
"""
from __future__ import annotations

import io
import os
import sys
import tempfile
import time

from PIL import Image
from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import launch, open_comfy  # noqa: E402
from comfy_server import ROOT, ComfyServer  # noqa: E402


def main(shots: int = 40, every: float = 0.25) -> None:
    with tempfile.TemporaryDirectory() as base, ComfyServer(base) as server, sync_playwright() as p:
        browser = launch(p)
        page = open_comfy(browser, server, 1000, 1200)
        workflow = server.get("/api/workflow_templates/streamdit-comfy/streamdit_endless_live.json")
        page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", workflow)
        page.evaluate("() => window.app.extensionManager.command.execute("
                      "'Workspace.ToggleBottomPanelTab.streamdit-live')")
        page.evaluate("""() => {
            const node = window.app.graph._nodes.find(n => n.type === 'StreamDiTStream');
            node.widgets.find(w => w.name === 'frames').value = 400;
            node.widgets.find(w => w.name === 'record').value = false;
            return window.app.queuePrompt(0);
        }""")
        page.wait_for_function("window.streamditLive.panel.player.stats.shown > 16", timeout=120_000)
        panel = page.locator("[data-testid=streamdit-panel]")
        frames = []
        for shot in range(shots):
            if shot == shots // 2:   # re-prompt the running stream from the panel
                page.fill("[data-testid=streamdit-input]", "a yellow triangle moving down")
                page.click("[data-testid=streamdit-switch]")
            frames.append(Image.open(io.BytesIO(panel.screenshot())).convert("RGB"))
            time.sleep(every)
        browser.close()
    os.makedirs(os.path.join(ROOT, "docs"), exist_ok=True)
    path = os.path.join(ROOT, "docs", "panel.gif")
    small = [f.resize((f.width * 4 // 5, f.height * 4 // 5)).quantize(64) for f in frames]
    small[0].save(path, save_all=True, append_images=small[1:], duration=int(every * 1000), loop=0)
    print("wrote", path)


if __name__ == "__main__":
    main()
