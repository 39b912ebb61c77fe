"""Frame output node: a run's frames as IMAGE and VIDEO, with one animated preview."""
from __future__ import annotations

from fractions import Fraction

import torch
from comfy_api.latest import InputImpl, Types, io, ui

from .types import CATEGORY, FramesType, StreamFrames
from .validation import checked, problem

PREVIEW_MAX_FRAMES = 600        # the preview shows a run's newest frames, at most these
PREVIEW_MAX_SIDE = 512          # pixels; larger frames are scaled down for the preview
PREVIEW_LOSSLESS_PIXELS = 256 * 256   # frames up to this size preview exactly (lossless WebP)


class StreamVideo(InputImpl.VideoFromComponents):
    """A VIDEO whose saved file carries the stream's metadata (its timeline: every prompt
    switch with its frame) beside the workflow that SaveVideo writes."""

    def __init__(self, components: Types.VideoComponents, streamdit: dict):
        super().__init__(components)
        self.streamdit = streamdit

    def save_to(self, path, format=Types.VideoContainer.AUTO, codec=Types.VideoCodec.AUTO, metadata=None, **options):
        # the options newer ComfyUIs pass (crf, bit_depth, color_space, ...) go on as given
        return super().save_to(path, format=format, codec=codec, metadata={**(metadata or {}), "streamdit": self.streamdit},
                               **options)


def stream_metadata(frames: StreamFrames, fps: float) -> dict:
    """What a saved video of ``frames`` records about its stream (JSON)."""
    return {"stream_id": frames.stream_id, "first_frame": frames.first_index, "frames": len(frames.images),
            "fps": fps, "timeline": [list(entry) for entry in frames.timeline]}


def preview_frames(images: torch.Tensor) -> torch.Tensor:
    """The run's newest frames, scaled to fit ``PREVIEW_MAX_SIDE``: IMAGE [n, h, w, 3]."""
    images = images[-PREVIEW_MAX_FRAMES:]
    scale = PREVIEW_MAX_SIDE / max(images.shape[1:3])
    if scale >= 1:
        return images
    size = (max(1, round(images.shape[1] * scale)), max(1, round(images.shape[2] * scale)))
    return torch.nn.functional.interpolate(images.movedim(-1, 1), size=size, mode="area").movedim(1, -1)


class StreamDiTFrameOutput(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StreamDiTFrameOutput",
            display_name="StreamDiT Frame Output",
            category=CATEGORY,
            description="A run's frames as an IMAGE batch and a VIDEO (its file's metadata records the stream's "
                        "prompts by frame), with one animated preview.",
            inputs=[
                FramesType.Input("frames", tooltip="From StreamDiT Stream or StreamDiT Wan Stream."),
                io.Float.Input("fps", default=0.0, min=0.0, max=240.0, step=0.1,
                               tooltip="Frame rate of the VIDEO output; 0 = the stream's own fps."),
            ],
            outputs=[
                io.Image.Output(display_name="images", tooltip="Frames as an image batch [frames, H, W, 3]."),
                io.Video.Output(display_name="video", tooltip="The frames as a video at 'fps'."),
                io.Int.Output(display_name="first_frame", tooltip="Index of the first frame in its stream."),
            ],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, fps=None):
        # before the prompt runs: a bad fps found only after the stream ran would cost its frames
        spec = next(spec for spec in cls.define_schema().inputs if spec.id == "fps")
        why = None if fps is None else problem(spec, fps)
        return True if why is None else f"fps = {fps!r}: {why}"

    @classmethod
    @checked
    def execute(cls, frames: StreamFrames, fps: float) -> io.NodeOutput:
        images, fps = frames.images, fps or frames.fps
        metadata = stream_metadata(frames, fps)
        video = StreamVideo(Types.VideoComponents(images=images, frame_rate=Fraction(fps).limit_denominator(1000)),
                            metadata)
        shown = preview_frames(images)
        preview = ui.ImageSaveHelper.save_animated_webp(
            shown, "streamdit/preview", io.FolderType.temp, cls, fps,
            lossless=shown.shape[1] * shown.shape[2] <= PREVIEW_LOSSLESS_PIXELS, quality=90, method=0)
        return io.NodeOutput(images, video, frames.first_index,
                             ui={"images": [preview], "animated": (True,), "streamdit": [metadata]})


# the pack's nodes that take a stream's frames, by class, with their check of the inputs given them
FRAME_CONSUMERS = {"StreamDiTFrameOutput": StreamDiTFrameOutput.validate_inputs}
