"""Prompt schedule node: ``frame: prompt`` lines -> the timeline a stream follows."""
from __future__ import annotations

from comfy_api.latest import io

from ..stream_core.engine.timeline import PromptTimeline, ScheduleError
from .types import CATEGORY, ScheduleType
from .validation import checked

EXAMPLE = "0: a red ball rolling right\n48: a blue square falling"


class StreamDiTPromptSchedule(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StreamDiTPromptSchedule",
            display_name="StreamDiT Prompt Schedule",
            category=CATEGORY,
            description="Which prompt the stream follows from which output frame on.",
            inputs=[
                io.String.Input("schedule", multiline=True, default=EXAMPLE,
                                tooltip="One 'frame: prompt' per line; frame numbers count output frames from 0. "
                                        "Lines starting with # are comments."),
                io.Int.Input("transition", default=8, min=0, max=10000,
                             tooltip="Frames over which each new prompt blends in from the previous one (0 = cut)."),
            ],
            outputs=[ScheduleType.Output(display_name="schedule",
                                         tooltip="To StreamDiT Stream's 'schedule'.")],
        )

    @classmethod
    def validate_inputs(cls, schedule=None):
        if schedule is None:   # linked from another node: checked when it runs
            return True
        if not isinstance(schedule, str):
            return f"prompt schedule: text is needed, got {schedule!r}"
        try:
            PromptTimeline.parse(schedule)
        except ScheduleError as e:
            return f"prompt schedule: {e}"
        return True

    @classmethod
    @checked
    def execute(cls, schedule: str, transition: int) -> io.NodeOutput:
        return io.NodeOutput(PromptTimeline.parse(schedule, transition))
