"""Every short name of a model or a data set, resolved in one place.

Models come in kinds (a CLIP model, a generative vision-language model, a masked autoencoder);
each attack says which kind it needs. The lab's own models and data sets have short names
(`lab`, `lab-control`, `lab-vlm`, `lab-mae`, ...), listed here with their kind and the lab data
set that goes with them; anything else is a path or a model id handed to the kind's loader.

A name of the wrong kind, or an unknown `lab...` name, is refused before anything is loaded or
any hub is tried, with the names that would work. Nothing heavy is imported until a model or data
set is actually loaded, so that check is instant.
"""

from __future__ import annotations

import importlib
from leakage.progress import Progress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any



def _resolve(reference: str) -> Callable[..., Any]:
    """`"module:function"` to the function, imported only when needed (keeps the CLI fast)."""
    module, name = reference.split(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class ModelKind:
    name: str
    title: str
    """What it is, in words ("a CLIP model")."""
    accepts: str
    """What else than a lab name the loader takes."""
    load: str
    """`module:function(spec, pretrained=None, device=None)` for anything that is not a lab name."""


@dataclass(frozen=True)
class LabModel:
    name: str
    kind: str
    description: str
    data: str
    """The lab data set that goes with this model (what `--data lab` means with it)."""
    load: str
    """`module:function(name, device=None, progress=None)`: builds on first use, then loads."""


@dataclass(frozen=True)
class LabData:
    name: str
    description: str
    folder: str
    """`module:function(progress=None) -> Path`: the data set's folder, built on first use."""


MODEL_KINDS: dict[str, ModelKind] = {
    kind.name: kind
    for kind in (
        ModelKind("clip", "a CLIP model", "an open_clip name with --pretrained, a checkpoint file, local-dir:FOLDER, "
                  "a transformers CLIP/SigLIP folder written by save_pretrained, or hf-hub:ID",
                  "leakage.models:load_clip"),
        ModelKind("image-text-to-text", "a vision-language model", "a folder written by save_pretrained or a cached hub id",
                  "leakage.catalog:_load_vlm"),
        ModelKind("mae", "a masked autoencoder (ViT-MAE)", "a folder written by save_pretrained or a cached hub id",
                  "leakage.catalog:_load_mae"),
    )
}

LAB_MODELS: dict[str, LabModel] = {
    model.name: model
    for model in (
        LabModel("lab", "clip", "the lab CLIP, trained on the lab's members", "lab", "leakage.catalog:_lab_clip"),
        LabModel("lab-control", "clip", "the control CLIP, trained on other people only", "lab", "leakage.catalog:_lab_clip"),
        LabModel("lab-vlm", "image-text-to-text", "the lab VLM (LLaVA), which learned the members' names from text only", "lab-vlm",
                 "leakage.catalog:_lab_vlm"),
        LabModel("lab-mae", "mae", "the lab MAE, pre-trained on the member images", "lab-mae", "leakage.catalog:_lab_mae"),
        LabModel("lab-mae-reference", "mae", "a reference MAE pre-trained on other people (per-example calibration)",
                 "lab-mae", "leakage.catalog:_lab_mae"),
        LabModel("lab-mae-shadow", "mae", "a shadow MAE, the lab MAE's recipe on disjoint people (the paper's threshold)",
                 "lab-mae-shadow", "leakage.catalog:_lab_mae"),
    )
}

LAB_DATA: dict[str, LabData] = {
    data.name: data
    for data in (
        LabData("lab", "the lab's held-out photos of 100 members and 100 non-members of the lab CLIP",
                "leakage.catalog:_lab_clip_data"),
        LabData("lab-vlm", "the lab VLM's held-out photos of its members and non-members", "leakage.catalog:_lab_vlm_data"),
        LabData("lab-mae", "the lab MAE's member images (the exact training files) and fresh non-member renders",
                "leakage.catalog:_lab_mae_data"),
        LabData("lab-mae-shadow", "the shadow MAE's own members and non-members", "leakage.catalog:_lab_mae_shadow_data"),
    )
}


def _with_attacks_registered() -> None:
    """Attack modules may register lab models and data of their own: make sure they are loaded."""
    import leakage.attacks  # noqa: F401


def register_lab_model(model: LabModel) -> LabModel:
    """Add a lab model (e.g. from an attack module that brings its own lab variants)."""
    LAB_MODELS[model.name] = model
    return model


def register_lab_data(data: LabData) -> LabData:
    LAB_DATA[data.name] = data
    return data


def lab_models(kind: str | None = None) -> list[LabModel]:
    _with_attacks_registered()
    return [model for model in LAB_MODELS.values() if kind is None or model.kind == kind]


def check_model_name(spec: str, kind: str) -> None:
    """Refuse, at once, a lab name of another kind or an unknown lab name, naming the valid ones."""
    _with_attacks_registered()
    wanted = MODEL_KINDS[kind]
    valid = ", ".join(model.name for model in lab_models(kind)) or "none"
    entry = LAB_MODELS.get(spec)
    if entry is not None and entry.kind != kind:
        raise ValueError(
            f"'{spec}' is {entry.description} ({MODEL_KINDS[entry.kind].title}), but this attack needs "
            f"{wanted.title}. Lab models of that kind: {valid}. Or give {wanted.accepts}."
        )
    if entry is None and spec.startswith("lab") and not Path(spec).expanduser().exists() and spec not in _lab_architectures():
        raise ValueError(f"unknown lab model '{spec}'. Lab models that are {wanted.title}: {valid}. Or give {wanted.accepts}.")


def _lab_architectures() -> set[str]:
    """open_clip architectures of the lab's own models (`lab-clip-s`): names a real loader takes."""
    folder = Path(__file__).resolve().parent / "lab" / "model_configs"
    return {path.stem for path in folder.glob("*.json")}


def check_data_name(spec: str) -> None:
    _with_attacks_registered()
    if spec.startswith("lab") and spec not in LAB_DATA and not Path(spec).expanduser().exists():
        raise ValueError(f"unknown lab data set '{spec}'. Lab data sets: {', '.join(LAB_DATA)}; or give a folder.")


def resolve_model(spec: str, kind: str, *, pretrained: str | None = None, device: str | None = None,
                  progress: Progress | None = None) -> Any:
    """A loaded model of `kind` from a lab name or anything the kind's loader takes."""
    check_model_name(spec, kind)
    from leakage.paths import check_allowed

    for path in (spec, pretrained):  # however the run started: page, plan, Ray worker, CLI
        check_allowed(path, "model")
    if spec in LAB_MODELS:
        return _resolve(LAB_MODELS[spec].load)(spec, device=device, progress=progress)
    return _resolve(MODEL_KINDS[kind].load)(spec, pretrained, device=device)


def data_folder(spec: str, *, default_lab: str = "lab", progress: Progress | None = None) -> Path:
    """The folder a data spec names: a lab data set (`lab` = the attack's own, `default_lab`;
    built on first use) or a folder given by path."""
    check_data_name(spec)
    name = default_lab if spec == "lab" else spec
    if name in LAB_DATA:
        return Path(_resolve(LAB_DATA[name].folder)(progress=progress))
    from leakage.paths import check_allowed

    check_allowed(spec, "data")  # before looking whether it exists: no oracle for folders outside the roots
    folder = Path(spec).expanduser()
    if not folder.exists():
        raise FileNotFoundError(f"data folder not found: {spec}")
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {spec}")
    return folder.resolve()


def resolve_data(spec: str, *, model: str | None = None, default_lab: str = "lab", progress: Progress | None = None,
                 load: str | Callable[[Any], Any] = "leakage.data:scan_dataset") -> tuple[Any, str]:
    """A lab data name (`lab` = the attack's own lab data set, `default_lab`) or a folder, read by
    `load` (the attack's `load_data`; default: one subfolder of images per person): (data, id)."""
    read = _resolve(load) if isinstance(load, str) else load
    folder = data_folder(spec, default_lab=default_lab, progress=progress)
    name = default_lab if spec == "lab" else spec
    return read(folder), (name if name in LAB_DATA else str(folder))


# --------------------------------------------------------------------------- loaders of the lab's names


def _lab_clip(name: str, device: str | None = None, progress: Progress | None = None):
    from leakage.lab.build import ensure_control, ensure_lab
    from leakage.models import load_clip

    lab = ensure_lab(progress=progress)
    checkpoint = lab.clip_checkpoint if name == "lab" else ensure_control(lab, progress)
    clip = load_clip(lab.clip_model_name, str(checkpoint), device=device)
    clip.metadata["lab"] = lab.describe()
    clip.model_name = name  # results name the lab model, not its temporary path
    clip.pretrained = None
    return clip


def _lab_clip_data(progress: Progress | None = None) -> Path:
    from leakage.lab.build import ensure_lab

    return ensure_lab(progress=progress).attack_dir


def _load_vlm(spec: str, pretrained: str | None = None, device: str | None = None):
    from leakage.vlm import load_vlm

    return load_vlm(spec, device=device)


def _lab_vlm(name: str, device: str | None = None, progress: Progress | None = None):
    from leakage.lab.vlm import ensure_lab_vlm
    from leakage.vlm import load_vlm

    lab = ensure_lab_vlm(progress=progress)
    vlm = load_vlm(lab.model_dir, device=device, name=name)
    vlm.metadata["lab_vlm"] = lab.describe()
    return vlm


def _lab_vlm_data(progress: Progress | None = None) -> Path:
    from leakage.lab.vlm import ensure_lab_vlm

    return ensure_lab_vlm(progress=progress).attack_dir


def _load_mae(spec: str, pretrained: str | None = None, device: str | None = None):
    from leakage.mim import load_mae

    return load_mae(spec, device=device)


def _lab_mae(name: str, device: str | None = None, progress: Progress | None = None):
    from leakage.lab import mae as lab_mae
    from leakage.mim import load_mae

    lab = lab_mae.ensure_lab_mae(progress=progress)
    if name == lab_mae.LAB_MAE_MODEL:
        folder = lab.model_dir
    elif name == lab_mae.LAB_MAE_REFERENCE:
        folder = lab_mae.ensure_reference(lab, progress)
    else:
        folder = lab_mae.ensure_shadow(lab, progress) / "mae"
    loaded = load_mae(folder, device=device, name=name)  # results name the lab model, not its folder
    loaded.metadata["lab"] = lab.describe()
    return loaded


def _lab_mae_data(progress: Progress | None = None) -> Path:
    from leakage.lab import mae as lab_mae

    return lab_mae.ensure_lab_mae(progress=progress).attack_dir


def _lab_mae_shadow_data(progress: Progress | None = None) -> Path:
    from leakage.lab import mae as lab_mae

    return lab_mae.ensure_shadow(lab_mae.ensure_lab_mae(progress=progress), progress) / "data"
