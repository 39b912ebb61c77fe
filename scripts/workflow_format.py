"""Convert between ComfyUI's API prompt format and its UI workflow format.

Both directions follow /object_info: an input that is a widget (INT, FLOAT, STRING,
BOOLEAN, a combo) takes the next value of the UI node's ``widgets_values``, in the
order of the node's inputs; any other input is a link. A widget with a
'control after generate' companion takes one more value after it. Newer ComfyUI's dynamic
combos (SaveVideo's format and codec) take one value as a combo does: the pack's workflows
name the option and leave its nested inputs at their defaults.
"""
from __future__ import annotations

import uuid

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "COMFY_DYNAMICCOMBO_V3"}
FRONTEND_ONLY = {"Note", "MarkdownNote"}


def _inputs(info: dict) -> list[tuple[str, list]]:
    spec = info["input"]
    return [(name, spec[group][name]) for group in ("required", "optional") for name in spec.get(group, {})]


def _is_widget(spec: list) -> bool:
    kind = spec[0]
    return isinstance(kind, list) or kind in WIDGET_TYPES


def _has_control(name: str, spec: list) -> bool:
    options = spec[1] if len(spec) > 1 else {}
    control = options.get("control_after_generate")
    return bool(control) if control is not None else (spec[0] == "INT" and name in ("seed", "noise_seed"))


def api_to_ui(api: dict, object_info: dict) -> dict:
    """A UI workflow for an API prompt, every node at the origin (scripts/workflow_layout.js
    places them)."""
    nodes, links = [], []
    ids = {key: int(key) for key in api}
    out_links: dict[tuple[int, int], list[int]] = {}
    for order, (key, node) in enumerate(api.items()):
        info = object_info[node["class_type"]]
        inputs, widgets = [], []
        for name, spec in _inputs(info):
            value = node["inputs"].get(name)
            if isinstance(value, list):
                links.append([len(links) + 1, ids[value[0]], value[1], ids[key], len(inputs), None])
                out_links.setdefault((ids[value[0]], value[1]), []).append(len(links))
                inputs.append({"name": name, "type": spec[0], "link": len(links)})
            elif _is_widget(spec) and value is not None:
                widgets.append(value)
                if _has_control(name, spec):
                    widgets.append("fixed")
        nodes.append({"id": ids[key], "type": node["class_type"], "pos": [0, 0], "size": [320, 200],
                      "flags": {}, "order": order, "mode": 0, "inputs": inputs, "outputs": [],
                      "properties": {"Node name for S&R": node["class_type"]}, "widgets_values": widgets,
                      **({"title": node["_meta"]["title"]} if "_meta" in node else {})})
    for node in nodes:
        info = object_info[node["type"]]
        node["outputs"] = [{"name": name, "type": kind, "slot_index": slot,
                            "links": out_links.get((node["id"], slot), [])}
                           for slot, (name, kind) in enumerate(zip(info["output_name"], info["output"]))]
    for link in links:
        origin = next(n for n in nodes if n["id"] == link[1])
        link[5] = origin["outputs"][link[2]]["type"]
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, repr(sorted(api)) + repr([n["type"] for n in nodes]))),
            "revision": 0, "last_node_id": max(ids.values()), "last_link_id": len(links),
            "nodes": nodes, "links": links, "groups": [], "config": {},
            "extra": {"ds": {"scale": 1.0, "offset": [0, 0]}}, "version": 0.4}


def ui_to_api(ui: dict, object_info: dict) -> dict:
    """The API prompt the frontend would queue for a UI workflow (links and widgets only);
    frontend-only nodes (notes) have no part in it."""
    links = {link[0]: link for link in ui["links"]}
    api = {}
    for node in ui["nodes"]:
        if node["type"] in FRONTEND_ONLY:
            continue
        info = object_info[node["type"]]
        linked = {i["name"]: i["link"] for i in node.get("inputs", []) if i.get("link") is not None}
        values = list(node.get("widgets_values", []))
        inputs = {}
        for name, spec in _inputs(info):
            if name in linked:
                link = links[linked[name]]
                inputs[name] = [str(link[1]), link[2]]
            elif _is_widget(spec) and values:
                inputs[name] = values.pop(0)
                if _has_control(name, spec):
                    values.pop(0)
        api[str(node["id"])] = {"class_type": node["type"], "inputs": inputs,
                                **({"_meta": {"title": node["title"]}} if "title" in node else {})}
    return api
