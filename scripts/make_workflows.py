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

sys.path.insert(0, ROOT)
from stream_core.engine.guidance import GUIDANCE_UNTIL  # noqa: E402
from stream_core.engine.partition import Partition  # noqa: E402

MODEL = "streamdit-shapes-64px.safetensors"
STUDENT = "streamdit-shapes-64px-distilled.safetensors"   # one pass per buffer shift: s = 1, no guidance
SCHEDULE = "0: a red circle moving right\n32: a blue square moving up"
# green triangles and magenta squares are held out of training: the student composes them
FAST_SCHEDULE = ("0: a red circle moving right\n64: a green triangle moving left\n"
                 "128: a magenta square moving down\n192: a yellow circle moving quickly up")
ENDLESS_SCHEDULE = "0: a red circle moving right"


def stream_workflow(action: str, stream_id: str, frames: int, prefix: str | None, schedule: str,
                    model: str = MODEL, K: int = 2, s: int = 2, guidance: float = 3.0, fps: float = 8.0,
                    realtime: bool = False, record: bool = False) -> dict:
    """A stream of the shipped model's 8-frame buffer: K references, then chunks of c = 2.
    K = 2 keeps the teacher's objects as steady as the diagonal scheme's (README). With a
    ``prefix``, Frame Output and Save Video follow (at the stream's fps); without, the
    stream node is the workflow's only output (its recording)."""
    p = Partition.filling(8, K=K, c=2, s=s)
    workflow = {
        "1": {"class_type": "StreamDiTLoader", "inputs": {"model_name": model, "device": "auto", "dtype": "float32"}},
        "2": {"class_type": "StreamDiTPromptSchedule", "inputs": {"schedule": schedule, "transition": 8}},
        "3": {"class_type": "StreamDiTStream", "inputs": {
            "model": ["1", 0], "schedule": ["2", 0], "stream_id": stream_id, "action": action, "seed": 0,
            "width": 64, "height": 64, "K": p.K, "N": p.N, "c": p.c, "s": p.s, "guidance": guidance, "frames": frames,
            "guidance_until": GUIDANCE_UNTIL, "fps": fps, "realtime": realtime, "record": record}},
    }
    if prefix is not None:
        workflow.update({
            "4": {"class_type": "StreamDiTFrameOutput", "inputs": {"frames": ["3", 0], "fps": 0.0}},
            "5": {"class_type": "SaveVideo", "inputs": {"video": ["4", 1], "filename_prefix": prefix,
                                                         "format": "mp4", "codec": "h264"}}})
    return workflow


STREAM_POSITIONS = {"1": (40, 60), "2": (40, 240), "3": (420, 60), "4": (800, 60), "5": (1160, 60)}

# Wan 2.1 T2V 1.3B with the stock loaders; file names as in ComfyUI's own Wan templates
WAN_NEGATIVE = "blurry, low quality, static, still frame, distorted, deformed, watermark, text"


def wan_workflow(unet: str, low_noise_unet: str | None = None) -> dict:
    """Wan T2V through the stock loaders; with ``low_noise_unet``, Wan 2.2 A14B's two experts."""
    encode = lambda text: {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["3", 0]}}  # noqa: E731
    load = lambda name: {"class_type": "UNETLoader", "inputs": {"unet_name": name, "weight_dtype": "default"}}  # noqa: E731
    shift = lambda model: {"class_type": "ModelSamplingSD3", "inputs": {"model": [model, 0], "shift": 8.0}}  # noqa: E731
    workflow = {
        "1": load(unet),
        "2": shift("1"),
        "3": {"class_type": "CLIPLoader", "inputs": {"clip_name": "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                                                      "type": "wan", "device": "default"}},
        "4": encode("a red fox trotting through a snowy forest, soft morning light, cinematic"),
        "5": encode(WAN_NEGATIVE),
        "6": {"class_type": "VAELoader", "inputs": {"vae_name": "wan_2.1_vae.safetensors"}},
        "7": encode("a red fox leaping over a frozen stream, snow flying, cinematic"),
        "8": {"class_type": "StreamDiTConditioningSchedule", "inputs": {
            "conditioning": ["7", 0], "frame": 81, "label": "fox leaps", "transition": 8}},
        "9": {"class_type": "StreamDiTWanStream", "inputs": {
            "model": ["2", 0], "positive": ["4", 0], "negative": ["5", 0], "vae": ["6", 0], "stream_id": "wan",
            "action": "continue", "seed": 0, "width": 832, "height": 480, "K": 0, "N": 5, "c": 2, "s": 4,
            "scheduler": "simple", "guidance": 5.0, "frames": 161, "schedule": ["8", 0], "boundary": 0.875,
            "decoder": "vae", "fps": 16.0, "realtime": False, "record": False}},
        "10": {"class_type": "StreamDiTFrameOutput", "inputs": {"frames": ["9", 0], "fps": 0.0}},
        "11": {"class_type": "SaveVideo", "inputs": {"video": ["10", 1], "filename_prefix": "streamdit/wan",
                                                      "format": "mp4", "codec": "h264"}},
    }
    if low_noise_unet:
        workflow.update({"12": load(low_noise_unet), "13": shift("12")})
        workflow["9"]["inputs"].update(model_low_noise=["13", 0])
    return workflow


# a 4-step distillation of Wan 2.1 1.3B (Self-Forcing DMD, as a LoRA) and the tiny TAEHV decoder
REALTIME_LORA = "Wan2_1_self_forcing_dmd_1_3B_lora_rank_32_fp16.safetensors"
TINY_DECODER = "taew2_1.safetensors"


def wan_realtime_workflow() -> dict:
    """Wan 2.1 1.3B streamed live: 4 steps (N=4, s=1), guidance 1 (one pass per shift), c=2, decoded
    by the tiny decoder, paced to 16 fps and recorded, continuing on every queue."""
    workflow = wan_workflow("wan2.1_t2v_1.3B_fp16.safetensors")
    for node in ("7", "8", "10", "11"):   # one prompt, no clip outputs: the stream node records
        del workflow[node]
    workflow["12"] = {"class_type": "LoraLoaderModelOnly", "inputs": {"model": ["1", 0], "lora_name": REALTIME_LORA,
                                                                     "strength_model": 1.0}}
    workflow["2"]["inputs"]["model"] = ["12", 0]
    workflow["9"]["inputs"].update(stream_id="wan-live", K=0, N=4, c=2, s=1, guidance=1.0, frames=32,
                                   decoder=TINY_DECODER, realtime=True, record=True)
    del workflow["9"]["inputs"]["schedule"]
    return workflow


WAN_POSITIONS = {"1": (40, 60), "2": (40, 200), "3": (40, 320), "4": (420, 60), "5": (420, 300), "6": (40, 460),
                 "7": (420, 540), "8": (820, 540), "9": (1220, 60), "10": (1600, 60), "11": (1960, 60),
                 "12": (40, 640), "13": (40, 780)}

WORKFLOWS = {
    "streamdit_text_to_video": (stream_workflow("restart", "t2v", 64, "streamdit/text_to_video", SCHEDULE),
                                STREAM_POSITIONS),
    "streamdit_continue_stream": (stream_workflow("continue", "live", 16, "streamdit/continue",
                                                  "0: a green triangle moving left"), STREAM_POSITIONS),
    "streamdit_fast_distilled": (stream_workflow("restart", "fast", 256, "streamdit/fast", FAST_SCHEDULE,
                                                 model=STUDENT, K=0, s=1, guidance=1.0, fps=16.0), STREAM_POSITIONS),
    # queue with Run (Instant): every run continues the stream, paced to 16 fps, into one growing video
    "streamdit_endless_live": (stream_workflow("continue", "endless", 32, None, ENDLESS_SCHEDULE, model=STUDENT, K=0,
                                               s=1, guidance=1.0, fps=16.0, realtime=True, record=True),
                               STREAM_POSITIONS),
    "streamdit_wan21_t2v_1_3b": (wan_workflow("wan2.1_t2v_1.3B_fp16.safetensors"), WAN_POSITIONS),
    "streamdit_wan22_t2v_a14b": (wan_workflow("wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors",
                                              "wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors"), WAN_POSITIONS),
    "streamdit_wan21_t2v_1_3b_realtime": (wan_realtime_workflow(), {**WAN_POSITIONS, "12": (40, 200), "2": (40, 330),
                                                                    "3": (40, 450), "6": (40, 590)}),
}


def main() -> None:
    with tempfile.TemporaryDirectory() as base, ComfyServer(base) as server:
        object_info = server.get("/object_info")
    os.makedirs(os.path.join(ROOT, "workflows", "api"), exist_ok=True)
    for name, (api, positions) in WORKFLOWS.items():
        with open(os.path.join(ROOT, "workflows", "api", name + ".json"), "w") as f:
            json.dump(api, f, indent=2)
            f.write("\n")
        with open(os.path.join(ROOT, "workflows", name + ".json"), "w") as f:
            json.dump(api_to_ui(api, object_info, positions), f, indent=2)
            f.write("\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
