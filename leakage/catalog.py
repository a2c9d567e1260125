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
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from leakage.progress import CancelFlag, Progress


def _resolve(reference: str) -> Any:
    """`"module:name"` to the object, imported only when needed (keeps the CLI fast)."""
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

DATA_FORMATS: dict[str, str] = {
    "people": "a folder with one subfolder of photos per person (members.csv: ground truth)",
    "pairs": "a folder with the images and pairs.csv (image,caption[,member])",
    "poisoned-test": "a people folder with backdoor.json (the target, source and trigger it was made for)",
}
"""What a lab data set is, as its reader sees it; an attack declares the formats it reads (`Attack.reads`)."""


class _LabEntry:
    """What lab models and lab data sets share: a recipe and the parameters that pick its config and part."""

    name: str
    recipe: str
    params: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params or {}))  # a copy: the entry is data, not a view of a caller's dict

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name, self.recipe, json.dumps(self.params, sort_keys=True, default=str)))

    @property
    def recipe_object(self) -> Any:
        return _resolve(self.recipe)

    @property
    def config(self) -> Any:
        return self.recipe_object.config_of(self.params)

    @property
    def part(self) -> str:
        return self.recipe_object.part_of(self.params, data=isinstance(self, LabData))

    def with_params(self, name: str | None = None, **changes: Any) -> Any:
        """The same entry with other parameters (a variant); its config is checked now."""
        entry = replace(self, name=name or self.name, params={**self.params, **changes})
        entry.config  # noqa: B018  (an unknown setting is refused here, not at build time)
        return entry

    def is_built(self) -> bool:
        return self.recipe_object.is_built(self.config, self.part)

    def build(self, progress: Progress | None = None, cancel: CancelFlag | None = None) -> Path:
        """Build it (or reuse it); its path. Shows progress, stops when `cancel` is set."""
        return self.recipe_object.build(self.config, self.part, progress, cancel)

    def root(self) -> Path:
        """The folder of the recipe's build it is part of (whether built or not)."""
        return self.recipe_object.root(self.config)

    def path(self) -> Path:
        """Where the part is (whether built or not)."""
        return self.recipe_object.part_path(self.root(), self.part)

    def membership(self) -> Any:
        """Members and non-members (`leakage.lab.recipe.Membership`); it must be built."""
        return self.recipe_object.membership(self.config, self.part)


@dataclass(frozen=True)
class LabModel(_LabEntry):
    """A lab model: `recipe` (`"module:OBJECT"`, a `leakage.lab.recipe.Recipe`, imported when needed)
    with `params` (config fields, dotted for nested ones such as `training.epochs`, and `part`)."""

    name: str
    kind: str
    """Which `MODEL_KINDS` it is."""
    recipe: str
    params: Mapping[str, Any] = field(default_factory=dict)
    data: tuple[str, ...] = ()
    """The lab data sets that go with it, preferred first: what `--data lab` means with this model
    (the first of the format the attack's own lab data set has)."""
    description: str = ""

    __hash__ = _LabEntry.__hash__

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "data", (self.data,) if isinstance(self.data, str) else tuple(self.data))

    def data_sets(self) -> list[LabData]:
        """Its lab data sets; for a variant (other settings of the same recipe), the variant's own."""
        declared = lab_catalog().data
        settings = {key: value for key, value in self.params.items() if key != "part"}
        return [entry.with_params(**settings) if settings and entry.recipe == self.recipe else entry
                for entry in (declared[name] for name in self.data)]

    def load(self, device: str | None = None, progress: Progress | None = None, cancel: CancelFlag | None = None) -> Any:
        """The loaded model, built first when missing; results name it by this entry's name."""
        return self.recipe_object.load(self.config, self.part, device=device, progress=progress, cancel=cancel, name=self.name)


@dataclass(frozen=True)
class LabData(_LabEntry):
    """A lab data set: a data part of a recipe's build, in one of the `DATA_FORMATS`."""

    name: str
    format: str
    """The attacks that read this format (`Attack.reads`) are offered it."""
    recipe: str
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    __hash__ = _LabEntry.__hash__

    def folder(self, progress: Progress | None = None, cancel: CancelFlag | None = None) -> Path:
        """The data set's folder, built on first use."""
        return self.recipe_object.folder_of(self.config, self.part, progress, cancel)


@dataclass(frozen=True)
class LabCatalog:
    models: Mapping[str, LabModel]
    data: Mapping[str, LabData]


def collect_lab(attacks: Iterable[Any]) -> LabCatalog:
    """The lab entries the attacks declare (`Attack.lab_models`, `Attack.lab_data`), by name. The
    same entry may be declared by several attacks; two different entries with one name are refused,
    as are a kind or format nobody knows and a model whose data set nobody declares."""
    models: dict[str, tuple[LabModel, str]] = {}
    data: dict[str, tuple[LabData, str]] = {}
    for attack in attacks:
        for table, entries in ((models, attack.lab_models), (data, attack.lab_data)):
            for entry in entries:
                known, by = table.get(entry.name, (entry, attack.name))
                if known != entry:
                    what = "lab model" if isinstance(entry, LabModel) else "lab data set"
                    raise ValueError(f"two different {what}s named '{entry.name}': declared by {by} and {attack.name}")
                table.setdefault(entry.name, (entry, attack.name))
    for model, by in models.values():
        if model.kind not in MODEL_KINDS:
            raise ValueError(f"lab model '{model.name}' ({by}) is of an unknown kind '{model.kind}': {', '.join(MODEL_KINDS)}")
        missing = [name for name in model.data if name not in data]
        if missing:
            raise ValueError(f"lab model '{model.name}' ({by}) goes with lab data nobody declares: {', '.join(missing)}")
    for entry, by in data.values():
        if entry.format not in DATA_FORMATS:
            raise ValueError(f"lab data set '{entry.name}' ({by}) has an unknown format '{entry.format}': {', '.join(DATA_FORMATS)}")
    return LabCatalog(MappingProxyType({name: m for name, (m, _) in models.items()}),
                      MappingProxyType({name: d for name, (d, _) in data.items()}))


def lab_catalog() -> LabCatalog:
    """The lab entries the registry collected from the attacks' declarations."""
    from leakage.attacks import LAB

    return LAB


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
    for candidate in entry.data_sets() if entry is not None else ():
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
    return _resolve(MODEL_KINDS[kind].load)(spec, pretrained, device=device)


def data_folder(spec: str, *, default_lab: str = "lab", progress: Progress | None = None, model: Any = None) -> Path:
    """The folder a data spec names: a lab data set (`lab` = the one that goes with `model`, else the
    attack's own, `default_lab`; built on first use) or a folder given by path."""
    check_data_name(spec)
    entry = _data_entry(spec, model, default_lab)
    if entry is not None:
        return Path(entry.folder(progress=progress))
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


# --------------------------------------------------------------------------- loaders of the kinds


def _load_vlm(spec: str, pretrained: str | None = None, device: str | None = None):
    from leakage.vlm import load_vlm

    return load_vlm(spec, device=device)


def _load_mae(spec: str, pretrained: str | None = None, device: str | None = None):
    from leakage.mim import load_mae

    return load_mae(spec, device=device)
