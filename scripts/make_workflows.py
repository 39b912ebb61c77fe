"""Write the shipped workflows (UI format in workflows/, API format in workflows/api/).

The UI files are derived from the API prompts below and the live server's /object_info,
so widget order always matches the nodes. Run: .venv/bin/python scripts/make_workflows.py
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from comfy_server import ROOT, ComfyServer  # noqa: E402
from workflow_format import api_to_ui  # noqa: E402

MODEL = "streamdit-shapes-64px.safetensors"
SCHEDULE = "0: a red circle moving right\n32: a blue square moving up"


def stream_workflow(action: str, stream_id: str, frames: int, prefix: str, schedule: str) -> dict:
    return {
        "1": {"class_type": "StreamDiTLoader", "inputs": {"model_name": MODEL, "device": "auto", "dtype": "float32"}},
        "2": {"class_type": "StreamDiTPromptSchedule", "inputs": {"schedule": schedule, "transition": 8}},
        "3": {"class_type": "StreamDiTStream", "inputs": {
            "model": ["1", 0], "schedule": ["2", 0], "stream_id": stream_id, "action": action, "seed": 0,
            "width": 64, "height": 64, "K": 0, "N": 4, "c": 2, "s": 2, "guidance": 3.0, "frames": frames}},
        "4": {"class_type": "StreamDiTFrameOutput", "inputs": {"frames": ["3", 0], "fps": 8.0}},
        "5": {"class_type": "SaveVideo", "inputs": {"video": ["4", 1], "filename_prefix": prefix,
                                                     "format": "mp4", "codec": "h264"}},
    }


WORKFLOWS = {
    "streamdit_text_to_video": stream_workflow("restart", "t2v", 64, "streamdit/text_to_video", SCHEDULE),
    "streamdit_continue_stream": stream_workflow("continue", "live", 16, "streamdit/continue",
                                                 "0: a green triangle moving left"),
}
POSITIONS = {"1": (40, 60), "2": (40, 240), "3": (420, 60), "4": (800, 60), "5": (1160, 60)}


def main() -> None:
    with tempfile.TemporaryDirectory() as base, ComfyServer(base) as server:
        object_info = server.get("/object_info")
    os.makedirs(os.path.join(ROOT, "workflows", "api"), exist_ok=True)
    for name, api in WORKFLOWS.items():
        with open(os.path.join(ROOT, "workflows", "api", name + ".json"), "w") as f:
            json.dump(api, f, indent=2)
            f.write("\n")
        with open(os.path.join(ROOT, "workflows", name + ".json"), "w") as f:
            json.dump(api_to_ui(api, object_info, POSITIONS), f, indent=2)
            f.write("\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
