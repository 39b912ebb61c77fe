"""Video input node: an IMAGE batch or a VIDEO as the input of a stream (video-to-video)."""
from __future__ import annotations

from comfy_api.latest import io

from ..stream_core.engine.frame_input import DEFAULT_STRENGTH, VideoInput
from .types import CATEGORY, VideoInputType
from .validation import InputError, checked


class StreamDiTVideoInput(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StreamDiTVideoInput",
            display_name="StreamDiT Video Input",
            category=CATEGORY,
            description="Video-to-video: a stream re-draws these frames under its prompt, one input frame per output "
                        "frame (a Wan stream: 4 per latent, the Wan VAE encodes them), from the next frame that "
                        "reaches the strength's noise level in its buffer. Queue again with the same video and the "
                        "stream goes on with the next input frames; after the last one it is text-to-video again.",
            inputs=[
                io.Float.Input("strength", default=DEFAULT_STRENGTH, min=0.0, max=1.0, step=0.05,
                               tooltip="How much the prompt may change the input: 0 = the input unchanged, 1 = pure "
                                       "noise (text-to-video). The noise level (sigma) a frame takes its input at: the "
                                       "stream denoises it from there under the prompt."),
                io.Image.Input("images", optional=True, tooltip="Input frames, resized to the stream's size."),
                io.Video.Input("video", optional=True, tooltip="Or a VIDEO (e.g. from Load Video); used when no "
                                                               "images are connected."),
            ],
            outputs=[VideoInputType.Output(display_name="video input",
                                           tooltip="For the 'video input' of StreamDiT Stream or StreamDiT Wan Stream.")],
        )

    @classmethod
    @checked
    def execute(cls, strength: float, images=None, video=None) -> io.NodeOutput:
        if images is None and video is not None:
            images = video.get_components().images
        if images is None:
            raise InputError("StreamDiT Video Input: connect 'images' or 'video'")
        return io.NodeOutput(VideoInput(images, strength))
