"""Headless Chromium on ComfyUI's frontend (Debian's chromium driven by Playwright), for the
tests and the scripts that record or lay out what the frontend shows."""
from __future__ import annotations

import os

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
READY = "window.app && window.app.graph && window.app.extensionManager && window.streamditLive"


def launch(playwright, camera: str | None = None):
    """A headless Chromium (Playwright's ``sync_playwright()`` object in, its Browser out).
    ``camera``: a .y4m video its fake camera plays (in a loop), allowed without asking."""
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"Chromium is missing at {CHROMIUM}: scripts/setup.sh installs it with apt")
    fake_camera = [] if camera is None else ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                             f"--use-file-for-fake-video-capture={camera}"]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS + fake_camera)


def open_comfy(browser, server, width: int = 1280, height: int = 720):
    """A page on ``server`` (a ComfyServer) once the frontend and this pack's extension have loaded.
    The first-run template dialog is turned off first."""
    server.request("POST", "/settings/Comfy.TutorialCompleted", True)
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(server.url)
    page.wait_for_function(READY, timeout=90_000)
    return page
