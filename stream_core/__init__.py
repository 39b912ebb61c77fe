"""StreamDiT streaming engine; imports nothing from ComfyUI."""
from .partition import Partition, PartitionError
from .schedule import tau_grid
from .stream import Stream, StreamError

__all__ = ["Partition", "PartitionError", "Stream", "StreamError", "tau_grid"]
