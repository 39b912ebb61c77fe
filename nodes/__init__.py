"""ComfyUI nodes of the pack: thin layers over stream_core."""
from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from .conditioning_schedule import StreamDiTConditioningSchedule
from .frame_output import StreamDiTFrameOutput
from .live import prompt_server
from .loader import StreamDiTLoader, register_folders
from .native_stream import StreamDiTStream
from .prompt_schedule import StreamDiTPromptSchedule
from .routes import register_routes
from .video_input import StreamDiTVideoInput
from .wan_stream import StreamDiTWanStream

NODES = [StreamDiTLoader, StreamDiTPromptSchedule, StreamDiTStream, StreamDiTFrameOutput,
         StreamDiTWanStream, StreamDiTConditioningSchedule, StreamDiTVideoInput]


class StreamDiTExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES


async def comfy_entrypoint() -> StreamDiTExtension:
    register_folders()
    server = prompt_server()
    if server is not None:
        register_routes(server.routes)
    return StreamDiTExtension()
