"""Conditioning schedule node: stock CONDITIONINGs by video frame, for the Wan stream."""
from __future__ import annotations

from comfy_api.latest import io

from ...stream_core.engine.timeline import PromptTimeline
from ..types import CATEGORY
from ..validation import checked
from .source import ConditioningSchedule, cross_attn


@io.comfytype(io_type="STREAMDIT_CONDITIONING_SCHEDULE")
class ConditioningScheduleType(io.ComfyTypeIO):
    """The wire of a Wan prompt schedule: stock conditionings by video frame."""
    Type = ConditioningSchedule


class StreamDiTConditioningSchedule(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StreamDiTConditioningSchedule",
            display_name="StreamDiT Conditioning Schedule",
            category=CATEGORY,
            description="From video frame 'frame' on, the Wan stream follows this conditioning. Chain several "
                        "(each into the next one's 'previous') for a prompt schedule.",
            inputs=[
                io.Conditioning.Input("conditioning", tooltip="From a stock text encode node (e.g. CLIP Text Encode)."),
                io.Int.Input("frame", default=48, min=0, max=10**7,
                             tooltip="Video frame from which this conditioning applies (0 = from the start, instead "
                                     "of the stream node's positive)."),
                io.String.Input("label", default="", tooltip="Name shown in the live panel; empty: 'frame N'."),
                io.Int.Input("transition", default=8, min=0, max=10000,
                             tooltip="Frames over which each new conditioning blends in (the last node of a chain "
                                     "sets it for the whole schedule)."),
                ConditioningScheduleType.Input("previous", optional=True,
                                               tooltip="Earlier entries of the schedule (another of these nodes)."),
            ],
            outputs=[ConditioningScheduleType.Output(
                display_name="schedule",
                tooltip="To the Wan stream's 'schedule', or to the next Conditioning Schedule's 'previous'.")],
        )

    @classmethod
    @checked
    def execute(cls, conditioning: list, frame: int, label: str, transition: int,
                previous: ConditioningSchedule | None = None) -> io.NodeOutput:
        label = label.strip() or f"frame {frame}"
        embedding = cross_attn(conditioning)
        if previous is None:
            schedule = ConditioningSchedule(PromptTimeline(((frame, label),), transition), ((label, embedding),))
        else:
            schedule = previous.with_entry(frame, label, embedding, transition)
        return io.NodeOutput(schedule)
