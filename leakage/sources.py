"""Where models and data come from, by the short names the CLI and the pages share ("lab", paths, hub ids)."""

from __future__ import annotations

from pathlib import Path

from leakage.data import Dataset, scan_dataset
from leakage.models import LoadedClip, load_clip

LAB_MODELS = {"lab": "the lab CLIP (trained on the lab's members)", "lab-control": "the control CLIP (trained on other people only)"}


def resolve_model(model: str, pretrained: str | None = None, device: str | None = None) -> LoadedClip:
    """`lab`, `lab-control`, or anything `load_clip` takes."""
    if model in LAB_MODELS:
        from leakage.lab.build import ensure_control, ensure_lab

        lab = ensure_lab()
        checkpoint = lab.clip_checkpoint if model == "lab" else ensure_control(lab)
        clip = load_clip(lab.clip_model_name, str(checkpoint), device=device)
        clip.metadata["lab"] = lab.describe()
        clip.model_name = model  # results name the lab model, not its temporary path
        clip.pretrained = None
        return clip
    return load_clip(model, pretrained, device=device)


def resolve_data(data: str) -> tuple[Dataset, str]:
    """`lab` (the lab's held-out attack images with ground truth) or a dataset folder; returns (dataset, id)."""
    if data == "lab":
        from leakage.lab.build import ensure_lab

        return scan_dataset(ensure_lab().attack_dir), "lab"
    return scan_dataset(data), str(Path(data).resolve())
