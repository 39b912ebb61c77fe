"""Write locales/en/nodeDefs.json: every node's display name, description, input names and
tooltips and output names and tooltips, as ComfyUI's frontend looks them up for translation
(nodeDefs.<node>.inputs.<input>.name / .tooltip, nodeDefs.<node>.outputs.<index>.name / .tooltip).

English is the node schemas' own text (read from a live server's /object_info); a translation
is a copy of this file under locales/<language>/ with the text translated.
Run: .venv/bin/python scripts/make_locales.py
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from comfy_server import PACK_NAME, ROOT, ComfyServer  # noqa: E402

PATH = os.path.join(ROOT, "locales", "en", "nodeDefs.json")


def _text(**fields) -> dict:
    return {key: value for key, value in fields.items() if value}


def node_defs(object_info: dict) -> dict:
    """The pack's nodes in /object_info as ComfyUI's nodeDefs locale."""
    defs = {}
    for name, info in sorted(object_info.items()):
        if info["python_module"] != f"custom_nodes.{PACK_NAME}":
            continue
        inputs = {}
        for group in ("required", "optional"):
            for key, spec in info["input"].get(group, {}).items():
                options = spec[1] if len(spec) > 1 else {}
                inputs[key] = _text(name=options.get("display_name", key), tooltip=options.get("tooltip"))
        tooltips = info.get("output_tooltips") or [None] * len(info["output_name"])
        outputs = {str(i): _text(name=out, tooltip=tip) for i, (out, tip) in enumerate(zip(info["output_name"], tooltips))}
        defs[name] = _text(display_name=info["display_name"], description=info["description"], inputs=inputs,
                           outputs=outputs)
    return defs


def main() -> None:
    with tempfile.TemporaryDirectory() as base, ComfyServer(base) as server:
        defs = node_defs(server.get("/object_info"))
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    with open(PATH, "w", encoding="utf-8") as f:
        json.dump(defs, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print("wrote", PATH, f"({len(defs)} nodes)")


if __name__ == "__main__":
    main()
