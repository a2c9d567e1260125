"""One entry point for CLIP models: open_clip names with a pretrained tag, checkpoint files,
`local-dir:` folders, `hf-hub:` ids, and the lab's own models.

The lab model's config is registered with open_clip like any built-in one, and its
checkpoint loads through `open_clip.create_model_and_transforms`: exactly the path a real
model takes.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import open_clip
import torch

from leakage.devices import DeviceChoice, pick_device
from leakage.hub import HubUnavailableError, downloads_allowed

MODEL_CONFIG_DIR = Path(__file__).resolve().parent / "lab" / "model_configs"
open_clip.add_model_config(MODEL_CONFIG_DIR)


@dataclass
class LoadedClip:
    """A CLIP model ready to encode: model, image preprocessing, tokenizer and where it runs."""

    model: torch.nn.Module
    preprocess: Callable
    tokenizer: Callable
    device: DeviceChoice
    model_name: str
    pretrained: str | None
    fingerprint: str
    load_seconds: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def identifier(self) -> str:
        return f"{self.model_name}:{self.pretrained}" if self.pretrained else self.model_name

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "pretrained": self.pretrained,
            "fingerprint": self.fingerprint,
            "device": self.device.device,
            "dtype": self.device.dtype,
            "device_description": self.device.description,
            "load_seconds": round(self.load_seconds, 3),
        }


def model_fingerprint(model: torch.nn.Module) -> str:
    """A content hash of the weights, so caches keyed on it follow the weights, not the file name."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        flat = tensor.detach().flatten()
        sample = flat[:: max(1, flat.numel() // 4096)].float().cpu().numpy()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(sample.tobytes())
    return digest.hexdigest()[:16]


def _check_pretrained_is_local(model_name: str, pretrained: str | None) -> None:
    """Fail fast, before open_clip tries a download, when a tag's weights are not on disk."""
    if downloads_allowed():
        return
    if model_name.startswith("hf-hub:"):
        _require_hf_cached(model_name.removeprefix("hf-hub:"), "open_clip_config.json", model_name)
        return
    if not pretrained or os.path.isfile(pretrained):
        return
    cfg = open_clip.get_pretrained_cfg(model_name.replace("/", "-"), pretrained)
    if not cfg:
        return  # open_clip itself reports unknown tags with the list of valid ones
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])
        _require_hf_cached(repo, filename or "open_clip_pytorch_model.bin", f"{model_name} ({pretrained})")
    elif cfg.get("url"):
        cached = Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
        if not cached.is_file():
            raise HubUnavailableError(f"{model_name} ({pretrained}): weights not in {cached.parent}")


def _require_hf_cached(repo_id: str, filename: str, what: str) -> None:
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(repo_id, filename), str):
        raise HubUnavailableError(f"{what}: {repo_id}/{filename} is not in the local Hugging Face cache")


def load_clip(
    model_name: str,
    pretrained: str | None = None,
    *,
    device: str | None = None,
) -> LoadedClip:
    """Load a CLIP model with open_clip.

    Parameters
    ----------
    model_name : an open_clip architecture ("ViT-B-32", "lab-clip-s"), or "local-dir:/folder"
        (open_clip_config.json + weights), or "hf-hub:org/repo". The lab's short names ("lab",
        "lab-control") are resolved in `leakage.catalog`.
    pretrained : a pretrained tag ("openai", "laion2b_s34b_b79k") or a local checkpoint file;
        ignored for local-dir: and hf-hub: names.
    device : "auto"/None picks CUDA, then MPS, then the CPU; half precision on GPUs.
    """
    metadata: dict[str, Any] = {}
    if model_name.endswith((".pt", ".pth", ".bin", ".safetensors")) and pretrained is None:
        raise ValueError(
            f"{model_name!r} looks like a checkpoint file: give the architecture too, "
            f"e.g. --model ViT-B-32 --pretrained {model_name}"
        )
    if pretrained and not os.path.isfile(pretrained) and ("/" in pretrained or pretrained.endswith((".pt", ".bin"))):
        raise FileNotFoundError(f"checkpoint file not found: {pretrained}")

    _check_pretrained_is_local(model_name, pretrained)
    choice = pick_device(device)
    started = time.perf_counter()
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name,
            pretrained=pretrained,
            device=choice.device,
            precision="fp16" if choice.dtype == "float16" else "fp32",
        )
    except (OSError, RuntimeError) as error:
        if _looks_like_network_error(error):
            raise HubUnavailableError(model_name, error) from error
        raise
    model.eval()
    tokenizer = open_clip.get_tokenizer(model_name)
    load_seconds = time.perf_counter() - started
    return LoadedClip(
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        device=choice,
        model_name=model_name,
        pretrained=pretrained,
        fingerprint=model_fingerprint(model),
        load_seconds=load_seconds,
        metadata=metadata,
    )


def _looks_like_network_error(error: BaseException) -> bool:
    text = f"{type(error).__name__} {error}".lower()
    return any(word in text for word in ("offline", "connection", "resolve", "hub", "download", "localentrynotfound"))


def load_preprocess(model_name: str) -> Callable:
    """The evaluation transform of an open_clip architecture, without building the model."""
    vision_cfg = open_clip.get_model_config(model_name)["vision_cfg"]
    return open_clip.image_transform(vision_cfg["image_size"], is_train=False)


def list_open_clip_pretrained() -> list[tuple[str, str]]:
    """(architecture, tag) pairs that open_clip knows, for pickers in the UI."""
    return [(name, tag) for name, tag in open_clip.list_pretrained()]
