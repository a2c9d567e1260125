"""Build the lab: a world of named people, a CLIP trained on a chosen member subset, a control
CLIP trained on other people only, and held-out attack images on disk with ground truth.

A lab is fixed by its `LabConfig`; it lives in `<data home>/lab/<config hash>/` and is reused
once built. Building takes a lock so two processes (the app and the CLI) never build it twice.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from leakage.lab.artifacts import artifact_root, build_once
from leakage.lab.clip_train import ClipTrainConfig, TrainingPair, save_checkpoint, train_clip
from leakage.lab.world import Identity, World, describe, make_world
from leakage.lab.portraits import render, write_dataset
from leakage.locks import file_lock
from leakage.provenance import code_version, config_hash
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
class Lab:
    root: Path
    config: LabConfig
    members: dict[str, int]
    """member name -> training occurrences"""
    nonmembers: list[str]
    control_people: list[str]
    build_seconds: float

    clip_model_name = "lab-clip-s"

    @property
    def clip_checkpoint(self) -> Path:
        return self.root / "clip" / "lab_clip.pt"

    @property
    def control_checkpoint(self) -> Path:
        return self.root / "control" / "lab_clip_control.pt"

    @property
    def attack_dir(self) -> Path:
        return self.root / "attack"

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)

    def describe(self) -> dict:
        return {
            "root": str(self.root),
            "config_hash": self.config_hash,
            "seed": self.config.seed,
            "n_members": len(self.members),
            "n_nonmembers": len(self.nonmembers),
            "occurrences": list(self.config.occurrences),
        }

    @classmethod
    def load(cls, root: Path) -> "Lab":
        meta = json.loads((root / "lab.json").read_text())
        return cls(
            root=root,
            config=LabConfig.from_dict(meta["config"]),
            members=meta["members"],
            nonmembers=meta["nonmembers"],
            control_people=meta["control_people"],
            build_seconds=meta["build_seconds"],
        )


def default_lab_config() -> LabConfig:
    return LabConfig()


def lab_root(config: LabConfig) -> Path:
    return artifact_root("lab", LAB_FORMAT, config, "LEAKAGE_LAB_DIR", is_default=config == default_lab_config())


def is_built(config: LabConfig) -> bool:
    return (lab_root(config) / "lab.json").is_file()


def ensure_lab(config: LabConfig | None = None, progress: Progress | None = None) -> Lab:
    """The lab for `config` (the default when None), built first if it is not on disk yet."""
    config = config or default_lab_config()
    return build_once(
        lab_root(config), "lab.json", Lab.load,
        lambda staging: _build_into(staging, config, progress or (lambda stage, done, total: None)),
    )


def ensure_control(lab: Lab, progress: Progress | None = None) -> Path:
    """The control CLIP: the same recipe trained on other people only, built on first use.

    It has seen no member and no non-member of the attack set, so an attack that measures
    membership (not a rendering artefact) must score it at chance.
    """
    if lab.control_checkpoint.is_file():
        return lab.control_checkpoint
    progress = progress or (lambda stage, done, total: None)
    config = lab.config
    with file_lock(lab.root / "control.lock"):
        if lab.control_checkpoint.is_file():
            return lab.control_checkpoint
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
            lab.control_checkpoint,
            {"members": {p.name: occurrence for p in control}, "nonmembers": [], "training": asdict(report), "control": True},
        )
    return lab.control_checkpoint


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

    attack_people = sorted(members + nonmembers, key=lambda person: person.name)
    write_dataset(
        world,
        root / "attack",
        attack_people,
        config.attack_images_per_person,
        start_index=ATTACK_INDEX_OFFSET,
        size=config.render_size,
        members={person.name: person.name in occurrences for person in attack_people},
        occurrences={person.name: occurrences.get(person.name, 0) for person in attack_people},
        progress=lambda done, total: progress("write attack images", done, total),
    )

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
    (root / "lab.json").write_text(
        json.dumps(
            {
                "format": LAB_FORMAT,
                "config": asdict(config),
                "config_hash": config_hash(config),
                "code_version": code_version(),
                "members": lab.members,
                "nonmembers": lab.nonmembers,
                "control_people": lab.control_people,
                "build_seconds": lab.build_seconds,
            },
            indent=2,
        )
    )
    return lab
