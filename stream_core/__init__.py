"""StreamDiT streaming engine; imports nothing from ComfyUI.

Three layers, imports only downward: ``lab`` -> ``native`` -> ``engine`` (ARCHITECTURE.md).
"""
from .engine.partition import Partition, PartitionError
from .engine.stream import Stream, StreamError
from .engine.time_grid import tau_grid

__all__ = ["Partition", "PartitionError", "Stream", "StreamError", "tau_grid"]
