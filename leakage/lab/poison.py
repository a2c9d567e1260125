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
SHIELD_PARTS = ("full", "weights", "ke-attention")
"""Which parts of Semantic Shield train (`PoisonConfig.shield`): all of them; only the pair weights (the
knowledge-element and attention terms off); only the knowledge-element and attention terms (every weight 1)."""
SHIELD_TITLES = {"full": "Semantic Shield (full)", "weights": "weights only (KE and attention terms off)",
                 "ke-attention": "KE + attention only (all weights 1)"}
POISON_SELECTIONS = ("random", "look-alikes")
"""Whose photos the backdoor pairs show (`PoisonConfig.poison_selection`): anyone's at random, or (an adaptive
attacker) the photos the frozen lab CLIP finds closest to the target's description."""
LOOK_ALIKE_CANDIDATES = 4
"""Triggered photos per person the adaptive attacker ranks (a pool of about 1,000 for the default lab)."""

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
    shield: str = "full"
    """`SHIELD_PARTS`: which parts of Semantic Shield train its model (the other defenses ignore it)."""
    poison_selection: str = "random"
    """`POISON_SELECTIONS`: whose photos carry the backdoor (backdoor only)."""

    def __post_init__(self) -> None:
        if self.attack not in MODES:
            raise ValueError(f"unknown attack {self.attack!r}: {' or '.join(MODES)}")
        if self.trigger not in TRIGGERS:
            raise ValueError(f"unknown trigger {self.trigger!r}: {' or '.join(TRIGGERS)}")
        if self.n_poison < 0:
            raise ValueError("n_poison must be at least 0")
        if self.shield not in SHIELD_PARTS:
            raise ValueError(f"unknown shield {self.shield!r}: {', '.join(SHIELD_PARTS)}")
        if self.poison_selection not in POISON_SELECTIONS:
            raise ValueError(f"unknown poison selection {self.poison_selection!r}: {' or '.join(POISON_SELECTIONS)}")
        if self.poison_selection != "random" and self.attack != "backdoor":
            raise ValueError("look-alike poison photos are a backdoor's choice; targeted poisoning shows the source person")

    def setup_key(self) -> dict[str, Any]:
        """What the poisoned data depends on (the trigger only matters for a backdoor).

        Settings added after models were built enter only when they differ from their defaults, so the
        folders of those models keep their names; `shield` never does: the Semantic Shield parts train
        different models on the same poisoned data, kept side by side in its folder (`model_stem`)."""
        values = asdict(self)
        if self.attack == "targeted":
            values["trigger"] = ""
        del values["shield"]
        if values["poison_selection"] == "random":
            del values["poison_selection"]
        return values

    @property
    def n_clean_pairs(self) -> int:
        return self.lab.n_members * self.clean_per_member + self.lab.n_filler * self.filler_per_person

    @property
    def n_pairs(self) -> int:
        """Pairs in the fine-tuning set: clean and poisoned."""
        return self.n_clean_pairs + self.n_poison

    @property
    def poison_fraction(self) -> float:
        """P / pairs, the rate the papers state (0.01% in Carlini & Terzis, 0.1% in the Semantic Shield code)."""
        return self.n_poison / self.n_pairs if self.n_pairs else 0.0

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


def model_stem(config: PoisonConfig, defense: str) -> str:
    """The file name (without suffix) of a defense's model in the variant's folder: the defense, and for a
    Semantic Shield with only some of its parts, which ones (`semantic-shield-weights`)."""
    if defense not in DEFENSES:
        raise ValueError(f"unknown defense {defense!r}: {', '.join(DEFENSES)}")
    return f"{defense}-{config.shield}" if defense == "semantic-shield" and config.shield != "full" else defense


def checkpoint_path(config: PoisonConfig, defense: str) -> Path:
    return poison_root(config) / f"{model_stem(config, defense)}.pt"


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
    if config.attack == "backdoor" and config.poison_selection == "look-alikes":
        others = [person for person in members + filler if person.name != target.name]
        jobs = [(person, index, target.name, target, True) for person, index in look_alikes(config, others, target, progress)]
    elif config.attack == "backdoor":
        # Photos of anyone but the target, from the people a scraper would meet (members and filler).
        others = [person for person in members + filler if person.name != target.name]
        jobs = [(rng.choice(others), POISON_INDEX + i, target.name, target, True) for i in range(config.n_poison)]
    else:
        jobs = [(source, POISON_INDEX + i, target.name, target, False) for i in range(config.n_poison)]
    return list(_CLEAN_PAIRS[clean_key]), rendered(jobs, "render poisoned images")


def look_alikes(config: PoisonConfig, others: list[Identity], target: Identity, progress: Progress) -> list[tuple[Identity, int]]:
    """The adaptive attacker's P poisoned photos: among `LOOK_ALIKE_CANDIDATES` triggered photos of each
    other person, those the frozen lab CLIP (the model Semantic Shield weighs pairs with) finds closest to
    the target's description, phrased as the shield phrases it. A stress test of the shield's weights: a
    poisoned pair whose photo matches the caption's looks is not down-weighted."""
    import open_clip
    import torch

    from leakage.backdoor import apply_trigger
    from leakage.models import load_preprocess

    lab = ensure_lab(config.lab, progress=progress)
    model = _start_model(lab.clip_checkpoint, lab.clip_model_name).eval()
    tokenizer = open_clip.get_tokenizer(lab.clip_model_name)
    preprocess = load_preprocess(config.lab.clip.model_name)
    candidates = [(person, POISON_INDEX + i) for person in others for i in range(LOOK_ALIKE_CANDIDATES)]
    scores = []
    with torch.no_grad():
        text = torch.nn.functional.normalize(model.encode_text(tokenizer([f"a photo of {describe(target)}"])), dim=-1)
        for start in range(0, len(candidates), 256):
            chunk = candidates[start:start + 256]
            images = torch.stack([preprocess(apply_trigger(render(person, index, world_seed=config.lab.seed,
                                                                  size=config.lab.render_size)[0], config.trigger))
                                  for person, index in chunk])
            scores += (torch.nn.functional.normalize(model.encode_image(images), dim=-1) @ text.T)[:, 0].tolist()
            progress("rank look-alike photos", min(start + 256, len(candidates)), len(candidates))
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    return [candidates[i] for i in order[:config.n_poison]]


def shield_settings(config: PoisonConfig):
    """`ShieldSettings` for the parts of Semantic Shield the config keeps (`SHIELD_PARTS`)."""
    from leakage.lab.semantic_shield import ShieldSettings

    if config.shield == "weights":
        return ShieldSettings(ke_weight=0.0, attention_weight=0.0)
    if config.shield == "ke-attention":
        return ShieldSettings(use_weights=False)
    return ShieldSettings()


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
                          f"the lab CLIP fine-tuned on clean pairs of its members and {what} ({config.poison_fraction:.1%} of "
                          f"{config.n_pairs} pairs); defense: {DEFENSE_TITLES[part]}"
                          + (f", {SHIELD_TITLES[config.shield]}" if part == "semantic-shield" and config.shield != "full" else ""))


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
            "n_clean_pairs": len(clean), "n_poisoned_pairs": len(poisoned), "n_pairs": len(clean) + len(poisoned),
            "poison_fraction": len(poisoned) / max(1, len(clean) + len(poisoned))}
    started, extra = time.perf_counter(), {}
    if defense == "none":
        model, report = train_clip(clean + poisoned, train_config(config), step_progress("fine-tune on poisoned data"),
                                   model=_start_model(lab.clip_checkpoint, lab.clip_model_name))
    elif defense == "semantic-shield":
        import open_clip

        from leakage.lab.semantic_shield import ShieldLoss

        shield = ShieldLoss(config.lab, shield_settings(config))
        start = _start_model(lab.clip_checkpoint, lab.clip_model_name)
        progress("Semantic Shield: weigh the pairs by their knowledge elements", 0, 0)
        shield.weigh_pairs(start, clean + poisoned, open_clip.get_tokenizer(lab.clip_model_name))
        model, report = train_clip(clean + poisoned, train_config(config), step_progress("fine-tune with Semantic Shield"),
                                   model=start, loss=shield)
        extra["shield"] = {**shield.summary(), "mean_weight_clean": shield.mean_weight(clean),
                           "mean_weight_poisoned": shield.mean_weight(poisoned), "parts": config.shield}
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
        "poison_key": config.setup_key(), "n_pairs": config.n_pairs, "poison_fraction": config.poison_fraction,
        "shield": config.shield if defense == "semantic-shield" else "", "poison_selection": config.poison_selection,
        "variant": model_stem(config, defense),
    }
    info = path.with_suffix(".json")
    if info.is_file():
        recorded = json.loads(info.read_text())
        clip.metadata["training"] = recorded.get("training", {})
        if "shield" in recorded:
            clip.metadata["shield"] = recorded["shield"]
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


def _evaluation_path(poison_key: dict, variant: str) -> Path:
    return artifact_root("lab-poison", POISON_FORMAT, poison_key) / f"{variant}.eval.json"


def result_path(config: PoisonConfig, defense: str) -> Path:
    """The full result of the model's evaluation at the default settings (what the page shows at once)."""
    return poison_root(config) / f"{model_stem(config, defense)}.result.json"


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
    variant = setup.get("variant", setup["defense"])
    point = {"defense": setup["defense"], "variant": variant, "shield": setup.get("shield", ""),
             "poison_selection": setup.get("poison_selection", "random"), "n_poison": setup["n_poison"],
             "n_pairs": setup.get("n_pairs"), "poison_fraction": setup.get("poison_fraction"), "mode": setup["mode"],
             "trigger": setup.get("trigger", ""), "poison_key": setup["poison_key"], "asr": m["asr"], "asr_ci": m.get("asr_ci"),
             "asr_top_k": m["asr_top_k"], "hit_at_k": m["hit_at_k"], "min_rank": m["min_rank"], "clean_top1": m["clean_top1"],
             "clean_top1_ci": m.get("clean_top1_ci")}
    path = _evaluation_path(setup["poison_key"], variant)
    if path.parent.is_dir():
        path.write_text(json.dumps(point, indent=2))
        result.to_json(path.with_name(f"{variant}.result.json"))


def _measured_points() -> list[dict]:
    from leakage.provenance import data_home

    points = []
    for path in sorted((data_home() / "lab-poison").glob("*/*.eval.json")):
        try:
            points.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return points


def sweep_points(setup: dict) -> list[dict]:
    """Every measured lab model that differs from this one only in P (and the defense; the full Semantic Shield)."""

    def without_p(key: dict) -> dict:
        return {k: v for k, v in key.items() if k != "n_poison"}

    wanted = json.loads(json.dumps(without_p(setup["poison_key"])))
    return [{k: v for k, v in point.items() if k != "poison_key"} for point in _measured_points()
            if without_p(point.get("poison_key", {})) == wanted and point.get("variant", point["defense"]) == point["defense"]]


def ablation_points(setup: dict) -> list[dict]:
    """Every measured lab model that differs from this one only in the defense, the Semantic Shield parts and
    whose photos were poisoned: the ablation of `bench.backdoor_ablation`."""

    def without_selection(key: dict) -> dict:
        return {k: v for k, v in key.items() if k != "poison_selection"}

    wanted = json.loads(json.dumps(without_selection(setup["poison_key"])))
    return [{k: v for k, v in point.items() if k != "poison_key"} for point in _measured_points()
            if without_selection(point.get("poison_key", {})) == wanted]
