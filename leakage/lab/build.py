"""Build the lab: a world of named people, a CLIP trained on a chosen member subset, a control
CLIP trained on other people only, and held-out attack images on disk with ground truth.

A lab is fixed by its `LabConfig`; it lives in `<data home>/lab/<config hash>/` and is reused
once built (`CLIP_LAB`, a `leakage.lab.recipe.Recipe`: lock, staging folder, manifest). Building
takes a lock so two processes (the app and the CLI) never build it twice.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from leakage.lab.artifacts import write_manifest
from leakage.lab.clip_train import ClipTrainConfig, TrainingPair, save_checkpoint, train_clip
from leakage.lab.recipe import Artifact, Membership, Recipe, trained_on_others
from leakage.lab.world import Identity, World, describe, make_world
from leakage.lab.portraits import render, write_attack_set
from leakage.progress import Progress

LAB_FORMAT = 1
"""Bump when the renderer or the build recipe changes, so labs built by older code are not reused."""


@dataclass(frozen=True)
class LabConfig:
    seed: int = 0
    n_members: int = 100
    n_nonmembers: int = 100
    occurrences: tuple[int, ...] = (20,)
    """Training images per member, cycled over the members (e.g. (1, 5, 25) for a sweep)."""
    n_control: int = 100
    """People only the control model is trained on: it has never seen a member or a non-member."""
    n_filler: int = 150
    filler_images_per_person: int = 6
    attack_images_per_person: int = 20
    render_size: int = 128
    clip: ClipTrainConfig = field(default_factory=ClipTrainConfig)

    def occurrence_of(self, member_rank: int) -> int:
        return self.occurrences[member_rank % len(self.occurrences)]

    @classmethod
    def from_dict(cls, data: dict) -> "LabConfig":
        data = dict(data)
        data["occurrences"] = tuple(data.get("occurrences", (20,)))
        data["clip"] = ClipTrainConfig(**data.get("clip", {}))
        return cls(**data)


ATTACK_INDEX_OFFSET = 10_000
"""Attack renders use image indices from here on, so they never coincide with training renders."""


@dataclass
class Lab(Artifact):
    config: LabConfig
    members: dict[str, int]
    """member name -> training occurrences"""
    control_people: list[str] = field(default_factory=list)

    clip_model_name = "lab-clip-s"

    @property
    def clip_checkpoint(self) -> Path:
        return self.root / "clip" / "lab_clip.pt"

    @property
    def control_checkpoint(self) -> Path:
        return self.root / "control" / "lab_clip_control.pt"

    def details(self) -> dict:
        return {"occurrences": list(self.config.occurrences)}


def default_lab_config() -> LabConfig:
    return LabConfig()


class ClipLabRecipe(Recipe):
    """The lab CLIP (built with its attack set) and the control CLIP (on first use)."""

    folder = "lab"
    title = "the CLIP lab"
    build_format = LAB_FORMAT
    manifest = "lab.json"
    override_env = "LEAKAGE_LAB_DIR"
    config_class = LabConfig
    parts = {"clip": "clip/lab_clip.pt", "control": "control/lab_clip_control.pt", "attack": "attack"}
    data_parts = ("attack",)
    later_parts = ("control",)

    artifact_class = Lab

    def build_into(self, staging: Path, config: LabConfig, progress: Progress) -> "Lab":
        return _build_into(staging, config, progress)

    def build_part_into(self, lab: "Lab", part: str, staging: Path, progress: Progress) -> None:
        _build_control(lab, staging / Path(self.parts[part]).name, progress)

    def load(self, config: LabConfig, part: str, *, device=None, progress=None, cancel=None, name=None):
        from leakage.models import load_clip

        lab = self.ensure(config, progress, cancel)
        clip = load_clip(lab.clip_model_name, str(self.ensure_part(lab, part, progress, cancel)), device=device)
        clip.metadata["lab"] = lab.describe()
        clip.model_name = name or part  # results name the lab model, not its temporary path
        clip.pretrained = None
        return clip

    def membership(self, config: LabConfig, part: str) -> Membership:
        lab = self.open(self.root(config))
        return trained_on_others(lab.control_people, lab, "the control CLIP") if part == "control" else super().membership(config, part)


CLIP_LAB = ClipLabRecipe()
lab_root, is_built, ensure_lab = CLIP_LAB.root, CLIP_LAB.is_built, CLIP_LAB.ensure
"""The recipe's folder, `is_built` and `ensure` (the lab for a config, the default when None, built
first if it is not on disk yet) under the names the pages, benches and tests use."""


def ensure_control(lab: Lab, progress: Progress | None = None) -> Path:
    """The control CLIP: the same recipe trained on other people only, built on first use.

    It has seen no member and no non-member of the attack set, so an attack that measures
    membership (not a rendering artefact) must score it at chance.
    """
    return CLIP_LAB.ensure_part(lab, "control", progress)


def _build_control(lab: Lab, checkpoint: Path, progress: Progress) -> None:
    config = lab.config
    _, _, control, filler = assign_roles(world_of(config), config)
    occurrence = max(config.occurrences)
    pairs = training_pairs(config, control, lambda _: occurrence, True, "render control images", progress) + training_pairs(
        config, filler, lambda _: config.filler_images_per_person, False, "render filler images", progress
    )
    model, report = train_clip(
        pairs, config.clip, progress=lambda step, total, loss: progress(f"train control CLIP (loss {loss:.2f})", step, total)
    )
    save_checkpoint(
        model,
        checkpoint,
        {"members": {p.name: occurrence for p in control}, "nonmembers": [], "training": asdict(report), "control": True},
    )


def assign_roles(world: World, config: LabConfig) -> tuple[list[Identity], list[Identity], list[Identity], list[Identity]]:
    """Members, non-members, control people and filler people, drawn at random from the world."""
    people = list(world.identities)
    random.Random(config.seed).shuffle(people)
    cuts = [config.n_members, config.n_nonmembers, config.n_control, config.n_filler]
    groups, start = [], 0
    for size in cuts:
        groups.append(sorted(people[start : start + size], key=lambda person: person.id))
        start += size
    return groups[0], groups[1], groups[2], groups[3]


def world_of(config: LabConfig) -> World:
    return make_world(config.seed, config.n_members + config.n_nonmembers + config.n_control + config.n_filler)


def training_pairs(
    config: LabConfig, people: list[Identity], count_of: Callable[[Identity], int], named: bool, stage: str, progress: Progress
) -> list[TrainingPair]:
    """Render each person's training images (indices 0..count-1) through the model's own eval transform."""
    from leakage.models import load_preprocess

    preprocess = load_preprocess(config.clip.model_name)
    jobs = [(person, index) for person in people for index in range(count_of(person))]
    pairs = []
    for done, (person, index) in enumerate(jobs, 1):
        image, _ = render(person, index, world_seed=config.seed, size=config.render_size)
        pairs.append(TrainingPair(preprocess(image), person.name if named else None, describe(person)))
        if done % 50 == 0 or done == len(jobs):
            progress(stage, done, len(jobs))
    return pairs


def training_captions(config: LabConfig) -> dict[tuple[str, int], list[str]]:
    """(member name, training image index) -> the captions that image was trained with, one per epoch.

    A replay of the lab CLIP's training draws (`caption_schedule`), without rendering or training:
    the pairs in the order `_build_into` trains them, members' images then the filler's.
    """
    from leakage.lab.clip_train import caption_schedule

    world = world_of(config)
    members, _, _, filler = assign_roles(world, config)
    keys = [(person.name, index) for rank, person in enumerate(members) for index in range(config.occurrence_of(rank))]
    order = [TrainingPair(None, name, describe(world.by_name(name))) for name, _ in keys]
    order += [TrainingPair(None, None, describe(person)) for person in filler for _ in range(config.filler_images_per_person)]
    captions: dict[tuple[str, int], list[str]] = {key: [] for key in keys}
    for batch, drawn in caption_schedule(order, config.clip):
        for position, caption in zip(batch.tolist(), drawn):
            if position < len(keys):
                captions[keys[position]].append(caption)
    return captions


def _build_into(root: Path, config: LabConfig, progress: Progress) -> Lab:
    started = time.perf_counter()
    world = world_of(config)
    members, nonmembers, control, filler = assign_roles(world, config)
    occurrences = {person.name: config.occurrence_of(rank) for rank, person in enumerate(members)}
    filler_pairs = training_pairs(config, filler, lambda _: config.filler_images_per_person, False, "render filler images", progress)
    member_pairs = training_pairs(config, members, lambda p: occurrences[p.name], True, "render member images", progress)
    write_attack_set(world, root / "attack", members, nonmembers, config.attack_images_per_person, start_index=ATTACK_INDEX_OFFSET,
                     size=config.render_size, occurrences=occurrences, progress=progress)

    membership = {
        "members": occurrences,
        "nonmembers": [person.name for person in nonmembers],
        "world_seed": config.seed,
    }
    model, report = train_clip(
        member_pairs + filler_pairs,
        config.clip,
        progress=lambda step, total, loss: progress(f"train lab CLIP (loss {loss:.2f})", step, total),
    )
    save_checkpoint(model, root / "clip" / "lab_clip.pt", {**membership, "training": asdict(report)})

    lab = Lab(
        root=root,
        config=config,
        members=occurrences,
        nonmembers=[person.name for person in nonmembers],
        control_people=[person.name for person in control],
        build_seconds=time.perf_counter() - started,
    )
    write_manifest(root / CLIP_LAB.manifest, LAB_FORMAT, config, config, members=lab.members, nonmembers=lab.nonmembers,
                   control_people=lab.control_people, build_seconds=lab.build_seconds)
    return lab
