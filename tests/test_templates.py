"""The shipped workflows as a user meets them, in headless Chromium against a real ComfyUI:
the template browser lists each with its title, description and a thumbnail that loads; each
opens from there with no node over another; the Wan ones name their missing files with
download links. Screenshots go to out/test-artifacts/ (not committed)."""
import json
import os
import re
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from browser import launch, open_comfy
from comfy_server import PACK_NAME, ComfyServer
from conftest import ROOT, load_workflow, poll, workflow_names

ARTIFACTS = os.path.join(ROOT, "out", "test-artifacts")
with open(os.path.join(ROOT, "web", "templates.json")) as f:
    METADATA = json.load(f)["templates"]
WAN = [t["name"] for t in METADATA if "wan" in t["name"]]


def shot(page, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, name + ".png"))


@pytest.fixture(scope="module")
def page(tmp_path_factory, comfy):
    """A ComfyUI page with only the pack installed (no Wan files), which records every failed request."""
    base = str(tmp_path_factory.mktemp("templates-base"))
    with ComfyServer(base) as server, sync_playwright() as p:
        browser = launch(p)
        page = open_comfy(browser, server, 1440, 900)
        page.failed = []
        page.on("response", lambda r: page.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        yield page
        browser.close()


def open_templates(page) -> None:
    """Workflow > Browse Templates, then the pack's own category."""
    page.keyboard.press("Escape")
    page.evaluate("() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates')")
    page.get_by_text(PACK_NAME, exact=True).first.click()
    expect(page.locator("[data-testid^=template-workflow-]").first).to_be_visible()
    page.wait_for_function(f"document.querySelectorAll('[data-testid^=template-workflow-]').length >= {len(METADATA)}",
                           timeout=10_000)   # the cards render in batches


def cards(page) -> list[str]:
    return page.eval_on_selector_all("[data-testid^=template-workflow-]",
                                     "cards => cards.map(c => c.dataset.testid.slice('template-workflow-'.length))")


def test_the_template_browser_shows_every_workflow_with_title_description_and_thumbnail(page):
    assert sorted(t["name"] for t in METADATA) == workflow_names()
    open_templates(page)
    assert cards(page) == [t["name"] for t in METADATA], "not every workflow, or not in the pack's order"
    # older browsers write each description on its card; newer ones (1.49 on) keep it for the template's
    # detail view, from the index the pack's entries join
    index = page.evaluate("async () => (await (await import('/scripts/api.js')).api.getCoreWorkflowTemplates('en'))"
                          ".flatMap(c => c.templates ?? []).filter(t => t.name.startsWith('streamdit_'))")
    assert [(t["name"], t["title"], t["description"]) for t in index] == [
        (t["name"], t["title"], t["description"]) for t in METADATA]
    on_cards = METADATA[0]["description"] in page.locator("[data-testid^=template-workflow-]").first.inner_text()
    for template in METADATA:
        card = page.locator(f"[data-testid=template-workflow-{template['name']}]")
        card.scroll_into_view_if_needed()
        text = card.inner_text()
        assert template["title"] in text and (template["description"] in text or not on_cards), text
        image = card.locator("img").first
        image.wait_for()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                               timeout=10_000)
        assert image.get_attribute("alt") == template["title"]
    page.locator("[data-testid^=template-workflow-]").first.scroll_into_view_if_needed()
    shot(page, "templates-browser")
    assert not [f for f in page.failed if "/workflow_templates/" in f or "/extensions/" in f], page.failed


def node_bounds(page) -> list[dict]:
    """Every node's rectangle on the canvas, title bar included, and the groups'."""
    return page.evaluate("""() => {
        const graph = window.app.graph;
        const nodes = graph.nodes.map(n => { const [x, y, w, h] = n.boundingRect;
                                             return {id: n.id, type: n.type, x, y, w, h}; });
        const groups = graph.groups.map(g => { const [x, y, w, h] = g._bounding; return {title: g.title, x, y, w, h}; });
        return {nodes, groups, ds: {scale: window.app.canvas.ds.scale, offset: [...window.app.canvas.ds.offset]}};
    }""")


def overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def inside(a: dict, b: dict) -> bool:
    return b["x"] <= a["x"] and a["x"] + a["w"] <= b["x"] + b["w"] and b["y"] <= a["y"] and a["y"] + a["h"] <= b["y"] + b["h"]


def settled_layout(page) -> dict:
    """``node_bounds`` once two reads a frame apart agree (the frontend has sized every widget)."""
    before = None

    def settled():
        nonlocal before
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        now = node_bounds(page)
        stable, before = now == before, now
        return stable and now

    return poll(settled, timeout=60, what="the workflow's layout to settle")


@pytest.mark.parametrize("name", [t["name"] for t in METADATA])
def test_each_workflow_opens_from_the_template_browser_with_no_node_over_another(page, name):
    open_templates(page)
    page.locator(f"[data-testid=template-workflow-{name}]").click()
    workflow = load_workflow(name, api=False)
    page.wait_for_function("(n) => window.app.graph.nodes.length === n", arg=len(workflow["nodes"]))
    if any(n["properties"].get("models") for n in workflow["nodes"]) and not has_issues_panel(page):
        missing = page.get_by_role("dialog").filter(has_text="Missing Models")   # the Wan workflows' (tested below)
        expect(missing).to_be_visible()
        page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    layout = settled_layout(page)        # the frontend sizes DOM widgets after load
    nodes, groups = layout["nodes"], layout["groups"]
    assert any(n["type"] == "MarkdownNote" for n in nodes), "no note on what to try"
    crossing = [(a["type"], b["type"]) for i, a in enumerate(nodes) for b in nodes[i + 1:] if overlap(a, b)]
    assert not crossing, f"overlapping nodes: {crossing}"
    loose = [n["type"] for n in nodes if n["type"] != "MarkdownNote" and not any(inside(n, g) for g in groups)]
    assert not loose, f"nodes in no group: {loose}"
    # the saved view starts right of the side bar and below the top bar
    scale, (ox, oy) = layout["ds"]["scale"], layout["ds"]["offset"]
    left, top = min((n["x"] + ox) * scale for n in nodes), min((n["y"] + oy) * scale for n in nodes)
    assert left >= 60 and top >= 110, (left, top)
    shot(page, f"workflow-{name}")


def has_issues_panel(page) -> bool:
    """Newer frontends (1.5x) list a workflow's missing files in their own Issues panel, from the
    nodes' ``properties.models``, and have no missing-models dialog for the pack to open."""
    return page.evaluate("() => typeof window.app.showMissingModelsError !== 'function'")


@pytest.mark.parametrize("name", WAN)
def test_a_wan_workflow_without_its_files_lists_them_with_download_links_on_load_and_on_queue(page, name):
    wanted = {m["name"]: m for n in load_workflow(name, api=False)["nodes"] for m in n["properties"].get("models", [])}
    assert wanted and all(m["url"].startswith("https://huggingface.co/") and m["url"].endswith("/" + m["name"])
                          for m in wanted.values())
    open_templates(page)
    page.locator(f"[data-testid=template-workflow-{name}]").click()
    if has_issues_panel(page):
        issues_panel_lists_the_files(page, name, wanted)
        return
    dialog = page.get_by_role("dialog").filter(has_text="Missing Models")
    expect(dialog).to_be_visible()
    for file, model in wanted.items():
        row = dialog.locator("li, .p-listbox-option, [role=option]").filter(has_text=file)
        expect(row.first).to_be_visible()
        assert f"{model['directory']} / {file}" in row.first.inner_text()
        expect(row.first.get_by_role("button", name="Download")).to_be_visible()
    shot(page, f"missing-models-{name}")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    # queued anyway: ComfyUI refuses it, and the same dialog opens over its validation error
    page.evaluate("() => window.app.queuePrompt(0)")
    expect(dialog).to_be_visible()
    for file in wanted:
        expect(dialog.get_by_text(file).first).to_be_visible()
    assert page.get_by_role("dialog").count() == 2, "the validation error is not behind it"
    shot(page, f"missing-models-on-queue-{name}")
    while page.get_by_role("dialog").count():
        page.keyboard.press("Escape")
        time.sleep(0.3)


def issues_panel_lists_the_files(page, name: str, wanted: dict) -> None:
    """On a frontend with an Issues panel: the files are listed there on load, each with its folder
    and a Download button; Run is refused with the same list ("Blocked last run"), no dialog of
    the pack's opens and nothing is left running."""
    section = page.locator("div").filter(has_text="Missing Models").filter(
        has=page.get_by_role("button", name="Download all")).last

    def details_shown() -> bool:
        """The newest workflow's "View details" opens the panel (listed once the frontend has
        checked the files: on a loaded machine, a while after the workflow opens)."""
        links = page.get_by_text("View details")
        if links.count():
            links.last.click()
            try:
                expect(section).to_be_visible(timeout=5_000)
            except AssertionError:
                page.keyboard.press("Escape")
        return section.is_visible()

    poll(details_shown, timeout=90, what="the Issues panel to list the missing models")
    for file, model in wanted.items():
        row = section.locator("div").filter(has_text=file).filter(has=page.get_by_role("button", name="Download")).last
        expect(row).to_be_visible()
        assert model["directory"] in row.inner_text()
    shot(page, f"missing-models-{name}")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Run").first.click()
    expect(page.get_by_text(re.compile("Blocked last run|errors? found|issues? found")).first).to_be_visible()
    for file in wanted:
        expect(section.get_by_text(file).first).to_be_visible()
    expect(page.get_by_role("dialog").filter(has_text="Missing Models")).to_have_count(0)
    assert page.evaluate("async () => (await (await import('/scripts/api.js')).api.getQueue()).Running.length") == 0
    shot(page, f"missing-models-on-queue-{name}")
    page.keyboard.press("Escape")


def test_the_live_panel_opens_from_the_keyboard_as_the_notes_say(page):
    """The notes send people to View > StreamDiT Live or Alt + L."""
    page.keyboard.press("Escape")
    page.evaluate("() => document.activeElement?.blur()")   # no text field takes the keys
    panel = page.locator("[data-testid=streamdit-panel]")
    expect(panel).to_have_count(0)
    page.keyboard.press("Alt+l")
    expect(panel).to_be_visible()
    page.keyboard.press("Alt+l")
    expect(panel).to_be_hidden()
    item = page.get_by_role("menuitem", name="StreamDiT Live", exact=True)   # not a note's words

    def view_menu_open() -> bool:
        """Open the menu and its View submenu (again, where a busy page let the hover pass unseen)."""
        view = page.get_by_role("menuitem", name="View", exact=True)
        if not view.is_visible():
            page.locator(".comfyui-logo, [data-testid=comfy-menu-button]").first.click()
        view.hover()
        return item.is_visible()
    poll(view_menu_open, timeout=60, what="View > StreamDiT Live in ComfyUI's menu")
    item.click()
    expect(panel).to_be_visible()
    page.keyboard.press("Alt+l")
