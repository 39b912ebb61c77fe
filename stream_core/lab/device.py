"""Where the lab trains: this process's GPU (``LOCAL_RANK`` under torchrun) when there is
one, else the CPU. The world renders its clips there too, so a GPU is not kept waiting."""
from __future__ import annotations

import os

import torch


def training_device() -> torch.device:
    return torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
