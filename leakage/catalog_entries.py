"""What the lab catalog is made of: the kinds of model an attack can need, the formats a data set
can have, and the entries (`LabModel`, `LabData`) that attacks declare in their `Attack` and the
registry (`leakage.attacks`) collects with `collect_lab`.

Plain data below the registry: nothing here knows which attacks exist. The lookups by name
(`leakage.catalog`) sit above the registry and read what it collected.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Mapping
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
                  "leakage.catalog_entries:_load_vlm"),
        ModelKind("mae", "a masked autoencoder (ViT-MAE)", "a folder written by save_pretrained or a cached hub id",
                  "leakage.catalog_entries:_load_mae"),
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

    def data_sets(self, declared: Mapping[str, LabData]) -> list[LabData]:
        """Its lab data sets among those `declared` (the collected catalog's); for a variant (other
        settings of the same recipe), the variant's own."""
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


# --------------------------------------------------------------------------- loaders of the kinds


def _load_vlm(spec: str, pretrained: str | None = None, device: str | None = None):
    from leakage.vlm import load_vlm

    return load_vlm(spec, device=device)


def _load_mae(spec: str, pretrained: str | None = None, device: str | None = None):
    from leakage.mim import load_mae

    return load_mae(spec, device=device)
