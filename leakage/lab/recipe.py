"""One interface for every lab recipe: the lab CLIP and its control, the lab VLM, the lab MAE with
its reference and shadow, the poisoned CLIPs, and the data sets that go with them.

A recipe turns a config (a frozen dataclass, hashed with the recipe's build format into the
folder name) into an artefact in the data home: `build(config, part, progress, cancel)` builds it
once (under a lock, in a staging folder renamed into place, with a manifest written last), shows
its progress and stops when cancelled; `is_built(config, part)` says whether it is there without
building; `load(config, part, device)` gives a loaded model; `folder(config, part)` a data set's
folder; `membership(config, part)` says who the model was trained on and who it was not.

An artefact holds named *parts*: the models and data sets built with it (the lab CLIP and its
attack set), or on first use (the control CLIP, a reference MAE, one defense of a poisoned CLIP).
A catalog entry (`leakage.catalog.LabModel`, `LabData`) names a recipe and its parameters: config
fields, dotted for nested ones (`training.epochs`), and `part`.

Nothing here imports torch: recipes are found by the catalog from their entries and imported
when something is built, loaded or looked at on disk.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from leakage.lab.artifacts import artifact_root, build_once, build_part, lock_of, megabytes, remove, staging_of
from leakage.locks import file_lock, is_locked
from leakage.progress import CancelFlag, Progress
from leakage.provenance import config_hash

PART = "part"
"""The parameter that names a part of an artefact; every other parameter is a config field."""


def no_progress(stage: str, done: int, total: int) -> None:
    pass


def cancellable(progress: Progress | None, cancel: CancelFlag | None) -> Progress:
    """`progress` that raises RunCancelled once `cancel` is set: every recipe reports progress at
    least every few dozen renders or every training step, so every build stops promptly."""
    report = progress or no_progress
    if cancel is None:
        return report

    def checked(stage: str, done: int, total: int) -> None:
        if cancel.is_set():
            from leakage.results import RunCancelled

            raise RunCancelled("lab build cancelled")
        report(stage, done, total)

    return checked


@dataclass
class Membership:
    """Who a lab model was trained on (members) and who it never saw among the people it is tested on."""

    members: list[str]
    nonmembers: list[str]
    note: str = ""


@dataclass
class Artifact:
    """A recipe's build as its manifest states it: where it is, its config, who its members and
    non-members are. Recipes add what else their manifest holds as further fields."""

    root: Path
    config: Any
    members: Any
    """The people it was trained on (the CLIP lab: name -> training images)."""
    nonmembers: list[str]
    build_seconds: float

    @property
    def attack_dir(self) -> Path:
        """The held-out photos of the members and non-members, with members.csv."""
        return self.root / "attack"

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)

    def details(self) -> dict[str, Any]:
        """What `describe` adds for this recipe."""
        return {}

    def describe(self) -> dict[str, Any]:
        """What a loaded lab model records about the build it comes from."""
        return {"root": str(self.root), "config_hash": self.config_hash, "seed": self.config.seed,
                "n_members": len(self.members), "n_nonmembers": len(self.nonmembers), **self.details()}

    @classmethod
    def from_record(cls, root: Path, config: Any, record: Mapping[str, Any]) -> Any:
        known = {f.name for f in dataclasses.fields(cls)} - {"root", "config"}
        return cls(root=root, config=config, **{key: value for key, value in record.items() if key in known})


def trained_on_others(people: list[str], artifact: Any, what: str) -> Membership:
    """A control or reference model, trained on other people only: everyone in the attack set is a non-member."""
    return Membership(sorted(people), sorted([*artifact.members, *artifact.nonmembers]), f"{what} saw none of the attack set's people")


@dataclass
class Build:
    """One folder a recipe built in the data home, current or left behind."""

    recipe: str
    root: Path
    config: Any | None
    """The config it was built for; None when nothing readable says so (an interrupted build)."""
    current: bool
    """This code's recipe would find it again; a stale one (older format, interrupted) is never loaded."""
    building: bool
    """A build holds its lock right now."""
    megabytes: float
    parts: list[str] = field(default_factory=list)
    foreign: bool = False
    """It has a record this code cannot read (built by other code, e.g. a branch with more settings):
    neither current nor known to be stale, so only `--all` removes it."""


def with_params(config: Any, params: Mapping[str, Any]) -> Any:
    """`config` with fields replaced: `{"n_poison": 8, "training.epochs": 7}`; an unknown field is refused
    with the fields there are."""
    changes: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    names = {f.name for f in dataclasses.fields(config)}
    for key, value in params.items():
        head, _, rest = key.partition(".")
        if head not in names:
            raise ValueError(f"{type(config).__name__} has no setting '{head}'; its settings: {', '.join(sorted(names))}")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            current = getattr(config, head)
            changes[head] = tuple(value) if isinstance(current, tuple) and isinstance(value, list) else value
    for head, inner in nested.items():
        changes[head] = with_params(changes.get(head, getattr(config, head)), inner)
    return dataclasses.replace(config, **changes) if changes else config


class Recipe:
    """The skeleton every lab recipe shares; a recipe fills in what differs (its config, how to
    build into a staging folder, its parts, how to load a model)."""

    folder: ClassVar[str]
    """Its folder in the data home (`lab`, `lab-vlm`, ...)."""
    title: ClassVar[str]
    build_format: ClassVar[int]
    """Bump when the recipe changes: builds of older code land in other folders and are never reused."""
    manifest: ClassVar[str]
    """Written last into the artefact: no manifest, not complete."""
    override_env: ClassVar[str | None] = None
    """An environment variable that points the default config's artefact elsewhere."""
    config_class: ClassVar[type]
    artifact_class: ClassVar[type] = Artifact
    """What `open` makes of a build's manifest."""
    parts: ClassVar[dict[str, str]] = {}
    """part -> its path inside the artefact; model parts first, the first being the default model."""
    data_parts: ClassVar[tuple[str, ...]] = ()
    """Which parts are data sets (the first is the default data set)."""
    later_parts: ClassVar[tuple[str, ...]] = ()
    """Parts not built with the artefact but on first use."""

    # ------------------------------------------------------------------ what a recipe fills in

    def default_config(self) -> Any:
        return self.config_class()

    def hashed(self, config: Any) -> Any:
        """What is hashed into the folder name (with the build format)."""
        return config

    def config_from_record(self, record: Mapping[str, Any]) -> Any:
        return self.config_class.from_dict(record["config"])

    def build_into(self, staging: Path, config: Any, progress: Progress) -> Any:
        """Build the artefact into `staging` (manifest last) and return it."""
        raise NotImplementedError

    def open(self, root: Path) -> Any:
        """The built artefact at `root`, from its manifest."""
        record = json.loads((root / self.manifest).read_text())
        return self.artifact_class.from_record(root, self.config_from_record(record), record)

    def build_part_into(self, artifact: Any, part: str, staging: Path, progress: Progress) -> None:
        """Build a part that is made on first use into `staging` (renamed onto the part afterwards)."""
        raise NotImplementedError(f"{self.title}: part '{part}' is built with the artefact")

    def load(self, config: Any, part: str, *, device: str | None = None, progress: Progress | None = None,
             cancel: CancelFlag | None = None, name: str | None = None) -> Any:
        """The part as a loaded model (built first when missing), named `name` in results."""
        raise NotImplementedError

    def membership(self, config: Any, part: str) -> Membership:
        """Members and non-members of a built part."""
        artifact = self.open(self.root(config))
        return Membership(sorted(artifact.members), sorted(artifact.nonmembers))

    # ------------------------------------------------------------------ the shared skeleton

    def config_of(self, params: Mapping[str, Any]) -> Any:
        return with_params(self.default_config(), {k: v for k, v in params.items() if k != PART})

    def part_of(self, params: Mapping[str, Any], data: bool = False) -> str:
        part = params.get(PART) or (self.data_parts[0] if data else self.model_parts()[0])
        if part not in self.parts:
            raise ValueError(f"{self.title} has no part '{part}'; its parts: {', '.join(self.parts)}")
        return part

    def model_parts(self) -> list[str]:
        return [part for part in self.parts if part not in self.data_parts]

    def root(self, config: Any) -> Path:
        return artifact_root(self.folder, self.build_format, self.hashed(config), self.override_env,
                             is_default=config == self.default_config())

    def part_path(self, root: Path, part: str) -> Path:
        return root / self.parts[part]

    def is_built(self, config: Any, part: str | None = None) -> bool:
        root = self.root(config)
        return (root / self.manifest).is_file() and (part is None or self.part_path(root, part).exists())

    def ensure(self, config: Any | None = None, progress: Progress | None = None, cancel: CancelFlag | None = None) -> Any:
        """The artefact for `config` (the default when None), built first if it is not on disk yet."""
        config = self.default_config() if config is None else config
        report = cancellable(progress, cancel)
        return build_once(self.root(config), self.manifest, self.open, lambda staging: self.build_into(staging, config, report))

    def ensure_part(self, artifact: Any, part: str, progress: Progress | None = None, cancel: CancelFlag | None = None) -> Path:
        """The part's path in a built artefact; a part made on first use is built now (under the
        artefact's lock, in a staging folder renamed onto its top folder)."""
        path = self.part_path(artifact.root, part)
        if part not in self.later_parts:
            return path
        top = artifact.root / Path(self.parts[part]).parts[0]
        report = cancellable(progress, cancel)
        build_part(top, path.exists, lock_of(artifact.root), lambda staging: self.build_part_into(artifact, part, staging, report))
        return path

    def build(self, config: Any | None = None, part: str | None = None, progress: Progress | None = None,
              cancel: CancelFlag | None = None) -> Path:
        """Build (or reuse) the artefact and the part; its path."""
        artifact = self.ensure(config, progress, cancel)
        return self.ensure_part(artifact, part or self.model_parts()[0], progress, cancel)

    def folder_of(self, config: Any, part: str, progress: Progress | None = None, cancel: CancelFlag | None = None) -> Path:
        """A data set's folder, built first when missing."""
        return self.build(config, part, progress, cancel)

    def differences(self, config: Any) -> str:
        """The settings that differ from the recipe's defaults, `key=value` (dotted for nested ones)."""
        from leakage.provenance import to_plain

        def flat(value: Any, prefix: str = "") -> dict[str, Any]:
            if not isinstance(value, dict):
                return {prefix: value}
            return {key: inner for name, item in value.items() for key, inner in flat(item, f"{prefix}{name}.").items()} \
                if value else {prefix: value}

        default, mine = flat(to_plain(self.default_config())), flat(to_plain(config))
        changed = [f"{key.rstrip('.')}={json.dumps(value)}" for key, value in mine.items() if default.get(key) != value]
        return ", ".join(changed) or "default settings"

    # ------------------------------------------------------------------ what is on disk

    def builds(self) -> list[Build]:
        """Every folder of this recipe in the data home: current, stale, or being built now."""
        from leakage.provenance import data_home

        home = data_home() / self.folder
        found = []
        for root in sorted(path for path in home.glob("*") if path.is_dir()) if home.is_dir() else []:
            staging = root.name.endswith(".building")
            final = root.with_name(root.name.removesuffix(".building"))
            config = None if staging else self.recorded_config(root)
            # compared without the override variable: a default lab pointed elsewhere leaves this one current, not stale
            current = config is not None and artifact_root(self.folder, self.build_format, self.hashed(config)) == root
            parts = [part for part in self.parts if self.part_path(root, part).exists()] if current else []
            foreign = not staging and config is None and self.has_record(root)
            found.append(Build(self.folder, root, config, current, is_locked(lock_of(final)), megabytes(root), parts, foreign))
        return found

    def has_record(self, root: Path) -> bool:
        """Whether the folder holds a readable record at all (whatever the config in it)."""
        try:
            return isinstance(json.loads((root / self.manifest).read_text()), dict)
        except (OSError, ValueError):
            return False

    def recorded_config(self, root: Path) -> Any | None:
        """The config a folder was built for, from its manifest; None when unreadable or absent."""
        try:
            return self.config_from_record(json.loads((root / self.manifest).read_text()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def remove_builds(self, builds: list[Build]) -> tuple[float, list[Build]]:
        """Delete these folders, each under its build lock; a folder whose build runs now is skipped.
        (MB freed, the builds skipped.)"""
        freed, skipped = 0.0, []
        for found in builds:
            final = found.root.with_name(found.root.name.removesuffix(".building"))
            if is_locked(lock_of(final)):
                skipped.append(found)
                continue
            with file_lock(lock_of(final)):
                remove(found.root)
                if not found.root.name.endswith(".building"):
                    remove(staging_of(found.root))
            freed += found.megabytes
        return freed, skipped
