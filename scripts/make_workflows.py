"""Write the shipped workflow templates: example_workflows/{name}.json (the UI format, laid
out by ComfyUI's own frontend), example_workflows/api/{name}.json (the API format), a
thumbnail of each ({name}.jpg, and {name}.webp from real runs of the pack's own model), the
template browser's metadata (web/templates.json) and the pack's icon (docs/icon.png).

The workflows are written as API prompts below; their UI form follows the live server's
/object_info, so widget order always matches the nodes. Run: .venv/bin/python scripts/make_workflows.py
(a few minutes on a CPU: it starts ComfyUI and Chromium and runs every native workflow).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import tomllib
from dataclasses import dataclass

from PIL import Image, ImageSequence
from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import thumbnails  # noqa: E402
from browser import launch, open_comfy  # noqa: E402
from comfy_server import PACK_NAME, ROOT, ComfyServer  # noqa: E402
from workflow_format import api_to_ui  # noqa: E402

sys.path.insert(0, ROOT)
from stream_core.engine.frame_input import DEFAULT_STRENGTH, VIDEO_GUIDANCE  # noqa: E402
from stream_core.engine.guidance import GUIDANCE_UNTIL  # noqa: E402
from stream_core.engine.partition import Partition  # noqa: E402
from stream_core.engine.session import UNTIL_STOPPED  # noqa: E402

THUMBNAIL_RUN_FRAMES = 32   # what a thumbnail shows of each run of a workflow that streams until stopped
MODEL = "streamdit-shapes-64px.safetensors"
STUDENT = "streamdit-shapes-64px-distilled.safetensors"   # one pass per buffer shift: s = 1, no guidance
SCHEDULE = "0: a red circle moving right\n32: a blue square moving up"
# green triangles and magenta squares are held out of training: the student composes them
FAST_SCHEDULE = ("0: a red circle moving right\n64: a green triangle moving left\n"
                 "128: a magenta square moving down\n192: a yellow circle moving quickly up")
ENDLESS_SCHEDULE = "0: a red circle moving right"


def stream_workflow(action: str, stream_id: str, frames: int, prefix: str | None, schedule: str,
                    model: str = MODEL, K: int = 2, s: int = 2, guidance: float = 2.0, fps: float = 8.0,
                    realtime: bool = False, record: bool = False, skip_similar: float = 0.0) -> dict:
    """A stream of the shipped model's 8-frame buffer: K references, then chunks of c = 2.
    K = 2 keeps the teacher's objects as steady as the diagonal scheme's (docs/model.md). With a
    ``prefix``, Frame Output and Save Video follow (at the stream's fps); without, the
    stream node is the workflow's only output (its recording)."""
    p = Partition.filling(8, K=K, c=2, s=s)
    workflow = {
        "1": {"class_type": "StreamDiTLoader", "inputs": {"model_name": model, "device": "auto", "dtype": "float32"}},
        "2": {"class_type": "StreamDiTPromptSchedule", "inputs": {"schedule": schedule, "transition": 8}},
        "3": {"class_type": "StreamDiTStream", "inputs": {
            "model": ["1", 0], "schedule": ["2", 0], "stream_id": stream_id, "action": action, "seed": 0,
            "width": 64, "height": 64, "K": p.K, "N": p.N, "c": p.c, "s": p.s, "guidance": guidance, "frames": frames,
            "guidance_until": GUIDANCE_UNTIL, "fps": fps, "realtime": realtime, "record": record,
            "skip_similar": skip_similar, "push_to": ""}},
    }
    if prefix is not None:
        workflow.update({
            "4": {"class_type": "StreamDiTFrameOutput", "inputs": {"frames": ["3", 0], "fps": 0.0}},
            "5": {"class_type": "SaveVideo", "inputs": {"video": ["4", 1], "filename_prefix": prefix,
                                                         "format": "mp4", "codec": "h264"}}})
    return workflow


# file names as in ComfyUI's own Wan templates
WAN21_UNET = "wan2.1_t2v_1.3B_fp16.safetensors"
WAN22_HIGH = "wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors"
WAN22_LOW = "wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors"
WAN_TEXT_ENCODER = "umt5_xxl_fp8_e4m3fn_scaled.safetensors"
WAN_VAE = "wan_2.1_vae.safetensors"
WAN_NEGATIVE = "blurry, low quality, static, still frame, distorted, deformed, watermark, text"


def wan_workflow(unet: str, low_noise_unet: str | None = None) -> dict:
    """Wan T2V through the stock loaders; with ``low_noise_unet``, Wan 2.2 A14B's two experts."""
    encode = lambda title, text: {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["3", 0]},  # noqa: E731
                                  "_meta": {"title": title}}
    load = lambda name: {"class_type": "UNETLoader", "inputs": {"unet_name": name, "weight_dtype": "default"}}  # noqa: E731
    shift = lambda model: {"class_type": "ModelSamplingSD3", "inputs": {"model": [model, 0], "shift": 8.0}}  # noqa: E731
    workflow = {
        "1": load(unet),
        "2": shift("1"),
        "3": {"class_type": "CLIPLoader", "inputs": {"clip_name": WAN_TEXT_ENCODER,
                                                      "type": "wan", "device": "default"}},
        "4": encode("Positive prompt", "a red fox trotting through a snowy forest, soft morning light, cinematic"),
        "5": encode("Negative prompt", WAN_NEGATIVE),
        "6": {"class_type": "VAELoader", "inputs": {"vae_name": WAN_VAE}},
        "7": encode("Prompt from frame 81", "a red fox leaping over a frozen stream, snow flying, cinematic"),
        "8": {"class_type": "StreamDiTConditioningSchedule", "inputs": {
            "conditioning": ["7", 0], "frame": 81, "label": "fox leaps", "transition": 8}},
        "9": {"class_type": "StreamDiTWanStream", "inputs": {
            "model": ["2", 0], "positive": ["4", 0], "negative": ["5", 0], "vae": ["6", 0], "stream_id": "wan",
            "action": "continue", "seed": 0, "width": 832, "height": 480, "K": 0, "N": 5, "c": 2, "s": 4,
            "scheduler": "simple", "guidance": 5.0, "frames": 161, "schedule": ["8", 0], "boundary": 0.875,
            "decoder": "vae", "fps": 16.0, "realtime": False, "record": False, "skip_similar": 0.0,
            "overlap_decode": False, "push_to": ""}},
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
# Self-Forcing DMD was distilled at timesteps 1000, 750, 500, 250 warped by a shift of 5 (its
# configs/self_forcing_dmd.yaml); ModelSamplingSD3 at shift 5 with the simple scheduler over 4 steps
# gives those sigmas exactly (1, 0.9375, 0.833, 0.625), shift 8 others (0.96, 0.889, 0.727)
REALTIME_SHIFT = 5.0


def wan_realtime_workflow() -> dict:
    """Wan 2.1 1.3B streamed live: 4 steps (N=4, s=1), guidance 1 (one pass per shift), c=2, decoded
    by the tiny decoder, paced to 16 fps and recorded, continuing on every queue."""
    workflow = wan_workflow(WAN21_UNET)
    for node in ("7", "8", "10", "11"):   # one prompt, no clip outputs: the stream node records
        del workflow[node]
    workflow["12"] = {"class_type": "LoraLoaderModelOnly", "inputs": {"model": ["1", 0], "lora_name": REALTIME_LORA,
                                                                     "strength_model": 1.0}}
    workflow["2"]["inputs"].update(model=["12", 0], shift=REALTIME_SHIFT)
    workflow["9"]["inputs"].update(stream_id="wan-live", K=0, N=4, c=2, s=1, guidance=1.0, frames=UNTIL_STOPPED,
                                   decoder=TINY_DECODER, realtime=True, record=True)
    del workflow["9"]["inputs"]["schedule"]
    return workflow


# Causal Forcing's frame-wise Wan 2.1 1.3B, converted for ComfyUI's CausalWanModel (the file marks itself
# causal); distilled as Self-Forcing is: 4 steps at timesteps 1000, 750, 500, 250 under a shift of 5
CAUSAL_UNET = "causal_forcing-framewise.safetensors"


def wan_causal_workflow() -> dict:
    """Causal Forcing frame-wise streamed live: one latent a block (N=1, c=1), 4 steps at shift 5 with
    the re-noising sampler, the rolling KV cache, the tiny decoder, 16 fps, until stopped, recorded."""
    workflow = wan_workflow(CAUSAL_UNET)
    for node in ("5", "7", "8", "10", "11"):   # no negative (no guidance), one prompt, the node records
        del workflow[node]
    workflow["2"]["inputs"]["shift"] = REALTIME_SHIFT
    inputs = {k: v for k, v in workflow["9"]["inputs"].items()
              if k not in ("negative", "K", "guidance", "boundary", "schedule")}
    workflow["9"] = {"class_type": "StreamDiTCausalWanStream", "inputs": {
        **inputs, "stream_id": "wan-causal", "N": 1, "c": 1, "s": 4, "sampler": "renoise", "sink": 3, "window": 12,
        "recache": True, "frames": UNTIL_STOPPED, "decoder": TINY_DECODER, "realtime": True, "record": True}}
    return workflow


# --- what a user downloads for the Wan workflows: file name -> (models folder, URL) ------
HF = "https://huggingface.co"
WAN21 = f"{HF}/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files"
WAN22 = f"{HF}/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files"
KIJAI = f"{HF}/Kijai/WanVideo_comfy/resolve/main"
DOWNLOADS = {
    WAN21_UNET: ("diffusion_models", f"{WAN21}/diffusion_models/{WAN21_UNET}"),
    WAN_TEXT_ENCODER: ("text_encoders", f"{WAN21}/text_encoders/{WAN_TEXT_ENCODER}"),
    WAN_VAE: ("vae", f"{WAN21}/vae/{WAN_VAE}"),
    WAN22_HIGH: ("diffusion_models", f"{WAN22}/diffusion_models/{WAN22_HIGH}"),
    WAN22_LOW: ("diffusion_models", f"{WAN22}/diffusion_models/{WAN22_LOW}"),
    REALTIME_LORA: ("loras", f"{KIJAI}/LoRAs/Wan2_1_self_forcing_1_3B/{REALTIME_LORA}"),
    TINY_DECODER: ("vae_approx", f"{KIJAI}/{TINY_DECODER}"),
    CAUSAL_UNET: ("diffusion_models", f"{HF}/TalmajM/causal_forcing_framewise_ComfyUI_repackaged/resolve/main/"
                                      f"split_files/diffusion_models/{CAUSAL_UNET}"),
}


# --- the templates, in the order the template browser shows them ------------------------
@dataclass(frozen=True)
class Stage:
    """A group on the canvas: a column of nodes under a title."""
    title: str
    role: str                 # a key of COLORS
    nodes: tuple[str, ...]

def video_to_video_workflow() -> dict:
    """The student re-draws a video under another prompt: a stream of "a red circle moving
    right" (node 8) is the input (node 6, strength 0.6) of a stream of "a blue square" (node 3)."""
    workflow = stream_workflow("restart", "v2v", 48, "streamdit/video_to_video", "0: a blue square moving right",
                               model=STUDENT, K=0, s=1, guidance=VIDEO_GUIDANCE, fps=16.0)
    source = {**workflow["3"]["inputs"], "schedule": ["7", 0], "stream_id": "v2v-input", "guidance": 1.0}
    workflow["3"]["inputs"]["video_input"] = ["6", 0]
    workflow.update({
        "6": {"class_type": "StreamDiTVideoInput", "inputs": {"strength": DEFAULT_STRENGTH, "images": ["8", 1]}},
        "7": {"class_type": "StreamDiTPromptSchedule", "inputs": {"schedule": "0: a red circle moving right",
                                                                  "transition": 8}},
        "8": {"class_type": "StreamDiTStream", "inputs": source}})
    return workflow


COLORS = {"model": "#3f789e", "prompts": "#8A8", "stream": "#a1309b", "video": "#b58b2a"}
TALL = {"StreamDiTPromptSchedule": (380, 190), "CLIPTextEncode": (380, 150), "SaveVideo": (380, 330)}


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str          # one line; the template browser turns - and _ into spaces, so it has none
    note: str                 # on the canvas (Markdown): what to try
    api: dict
    stages: tuple[Stage, ...]
    models: tuple[str, ...]   # model families, for the template browser's filter
    runs: int = 0             # runs for the thumbnail (continuing the stream); 0: a title card
    card: tuple[str, ...] = ()


def native_stages(video: bool = True) -> tuple[Stage, ...]:
    return (Stage("Model", "model", ("1",)), Stage("Prompts by frame", "prompts", ("2",)),
            Stage("Stream", "stream", ("3",)), *((Stage("Video", "video", ("4", "5")),) if video else ()))


def wan_stages(model: tuple[str, ...], change: bool = True) -> tuple[Stage, ...]:
    return (Stage("Wan model", "model", model), Stage("Prompts", "prompts", ("3", "4", "5")),
            *((Stage("New prompt at frame 81", "prompts", ("7", "8")),) if change else ()),
            Stage("Stream", "stream", ("9",)), *((Stage("Video", "video", ("10", "11")),) if change else ()))


WAN_FILES_NOTE = ("**Needs your own downloads.** When one is missing, ComfyUI lists it with its link as the "
                  "workflow loads: Wan models go in models/diffusion_models, the text encoder in "
                  "models/text_encoders, the VAE in models/vae{extra}.")
PANEL = "Watch it in the **StreamDiT Live** panel: View menu > StreamDiT Live, or Alt + L."

TEMPLATES = (
    Template(
        "streamdit_endless_live", "Endless live stream",
        "Start here: the pack's own model streams live at 16 fps; steer it from the StreamDiT Live panel.",
        "**Start here.** The pack's own small model (64 px moving shapes, shipped with it) streams live.\n\n"
        f"1. {PANEL}\n"
        "2. Press **Run**: it streams until you stop it (*frames* 0), paced to 16 fps and recorded into one growing "
        "video in output/streamdit/.\n"
        "3. Type a prompt in the panel and press **Switch**, e.g. *a green triangle moving left* (green triangles "
        "were never in training).\n"
        "4. **Stop** in the panel (or ComfyUI's Cancel) ends it; the video keeps every frame, and Run goes on from "
        "there.",
        stream_workflow("continue", "endless", UNTIL_STOPPED, None, ENDLESS_SCHEDULE, model=STUDENT, K=0, s=1,
                        guidance=1.0, fps=16.0, realtime=True, record=True),
        native_stages(video=False), ("StreamDiT",), runs=3),
    Template(
        "streamdit_fast_distilled", "Fast stream, distilled",
        "One model pass per frame: four prompts in 256 frames, two of them unseen in training.",
        "**The distilled student** makes each frame with one model pass (steps per chunk 1, guidance 1).\n\n"
        "Its schedule has four prompts; green triangles and magenta squares were held out of its training, so it "
        "composes them. Edit the schedule (one *frame: prompt* per line; *transition* blends over that many frames) "
        f"and press Run. {PANEL}",
        stream_workflow("restart", "fast", 256, "streamdit/fast", FAST_SCHEDULE, model=STUDENT, K=0, s=1,
                        guidance=1.0, fps=16.0),
        native_stages(), ("StreamDiT",), runs=1),
    Template(
        "streamdit_text_to_video", "Text to video, re-prompted",
        "The teacher model: a red circle that becomes a blue square at frame 32.",
        "**The teacher model**: guidance 2, two steps per chunk, two reference frames that keep objects steady.\n\n"
        "Try another schedule, more frames, or fewer steps per chunk for speed. The model was trained on an "
        "8 frame buffer (reference frames + chunks in buffer x frames per chunk); the node warns when you leave it.",
        stream_workflow("restart", "t2v", 64, "streamdit/text_to_video", SCHEDULE),
        native_stages(), ("StreamDiT",), runs=1),
    Template(
        "streamdit_continue_stream", "Continue a stream",
        "Each Run continues the same stream from where it stopped; change the prompt between runs.",
        "**Every Run adds 16 frames** to the stream named *live* (action: continue), from where it stopped.\n\n"
        "Change the prompt schedule between runs and the stream follows without a reset; *restart*, or a new seed, "
        f"size or model, starts it again. {PANEL}",
        stream_workflow("continue", "live", 16, "streamdit/continue", "0: a green triangle moving left"),
        native_stages(), ("StreamDiT",), runs=3),
    Template(
        "streamdit_video_to_video", "Video to video",
        "A video redrawn under a new prompt: a red circle's path, drawn as a blue square.",
        "**Video to video.** The first stream makes a video (a red circle moving right); *StreamDiT Video Input* "
        "feeds it into the second stream, which re-draws it as *a blue square* on the same path.\n\n"
        "Try *strength*: 0 gives the input back, 1 ignores it (text to video); 0.5 to 0.65 keeps the path and "
        "takes the prompt's colour; *guidance* 1 is one model pass a frame (2 costs a second pass). Any IMAGE batch "
        "or a VIDEO (Load Video) can be the input.",
        video_to_video_workflow(),
        (Stage("Model", "model", ("1",)), Stage("The input video", "prompts", ("7", "8")),
         Stage("Re-drawn under the prompt", "stream", ("2", "6", "3")), Stage("Video", "video", ("4", "5"))),
        ("StreamDiT",), runs=1),
    Template(
        "streamdit_webcam_to_video", "Webcam to video",
        "Your camera, redrawn live under a prompt: press Use camera in the StreamDiT Live panel.",
        "**Webcam to video, live.**\n\n"
        f"1. {PANEL}\n"
        "2. Press **Run**: the stream *webcam* runs until you press **Stop** in the panel (*frames* 0), paced to "
        "16 fps.\n"
        "3. In the panel press **Use camera** (the browser asks for it). Your camera goes into the stream at its size "
        "and comes out redrawn under the prompt, beside the camera image. *strength*: 0 gives the camera back, 1 "
        "ignores it; 0.5 to 0.65 keep where things are and take the prompt's colour (0.5 for a camera slower than "
        "16 fps). **Stop camera** and the stream follows the prompt alone again, without a reset.\n\n"
        "*skip similar input* 0.98: while the camera barely changes the stream skips steps and repeats its last "
        "frames (the panel counts them); 0 turns it off.\n\n"
        "The pack's model knows coloured shapes on dark backgrounds: hold a coloured object against a dark wall.",
        stream_workflow("continue", "webcam", UNTIL_STOPPED, None, "0: a blue square moving right", model=STUDENT,
                        K=0, s=1,
                        guidance=VIDEO_GUIDANCE, fps=16.0, realtime=True, skip_similar=0.98),
        native_stages(video=False), ("StreamDiT",), runs=1),
    Template(
        "streamdit_wan21_t2v_1_3b_realtime", "Wan 2.1 1.3B live, 4 steps",
        "Wan 2.1 1.3B live in 4 steps (Self Forcing LoRA, tiny decoder). Needs the Wan files.",
        "**Wan 2.1 1.3B as a live stream.** The Self Forcing (DMD) LoRA makes it a 4 step model: one model pass per "
        "buffer shift (steps per chunk 1, guidance 1), at shift 5, the noise levels the LoRA was distilled at; the "
        "tiny decoder taew2_1 turns latents into pixels fast.\n\n"
        "Press **Run**: it streams until you press **Stop** in the panel (*frames* 0). To change the prompt, Stop, "
        f"edit the positive prompt and Run again: the stream goes on from where it stopped. {PANEL}\n\n"
        + WAN_FILES_NOTE.format(extra=", the LoRA in models/loras, taew2_1 in models/vae_approx"),
        wan_realtime_workflow(), wan_stages(("1", "12", "2", "6"), change=False), ("Wan 2.1",),
        card=("live, 4 steps", "Self Forcing LoRA", "tiny decoder, 16 fps", "needs your Wan 2.1 files")),
    Template(
        "streamdit_wan21_causal_live", "Wan 2.1 1.3B causal live",
        "Causal Forcing (Wan 2.1 1.3B, frame wise) live until Stop, endless. Needs ComfyUI 0.33 and the files.",
        "**A causal Wan model as a live stream.** Causal Forcing's frame-wise Wan 2.1 1.3B (Self-Forcing, LongLive "
        "and Rolling Forcing checkpoints converted for ComfyUI load the same way) makes one latent at a time in 4 "
        "steps, attending to what it made before through its KV cache: a few sink latents and the last 12, so it "
        "streams endlessly in constant memory. *chunks in buffer* above 1 denoises a window of chunks together "
        "(Rolling Forcing); chunk-wise checkpoints want 3 *latents per chunk*.\n\n"
        "Press **Run**: it streams until you press **Stop** in the panel (*frames* 0). To change the prompt, Stop, "
        f"edit it and Run again: the stream goes on, its cache written again under the new prompt. {PANEL}\n\n"
        + WAN_FILES_NOTE.format(extra=", taew2_1 in models/vae_approx; ComfyUI 0.33 or newer"),
        wan_causal_workflow(),
        (Stage("Wan model", "model", ("1", "2", "6")), Stage("Prompt", "prompts", ("3", "4")),
         Stage("Stream", "stream", ("9",))), ("Wan 2.1",),
        card=("causal, live", "Causal Forcing, 4 steps", "endless: rolling KV cache", "needs ComfyUI 0.33")),
    Template(
        "streamdit_wan21_t2v_1_3b", "Wan 2.1 1.3B stream",
        "Wan 2.1 1.3B as an endless stream; the prompt changes at frame 81. Needs the Wan files.",
        "**Wan 2.1 1.3B streamed** with guidance 5 and 4 steps per chunk, decoded by the Wan VAE; at frame 81 a "
        "Conditioning Schedule switches to the second prompt. Each Run adds 161 frames to the stream *wan*.\n\n"
        + WAN_FILES_NOTE.format(extra=""),
        wan_workflow(WAN21_UNET), wan_stages(("1", "2", "6")), ("Wan 2.1",),
        card=("endless stream", "guidance 5, Wan VAE", "new prompt at frame 81", "needs your Wan 2.1 files")),
    Template(
        "streamdit_wan22_t2v_a14b", "Wan 2.2 A14B stream, two experts",
        "Wan 2.2 A14B's two experts share one stream buffer. Needs the Wan 2.2 files.",
        "**Wan 2.2 A14B** streams with both experts in one buffer: chunks noisier than the expert boundary "
        "(sigma, 1 = noise) go to the high noise model, the others to the low noise model.\n\n"
        + WAN_FILES_NOTE.format(extra=""),
        wan_workflow(WAN22_HIGH, WAN22_LOW), wan_stages(("1", "2", "12", "13", "6")), ("Wan 2.2",),
        card=("two experts, one buffer", "new prompt at frame 81", "needs your Wan 2.2 files")),
)


# --- writing them ------------------------------------------------------------------------
EXAMPLES = os.path.join(ROOT, "example_workflows")
METADATA = os.path.join(ROOT, "web", "templates.json")
LAYOUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workflow_layout.js")


def pyproject() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def with_properties(ui: dict, object_info: dict, comfy_version: str) -> dict:
    """Each node names the pack that provides it (``cnr_id``, for "install missing nodes") and
    the files it needs with their download links (``models``, for ComfyUI's missing-model dialog)."""
    for node in ui["nodes"]:
        ours = object_info[node["type"]]["python_module"].startswith("custom_nodes.")
        node["properties"].update(cnr_id=PACK_NAME if ours else "comfy-core",
                                  ver=pyproject()["project"]["version"] if ours else comfy_version)
        files = [v for v in node["widgets_values"] if isinstance(v, str) and v in DOWNLOADS]
        if files:
            node["properties"]["models"] = [{"name": f, "url": DOWNLOADS[f][1], "directory": DOWNLOADS[f][0]}
                                            for f in files]
    return ui


def laid_out(page, template: Template, ui: dict) -> dict:
    """The UI workflow after ComfyUI's frontend has sized and placed its nodes (workflow_layout.js)."""
    with open(LAYOUT) as f:
        script = f.read()
    stages = [{"title": s.title, "color": COLORS[s.role], "nodes": list(s.nodes)} for s in template.stages]
    sizes = {key: TALL[node["class_type"]] for key, node in template.api.items() if node["class_type"] in TALL}
    note = f"## {template.title}\n\n{template.note}"
    return page.evaluate(script, {"ui": ui, "stages": stages, "note": note, "sizes": sizes})


def run_frames(server: ComfyServer, template: Template) -> tuple[list[Image.Image], float]:
    """The frames of ``template.runs`` real runs of the workflow (each continuing the stream), saved by
    a stock Save Animated WEBP on the stream's images; and the stream's fps."""
    stream = next(k for k, n in template.api.items() if n["class_type"] == "StreamDiTStream")
    fps = template.api[stream]["inputs"]["fps"]
    prompt = {**template.api, "thumbnail": {"class_type": "SaveAnimatedWEBP", "inputs": {
        "images": [stream, 1], "filename_prefix": "thumbnails/" + template.name, "fps": fps, "lossless": True,
        "quality": 100, "method": "fastest"}}}
    if prompt[stream]["inputs"]["frames"] == UNTIL_STOPPED:   # a run that streams until stopped: a part of it
        prompt[stream] = {**prompt[stream], "inputs": {**prompt[stream]["inputs"], "frames": THUMBNAIL_RUN_FRAMES}}
    frames = []
    for _ in range(template.runs):
        entry = server.run(prompt)
        saved = entry["outputs"]["thumbnail"]["images"][0]
        with Image.open(os.path.join(server.base, "output", saved["subfolder"], saved["filename"])) as webp:
            frames += [frame.convert("RGB") for frame in ImageSequence.Iterator(webp)]
    return frames, fps


def write_json(path: str, data) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def main() -> None:
    os.makedirs(os.path.join(EXAMPLES, "api"), exist_ok=True)
    metadata = []
    with tempfile.TemporaryDirectory() as base, ComfyServer(base) as server, sync_playwright() as p:
        object_info = server.get("/object_info")
        comfy_version = server.get("/system_stats")["system"]["comfyui_version"]
        browser = launch(p)
        page = open_comfy(browser, server, 1600, 1000)
        for template in TEMPLATES:
            ui = with_properties(api_to_ui(template.api, object_info), object_info, comfy_version)
            write_json(os.path.join(EXAMPLES, "api", template.name + ".json"), template.api)
            write_json(os.path.join(EXAMPLES, template.name + ".json"), laid_out(page, template, ui))
            still_path = os.path.join(EXAMPLES, template.name + ".jpg")
            if template.runs:
                frames, fps = run_frames(server, template)
                thumbnails.still(frames, still_path)
                thumbnails.animation(frames, fps, os.path.join(EXAMPLES, template.name + ".webp"))
                if template is TEMPLATES[0]:
                    thumbnails.icon(frames, os.path.join(ROOT, "docs", "icon.png"))
            else:
                thumbnails.title_card(template.title, list(template.card), still_path)
            metadata.append({"name": template.name, "title": template.title, "description": template.description,
                             "mediaSubtype": "webp" if template.runs else "jpg", "tags": ["Video", "Live"],
                             "models": list(template.models)})
            print("wrote", template.name)
        browser.close()
    write_json(METADATA, {"title": pyproject()["tool"]["comfy"]["DisplayName"], "templates": metadata})


if __name__ == "__main__":
    main()
