"""Every short name of a model or a data set, resolved in one place.

Models come in kinds (a CLIP model, a generative vision-language model, a masked autoencoder);
each attack says which kind it needs. The lab's own models and data sets are entries of data:
`LabModel(name, kind, recipe, params, data)` and `LabData(name, format, recipe, params)`, where
the recipe (`leakage.lab.recipe.Recipe`) builds and loads them and the parameters pick its config
and part. Attacks declare the entries they bring (`Attack.lab_models`, `Attack.lab_data`) and the
registry (`leakage.attacks`) collects them, refusing two entries with one name; nothing registers
itself on import. Anything that is not a lab name is a path or a model id handed to the kind's loader.

A name of the wrong kind, or an unknown `lab...` name, is refused before anything is loaded or
any hub is tried, with the names that would work; so is a lab data set the attack cannot read.
Nothing heavy is imported until a model or data set is actually loaded, so those checks are instant.

Above the registry: the entries are what the attacks declare (`leakage.catalog_entries` holds their
types), so the lookups here read the registry's collection; an attack module never imports this one
(the run service hands an attack what it needs through its `RunContext`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import leakage.attacks as registry
from leakage.catalog_entries import (  # noqa: F401  (the catalog's vocabulary, re-exported for its callers)
    DATA_FORMATS, MODEL_KINDS, LabCatalog, LabData, LabModel, _resolve,
)
from leakage.progress import Progress


def lab_catalog() -> LabCatalog:
    """The lab entries the registry collected from the attacks' declarations."""
    return registry.LAB


def __getattr__(name: str) -> Any:
    """`LAB_MODELS` and `LAB_DATA`: read-only views of the collected catalog, by name."""
    if name == "LAB_MODELS":
        return lab_catalog().models
    if name == "LAB_DATA":
        return lab_catalog().data
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def lab_models(kind: str | None = None) -> list[LabModel]:
    return [model for model in lab_catalog().models.values() if kind is None or model.kind == kind]


def lab_model(spec: Any) -> LabModel | None:
    """The lab model `spec` names (or is), else None."""
    if isinstance(spec, LabModel):
        return spec
    return lab_catalog().models.get(spec) if isinstance(spec, str) else None


def lab_data_sets(attack: Any = None) -> list[LabData]:
    """Every lab data set, or those `attack` can read: of a format it reads (`attack.reads`) and made
    for a model of its kind (a data set no lab model names goes with every kind)."""
    catalog = lab_catalog()
    if attack is None:
        return list(catalog.data.values())
    kinds: dict[str, set[str]] = {}
    for model in catalog.models.values():
        for name in model.data:
            kinds.setdefault(name, set()).add(model.kind)
    return [entry for entry in catalog.data.values()
            if entry.format in attack.reads and attack.model_kind in kinds.get(entry.name, {attack.model_kind})]


def check_model_name(spec: Any, kind: str) -> None:
    """Refuse, at once, a lab name of another kind or an unknown lab name, naming the valid ones."""
    wanted = MODEL_KINDS[kind]
    valid = ", ".join(model.name for model in lab_models(kind)) or "none"
    entry = lab_model(spec)
    if entry is not None and entry.kind != kind:
        raise ValueError(
            f"'{entry.name}' is {entry.description} ({MODEL_KINDS[entry.kind].title}), but this attack needs "
            f"{wanted.title}. Lab models of that kind: {valid}. Or give {wanted.accepts}."
        )
    if entry is None and spec.startswith("lab") and not Path(spec).expanduser().exists() and spec not in _lab_architectures():
        raise ValueError(f"unknown lab model '{spec}'. Lab models that are {wanted.title}: {valid}. Or give {wanted.accepts}.")


def _lab_architectures() -> set[str]:
    """open_clip architectures of the lab's own models (`lab-clip-s`): names a real loader takes."""
    folder = Path(__file__).resolve().parent / "lab" / "model_configs"
    return {path.stem for path in folder.glob("*.json")}


def check_data_name(spec: str, attack: Any = None) -> None:
    """Refuse, at once, an unknown lab data name, or (given the attack) a lab data set it cannot read,
    naming those that work."""
    data = lab_catalog().data
    if spec.startswith("lab") and spec not in data and not Path(spec).expanduser().exists():
        names = ", ".join(entry.name for entry in lab_data_sets(attack)) if attack is not None else ", ".join(data)
        raise ValueError(f"unknown lab data set '{spec}'. Lab data sets: {names}; or give a folder.")
    if attack is not None and spec != "lab" and spec in data and data[spec] not in lab_data_sets(attack):
        entry = data[spec]
        fits = ", ".join(d.name for d in lab_data_sets(attack)) or "none"
        reads = " or ".join(DATA_FORMATS[f].split(" (")[0] for f in attack.reads)
        raise ValueError(f"'{spec}' is {entry.description} ({DATA_FORMATS[entry.format].split(' (')[0]}), which {attack.name} "
                         f"cannot use: it reads {reads}, for {MODEL_KINDS[attack.model_kind].title}. "
                         f"Lab data sets it reads: {fits}; or give a folder.")


def own_lab_data(model: Any, default_lab: str) -> LabData | None:
    """What `--data lab` means: the chosen lab model's lab data set of the format the attack's own
    (`default_lab`) has, else the attack's own."""
    data = lab_catalog().data
    entry = lab_model(model)
    wanted = data[default_lab].format if default_lab in data else None
    for candidate in entry.data_sets(data) if entry is not None else ():
        if wanted is None or candidate.format == wanted:
            return candidate
    return data.get(default_lab)


def _data_entry(spec: str, model: Any, default_lab: str) -> LabData | None:
    return own_lab_data(model, default_lab) if spec == "lab" else lab_catalog().data.get(spec)


def resolve_model(spec: Any, kind: str, *, pretrained: str | None = None, device: str | None = None,
                  progress: Progress | None = None) -> Any:
    """A loaded model of `kind` from a lab name (or a `LabModel`, e.g. a poisoned variant) or
    anything the kind's loader takes."""
    check_model_name(spec, kind)
    entry = lab_model(spec)
    if entry is not None:
        return entry.load(device=device, progress=progress)
    from leakage.paths import check_allowed

    for path in (spec, pretrained):  # however the run started: page, plan, Ray worker, CLI
        check_allowed(path, "model", lab_names=lab_catalog().models)
    return _resolve(MODEL_KINDS[kind].load)(spec, pretrained, device=device)


def data_folder(spec: str, *, default_lab: str = "lab", progress: Progress | None = None, model: Any = None) -> Path:
    """The folder a data spec names: a lab data set (`lab` = the one that goes with `model`, else the
    attack's own, `default_lab`; built on first use) or a folder given by path."""
    check_data_name(spec)
    entry = _data_entry(spec, model, default_lab)
    if entry is not None:
        return Path(entry.folder(progress=progress))
    from leakage.paths import check_allowed

    check_allowed(spec, "data", lab_names=lab_catalog().data)  # before looking whether it exists: no oracle for folders outside the roots
    folder = Path(spec).expanduser()
    if not folder.exists():
        raise FileNotFoundError(f"data folder not found: {spec}")
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {spec}")
    return folder.resolve()


def resolve_data(spec: str, *, model: Any = None, default_lab: str = "lab", progress: Progress | None = None,
                 load: str | Callable[[Any], Any] = "leakage.data:scan_dataset") -> tuple[Any, str]:
    """A lab data name (`lab` = the lab data set that goes with `model`, else the attack's own,
    `default_lab`) or a folder, read by `load` (the attack's `load_data`; default: one subfolder of
    images per person): (data, id)."""
    read = _resolve(load) if isinstance(load, str) else load
    folder = data_folder(spec, default_lab=default_lab, progress=progress, model=model)
    entry = _data_entry(spec, model, default_lab)
    if entry is None:
        return read(folder), str(folder)
    declared = lab_catalog().data.get(entry.name) == entry
    return read(folder), entry.name if declared else f"{entry.name} ({entry.recipe_object.differences(entry.config)})"
