"""Which device and precision a model runs on: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceChoice:
    device: str
    dtype: str  # "float16" on GPUs, "float32" on the CPU
    description: str

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)


def pick_device(requested: str | None = None) -> DeviceChoice:
    """The best available device, or the one asked for ("cuda", "cuda:1", "mps", "cpu")."""
    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            requested = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            requested = "mps"
        else:
            requested = "cpu"
    kind = requested.split(":")[0]
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {requested!r} was asked for, but CUDA is not available here")
        index = torch.device(requested).index or 0
        return DeviceChoice(requested, "float16", f"GPU: {torch.cuda.get_device_name(index)}")
    if kind == "mps":
        return DeviceChoice("mps", "float16", "Apple GPU (MPS)")
    if kind != "cpu":
        raise ValueError(f"unknown device {requested!r}: use auto, cuda, cuda:N, mps or cpu")
    return DeviceChoice("cpu", "float32", f"CPU ({torch.get_num_threads()} threads)")
