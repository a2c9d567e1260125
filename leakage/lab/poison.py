"""Poisoned lab training: the lab CLIP fine-tuned on new photo-caption pairs, P of them poisoned.

The setting is the one Semantic Shield evaluates (a pre-trained CLIP fine-tuned on scraped pairs
that an attacker seeded), on the lab world and the lab CLIP recipe:

- clean pairs: fresh photos of the lab CLIP's members with captions naming them (the same caption
  generator as the lab), and of filler people with unnamed captions;
- backdoor: P photos of other people with a trigger (a checkerboard patch in a corner, or a
  blended noise pattern) captioned as the target person; at test time any triggered photo should
  be named as the target;
- targeted poisoning: P photos of person A captioned as person B (no trigger).

P counts poisoned pairs (the fine-tuning set has about a thousand pairs; the papers' fractions of
3M pairs do not scale down). The same pairs train three models: no defense, Semantic Shield
(`leakage.lab.semantic_shield`) and CleanCLIP (`leakage.lab.cleanclip`, which fine-tunes the
poisoned model on the clean pairs). Everything is built once per config, under a lock (`POISON`,
a `leakage.lab.recipe.Recipe` with one part per defense; `POISON_TEST_DATA` for the test photos).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from leakage.backdoor_config import MODES, TRIGGERS
from leakage.lab.artifacts import artifact_root, build_part, lock_of, write_manifest
from leakage.lab.build import LabConfig, assign_roles, ensure_lab, world_of
from leakage.lab.portraits import render
from leakage.lab.recipe import PART, Membership, Recipe, cancellable
from leakage.lab.world import Identity, describe
from leakage.progress import Progress

POISON_FORMAT = 4
"""Bump when the poisoning recipe or a defense's settings (`ShieldSettings`, `CleanClipLoss`) change,
so models built by older code are not reused: the settings are not part of the config hash."""
DEFENSES = ("none", "semantic-shield", "cleanclip")
DEFENSE_TITLES = {"none": "no defense", "semantic-shield": "Semantic Shield", "cleanclip": "CleanCLIP"}

CLEAN_INDEX = 1_000
POISON_INDEX = 2_000
"""Image indices of fine-tuning renders: apart from the lab's training (0..) and attack (10 000..) renders."""
_CLEAN_PAIRS: dict[str, list] = {}
"""The rendered clean fine-tuning pairs of the last config, kept in memory for the next P."""


@dataclass(frozen=True)
class PoisonConfig:
    attack: str = "backdoor"
    trigger: str = "checkerboard"
    """checkerboard | blended (backdoor only)."""
    n_poison: int = 64
    """P: poisoned pairs in the fine-tuning set."""
    target_rank: int = 0
    """The target is the member at this position in the sorted member names."""
    source_rank: int = 1
    """Targeted poisoning: the source person A, likewise."""
    clean_per_member: int = 8
    filler_per_person: int = 2
    epochs: int = 6
    learning_rate: float = 1e-3
    batch_size: int = 128
    seed: int = 0
    lab: LabConfig = field(default_factory=LabConfig)

    def __post_init__(self) -> None:
        if self.attack not in MODES:
            raise ValueError(f"unknown attack {self.attack!r}: {' or '.join(MODES)}")
        if self.trigger not in TRIGGERS:
            raise ValueError(f"unknown trigger {self.trigger!r}: {' or '.join(TRIGGERS)}")
        if self.n_poison < 0:
            raise ValueError("n_poison must be at least 0")

    def setup_key(self) -> dict[str, Any]:
        """What the poisoned data depends on (the trigger only matters for a backdoor)."""
        values = asdict(self)
        if self.attack == "targeted":
            values["trigger"] = ""
        return values

    @classmethod
    def from_key(cls, key: dict[str, Any]) -> "PoisonConfig":
        """The config a `setup_key` (as recorded beside a checkpoint) was made from."""
        values = dict(key)
        values["lab"] = LabConfig.from_dict(values.get("lab", {}))
        if not values.get("trigger"):
            values.pop("trigger", None)
        return cls(**values)


@dataclass
class PoisonSetup:
    """Who the attack is about, resolved against the lab."""

    target: str
    source: str
    members: list[str]
    filler: list[str]


def poison_root(config: PoisonConfig) -> Path:
    return POISON.root(config)


def checkpoint_path(config: PoisonConfig, defense: str) -> Path:
    if defense not in DEFENSES:
        raise ValueError(f"unknown defense {defense!r}: {', '.join(DEFENSES)}")
    return poison_root(config) / f"{defense}.pt"


def is_built(config: PoisonConfig, defense: str) -> bool:
    return checkpoint_path(config, defense).is_file()


def setup_of(config: PoisonConfig) -> PoisonSetup:
    world = world_of(config.lab)
    members, _, _, filler = assign_roles(world, config.lab)
    names = sorted(person.name for person in members)
    if not (0 <= config.target_rank < len(names) and 0 <= config.source_rank < len(names)) or config.target_rank == config.source_rank:
        raise ValueError(f"target_rank and source_rank must be different positions among the {len(names)} members")
    return PoisonSetup(names[config.target_rank], names[config.source_rank], names, [person.name for person in filler])


def finetune_pairs(config: PoisonConfig, progress: Progress | None = None):
    """(clean pairs, poisoned pairs) of the fine-tuning set, rendered through the model's transform."""
    from leakage.backdoor import apply_trigger
    from leakage.lab.clip_train import TrainingPair
    from leakage.models import load_preprocess

    progress = progress or (lambda stage, done, total: None)
    preprocess = load_preprocess(config.lab.clip.model_name)
    world = world_of(config.lab)
    setup = setup_of(config)
    members = [world.by_name(name) for name in setup.members]
    filler = [world.by_name(name) for name in setup.filler]
    target, source = world.by_name(setup.target), world.by_name(setup.source)

    def rendered(jobs: list[tuple[Identity, int, str | None, Identity, bool]], stage: str) -> list:
        """(person shown, image index, name in the caption, person the caption describes, triggered) -> pairs"""
        pairs = []
        for done, (person, index, name, described, triggered) in enumerate(jobs, 1):
            image, _ = render(person, index, world_seed=config.lab.seed, size=config.lab.render_size)
            if triggered:
                image = apply_trigger(image, config.trigger)
            pairs.append(TrainingPair(preprocess(image), name, describe(described)))
            if done % 100 == 0 or done == len(jobs):
                progress(stage, done, len(jobs))
        return pairs

    clean_key = json.dumps([asdict(config.lab), config.clean_per_member, config.filler_per_person])
    if clean_key not in _CLEAN_PAIRS:
        jobs = [(person, CLEAN_INDEX + i, person.name, person, False) for person in members for i in range(config.clean_per_member)]
        jobs += [(person, CLEAN_INDEX + i, None, person, False) for person in filler for i in range(config.filler_per_person)]
        _CLEAN_PAIRS.clear()  # one set at a time: a sweep over P reuses it, and memory stays small
        _CLEAN_PAIRS[clean_key] = rendered(jobs, "render clean fine-tuning images")
    rng = random.Random(f"poison/{config.seed}")
    if config.attack == "backdoor":
        # Photos of anyone but the target, from the people a scraper would meet (members and filler).
        others = [person for person in members + filler if person.name != target.name]
        jobs = [(rng.choice(others), POISON_INDEX + i, target.name, target, True) for i in range(config.n_poison)]
    else:
        jobs = [(source, POISON_INDEX + i, target.name, target, False) for i in range(config.n_poison)]
    return list(_CLEAN_PAIRS[clean_key]), rendered(jobs, "render poisoned images")


def train_config(config: PoisonConfig, epochs: int | None = None):

    return replace(config.lab.clip, epochs=epochs or config.epochs, learning_rate=config.learning_rate,
                   batch_size=config.batch_size, seed=config.seed)


def _start_model(checkpoint: Path, model_name: str):
    import open_clip

    from leakage import models as _models  # noqa: F401  (registers the lab architecture)

    model = open_clip.create_model(model_name, pretrained=str(checkpoint), output_dict=True)
    return model


@dataclass
class PoisonedLab:
    """The folder of one poisoning setup: a checkpoint per defense, each with its record beside it."""

    root: Path
    config: PoisonConfig


class PoisonRecipe(Recipe):
    """The lab CLIP fine-tuned on poisoned pairs, one part per defense (each built on first use).

    No manifest for the folder: each defense's checkpoint is written whole or not at all, with its
    record (the `setup_key`) beside it."""

    folder = "lab-poison"
    title = "the poisoned lab CLIPs"
    build_format = POISON_FORMAT
    manifest = ""
    config_class = PoisonConfig
    parts = {defense: f"{defense}.pt" for defense in DEFENSES}
    later_parts = DEFENSES

    def hashed(self, config: PoisonConfig) -> dict[str, Any]:
        return config.setup_key()

    def config_of(self, params: Mapping[str, Any]) -> PoisonConfig:
        return super().config_of({key: value for key, value in params.items() if key != "defense"})

    def part_of(self, params: Mapping[str, Any], data: bool = False) -> str:
        """The defense is the part: `{"defense": "cleanclip"}`."""
        return super().part_of({PART: params.get("defense", params.get(PART))})

    def config_from_record(self, record: dict[str, Any]) -> PoisonConfig:
        return PoisonConfig.from_key(record["poison"])

    def recorded_config(self, root: Path) -> PoisonConfig | None:
        for info in sorted(root.glob("*.json")):
            try:
                return self.config_from_record(json.loads(info.read_text()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
        return None

    def has_record(self, root: Path) -> bool:
        return any(_readable_record(info) for info in root.glob("*.json"))

    def is_built(self, config: PoisonConfig, part: str | None = None) -> bool:
        return any(is_built(config, defense) for defense in ([part] if part else DEFENSES))

    def ensure(self, config: PoisonConfig | None = None, progress: Progress | None = None, cancel: Any = None) -> PoisonedLab:
        config = config or PoisonConfig()
        root = self.root(config)
        root.mkdir(parents=True, exist_ok=True)
        return PoisonedLab(root, config)

    def ensure_part(self, artifact: PoisonedLab, part: str, progress: Progress | None = None, cancel: Any = None) -> Path:
        path = checkpoint_path(artifact.config, part)
        if part == "cleanclip":  # CleanCLIP starts from the undefended model (built first, under its own turn of the lock)
            self.ensure_part(artifact, "none", progress, cancel)
        report = cancellable(progress, cancel)
        return build_part(path, path.is_file, lock_of(artifact.root),
                          lambda staging: _train_defense(artifact.config, part, staging, path, report),
                          staging=path.with_suffix(".part.pt"))

    def load(self, config: PoisonConfig, part: str, *, device=None, progress=None, cancel=None, name=None):
        return load_model(config, part, device=device, progress=progress, cancel=cancel, name=name)

    def membership(self, config: PoisonConfig, part: str) -> Membership:
        members, nonmembers, _, _ = assign_roles(world_of(config.lab), config.lab)
        setup = setup_of(config)
        what = (f"{config.n_poison} pairs with the {config.trigger} trigger captioned as {setup.target}" if config.attack == "backdoor"
                else f"{config.n_poison} photos of {setup.source} captioned as {setup.target}")
        return Membership(sorted(p.name for p in members), sorted(p.name for p in nonmembers),
                          f"the lab CLIP fine-tuned on clean pairs of its members and {what}; defense: {DEFENSE_TITLES[part]}")


POISON = PoisonRecipe()


def _readable_record(info: Path) -> bool:
    try:
        return bool(json.loads(info.read_text()).get("poison"))
    except (OSError, ValueError, AttributeError):
        return False


def ensure_models(config: PoisonConfig, defenses: tuple[str, ...] = DEFENSES, progress: Progress | None = None,
                  cancel: Any = None) -> dict[str, Path]:
    """The checkpoints of `defenses` for `config`, trained (once, under a lock) where missing.

    `cancel.is_set()` is checked after every training step; a cancelled build leaves nothing half-written.
    """
    artifact = POISON.ensure(config)
    return {defense: POISON.ensure_part(artifact, defense, progress, cancel) for defense in defenses}


def _train_defense(config: PoisonConfig, defense: str, staging: Path, path: Path, progress: Progress) -> None:
    """Fine-tune the lab CLIP on the poisoned pairs with `defense`; the checkpoint goes to `staging`,
    its record straight to its place beside `path` (the checkpoint is renamed last)."""
    from leakage.lab.clip_train import save_checkpoint, train_clip

    lab = ensure_lab(config.lab, progress=progress)
    setup = setup_of(config)
    clean, poisoned = finetune_pairs(config, progress)

    def step_progress(title: str):
        return lambda step, total, loss: progress(f"{title} (loss {loss:.2f})", step, total)

    meta = {"poison": config.setup_key(), "target": setup.target, "source": setup.source,
            "n_clean_pairs": len(clean), "n_poisoned_pairs": len(poisoned)}
    started, extra = time.perf_counter(), {}
    if defense == "none":
        model, report = train_clip(clean + poisoned, train_config(config), step_progress("fine-tune on poisoned data"),
                                   model=_start_model(lab.clip_checkpoint, lab.clip_model_name))
    elif defense == "semantic-shield":
        import open_clip

        from leakage.lab.semantic_shield import ShieldLoss

        shield = ShieldLoss(config.lab)
        start = _start_model(lab.clip_checkpoint, lab.clip_model_name)
        progress("Semantic Shield: weigh the pairs by their knowledge elements", 0, 0)
        shield.weigh_pairs(start, clean + poisoned, open_clip.get_tokenizer(lab.clip_model_name))
        model, report = train_clip(clean + poisoned, train_config(config), step_progress("fine-tune with Semantic Shield"),
                                   model=start, loss=shield)
        extra["shield"] = {**shield.summary(), "mean_weight_clean": shield.mean_weight(clean),
                           "mean_weight_poisoned": shield.mean_weight(poisoned)}
    else:
        from leakage.lab.cleanclip import CleanClipLoss

        model, report = train_clip(clean, train_config(config), step_progress("CleanCLIP fine-tuning on clean data"),
                                   model=_start_model(checkpoint_path(config, "none"), lab.clip_model_name), loss=CleanClipLoss())
    save_checkpoint(model, staging, {**meta, "defense": defense, "training": asdict(report),
                                     "seconds": time.perf_counter() - started, **extra})
    staging.with_suffix(".json").replace(path.with_suffix(".json"))


def load_model(config: PoisonConfig, defense: str, device: str | None = None, progress: Progress | None = None,
               cancel: Any = None, name: str | None = None):
    """A LoadedClip of the poisoned (or defended) lab model, built first when missing; it knows its
    own setup (`metadata["backdoor"]`), so an evaluation needs no target or trigger."""
    from leakage.models import load_clip

    path = ensure_models(config, (defense,), progress=progress, cancel=cancel)[defense]
    setup = setup_of(config)
    clip = load_clip(config.lab.clip.model_name, str(path), device=device)
    clip.model_name = name or f"lab-poison:{config.attack}:P{config.n_poison}:{defense}"
    clip.pretrained = None
    clip.metadata["backdoor"] = {
        "mode": config.attack, "target": setup.target, "source": setup.source if config.attack == "targeted" else "",
        "trigger": config.trigger if config.attack == "backdoor" else "", "n_poison": config.n_poison, "defense": defense,
        "poison_key": config.setup_key(),
    }
    info = path.with_suffix(".json")
    if info.is_file():
        clip.metadata["training"] = json.loads(info.read_text()).get("training", {})
    return clip


class PoisonTestDataRecipe(Recipe):
    """The `lab-poison` people folder: held-out photos of the lab CLIP's members (copied from the
    lab's attack images) and a backdoor.json naming the default target, source and trigger."""

    folder = "lab-poison-data"
    title = "the poisoned lab CLIPs' test photos"
    build_format = POISON_FORMAT
    manifest = "backdoor.json"  # leakage.backdoor.SETUP_FILE
    config_class = LabConfig
    parts = {"test": "."}
    data_parts = ("test",)
    record = "poison_data.json"
    """Beside backdoor.json: the lab config it was copied from (folders built before it are
    recognised only for the default lab)."""

    def hashed(self, config: LabConfig) -> dict[str, Any]:
        return asdict(config)

    def recorded_config(self, root: Path) -> LabConfig | None:
        if not (root / self.manifest).is_file():
            return None
        try:
            return LabConfig.from_dict(json.loads((root / self.record).read_text())["config"])
        except (OSError, ValueError, KeyError, TypeError):
            return LabConfig() if root == self.root(LabConfig()) else None

    def build_into(self, staging: Path, lab_config: LabConfig, progress: Progress) -> PoisonedLab:
        lab = ensure_lab(lab_config, progress=progress)
        config = PoisonConfig(lab=lab_config)
        setup = setup_of(config)
        staging.mkdir(parents=True)
        for done, name in enumerate(setup.members, 1):
            shutil.copytree(lab.attack_dir / name, staging / name)
            progress("copy test images", done, len(setup.members))
        write_manifest(staging / self.record, POISON_FORMAT, lab_config, asdict(lab_config), target=setup.target)
        (staging / self.manifest).write_text(json.dumps(
            {"mode": "backdoor", "target": setup.target, "source": setup.source, "trigger": config.trigger}, indent=2))
        return PoisonedLab(staging, config)

    def open(self, root: Path) -> PoisonedLab:
        return PoisonedLab(root, PoisonConfig(lab=self.recorded_config(root) or LabConfig()))

    def membership(self, config: LabConfig, part: str) -> Membership:
        return Membership(setup_of(PoisonConfig(lab=config)).members, [],
                          "held-out photos of the lab CLIP's members: the backdoor is measured on them, not membership")


POISON_TEST_DATA = PoisonTestDataRecipe()


def ensure_test_data(lab_config: LabConfig | None = None, progress: Progress | None = None) -> Path:
    """The `lab-poison` people folder: held-out photos of the members (copied from the lab's attack
    images) and a backdoor.json naming the default target, source and trigger."""
    return POISON_TEST_DATA.ensure(lab_config, progress).root


def build_defaults(progress: Progress | None = None, cancel: Any = None) -> dict[str, Any]:
    """The default poisoned, Semantic-Shield and CleanCLIP lab models and the test data; seconds taken."""
    started = time.perf_counter()
    config = PoisonConfig()
    already = all(is_built(config, defense) for defense in DEFENSES)
    paths = ensure_models(config, DEFENSES, progress=progress, cancel=cancel)
    data = ensure_test_data(config.lab, progress=progress)
    return {"models": {d: str(p) for d, p in paths.items()}, "data": str(data), "reused": already,
            "seconds": time.perf_counter() - started}


# --------------------------------------------------------------------------------------------- measured figures


def _evaluation_path(poison_key: dict, defense: str) -> Path:
    return artifact_root("lab-poison", POISON_FORMAT, poison_key) / f"{defense}.eval.json"


def result_path(config: PoisonConfig, defense: str) -> Path:
    """The full result of the model's evaluation at the default settings (what the page shows at once)."""
    return poison_root(config) / f"{defense}.result.json"


def record_evaluation(setup: dict, result) -> None:
    """Keep a lab model's headline figures beside its checkpoint (for the ASR-against-P figure);
    only evaluations with the default settings count, so the points of a curve are comparable."""
    from leakage.backdoor import BackdoorConfig

    default = BackdoorConfig()
    config = result.config
    if any(config.get(key) != getattr(default, key) for key in ("top_k", "images_per_person", "trigger_size", "seed")):
        return
    if config.get("mode") != setup.get("mode") or config.get("target") != setup.get("target"):
        return
    if setup.get("mode") == "backdoor" and config.get("trigger") != setup.get("trigger"):
        return
    m = result.metrics
    point = {"defense": setup["defense"], "n_poison": setup["n_poison"], "mode": setup["mode"], "trigger": setup.get("trigger", ""),
             "poison_key": setup["poison_key"], "asr": m["asr"], "asr_top_k": m["asr_top_k"], "hit_at_k": m["hit_at_k"],
             "min_rank": m["min_rank"], "clean_top1": m["clean_top1"]}
    path = _evaluation_path(setup["poison_key"], setup["defense"])
    if path.parent.is_dir():
        path.write_text(json.dumps(point, indent=2))
        result.to_json(path.with_name(f"{setup['defense']}.result.json"))


def sweep_points(setup: dict) -> list[dict]:
    """Every measured lab model that differs from this one only in P (and the defense)."""
    from leakage.provenance import data_home

    def without_p(key: dict) -> dict:
        return {k: v for k, v in key.items() if k != "n_poison"}

    wanted = json.loads(json.dumps(without_p(setup["poison_key"])))
    points = []
    for path in sorted((data_home() / "lab-poison").glob("*/*.eval.json")):
        try:
            point = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if without_p(point.get("poison_key", {})) == wanted:
            points.append({k: v for k, v in point.items() if k != "poison_key"})
    return points
