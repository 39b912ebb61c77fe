"""Frame output node: stream frames as IMAGE, VIDEO and previews."""
from __future__ import annotations

from fractions import Fraction

from comfy_api.latest import InputImpl, Types, io, ui

from .types import CATEGORY, FramesType, StreamFrames


class StreamDiTFrameOutput(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StreamDiTFrameOutput",
            display_name="StreamDiT Frame Output",
            category=CATEGORY,
            description="A stream's frames as an IMAGE batch and a VIDEO, with previews.",
            inputs=[
                FramesType.Input("frames", tooltip="From StreamDiT Stream or StreamDiT Wan Stream."),
                io.Float.Input("fps", default=8.0, min=0.1, max=240.0, step=0.1,
                               tooltip="Frame rate of the VIDEO output."),
            ],
            outputs=[
                io.Image.Output(display_name="images", tooltip="Frames as an image batch [frames, H, W, 3]."),
                io.Video.Output(display_name="video", tooltip="The frames as a video at 'fps'."),
                io.Int.Output(display_name="first_frame", tooltip="Index of the first frame in its stream."),
            ],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, frames: StreamFrames, fps: float) -> io.NodeOutput:
        images = frames.images
        video = InputImpl.VideoFromComponents(
            Types.VideoComponents(images=images, frame_rate=Fraction(fps).limit_denominator(1000)))
        return io.NodeOutput(images, video, frames.first_index, ui=ui.PreviewImage(images, cls=cls))
