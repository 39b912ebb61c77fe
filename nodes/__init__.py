"""ComfyUI nodes of the pack: V3 node classes over stream_core, in parts.

- the kind-neutral nodes and what every stream node shares: this folder's modules;
- ``wan/``: the Wan backend (a stock Wan MODEL as a stream) and its nodes;
- ``run/``: one queued run of a stream node (pacing, the recording);
- ``live/``: the streams the server holds, the pack's websocket, HTTP routes and OSC control.

Imports flow downward: wan -> the nodes here -> run -> live -> the wires (``types``,
``validation``, ``comfy_nodes``) -> stream_core (``tests/test_architecture.py``).
"""
from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from .frame_output import StreamDiTFrameOutput
from .live import osc
from .live.hub import prompt_server
from .live.routes import register_routes
from .loader import StreamDiTLoader, register_folders
from .native_stream import StreamDiTStream
from .prompt_schedule import StreamDiTPromptSchedule
from .run.shutdown import close_recordings_at_exit
from .video_input import StreamDiTVideoInput
from .wan.causal_node import StreamDiTCausalWanStream
from .wan.schedule_node import StreamDiTConditioningSchedule
from .wan.stream_node import StreamDiTWanStream

NODES = [StreamDiTLoader, StreamDiTPromptSchedule, StreamDiTStream, StreamDiTFrameOutput,
         StreamDiTWanStream, StreamDiTCausalWanStream, StreamDiTConditioningSchedule, StreamDiTVideoInput]


class StreamDiTExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES


async def comfy_entrypoint() -> StreamDiTExtension:
    register_folders()
    close_recordings_at_exit()
    server = prompt_server()
    if server is not None:
        register_routes(server.routes)
        await osc.start_if_asked()   # on the server's loop, where $STREAMDIT_OSC_PORT asks for it
    return StreamDiTExtension()
