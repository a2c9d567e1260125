"""The lab MAE: a small ViT-MAE pre-trained on the images of the lab's member people, a reference
MAE and a shadow MAE pre-trained on other people of the same world, and the attack sets with
ground truth.

Image-level ground truth, by construction:

* member images are the exact files the lab MAE was pre-trained on (training reads them back
  from the attack folder, so they are the same pixels);
* non-member images are fresh renders of other people of the same world, drawn the same way and
  never trained on by either model;
* the reference MAE is trained with the same recipe on a third, disjoint group of people, so it
  has seen neither members nor non-members: the per-example calibration of the attack (Watson
  et al. 2022's difficulty calibration, LiRA's offset) compares each image's error under it with
  the target's. It is trained on first use (`ensure_reference`), so the default build stays short;
* the shadow MAE is the paper's shadow model (Li et al., background.md §3): the attacker's own
  model, trained with the same recipe on a fourth group of people (its members), with fresh
  renders of a fifth group as its non-members (`ensure_shadow`, first use too). The attack
  picks the error threshold that best separates the shadow's members from its non-members and
  applies it to the target. Shadow people come after every target role in the world's
  (prefix-stable) order, so they are disjoint from members, non-members and reference people,
  and adding them leaves the target lab unchanged.

The lab MAE is its own artefact, fixed by `LabMAEConfig`: it lives in
`<data home>/lab-mae/<config hash>/` (never touching the CLIP lab), is built once under a file
lock into a staging folder that is renamed when complete (`LAB_MAE`, a `leakage.lab.recipe.Recipe`),
and is reused afterwards. Models are
written with `save_pretrained` together with their image processor, so the attack loads them
through the same code path as any local or hub ViT-MAE.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch

from leakage.lab.artifacts import write_manifest
from leakage.lab.recipe import Artifact, Membership, Recipe, trained_on_others
from leakage.lab.world import Identity, make_world
from leakage.lab.portraits import write_attack_set, write_dataset
from leakage.provenance import code_version
from leakage.progress import Progress

LAB_MAE_FORMAT = 1
"""Bump when the recipe changes, so labs built by older code are not reused."""

MARKER = "lab_mae.json"
"""Written last: a lab MAE folder without it is not complete."""


@dataclass(frozen=True)
class MAEArchitecture:
    """A small ViT-MAE: sized so that pre-training takes minutes on two CPU cores."""

    image_size: int = 64
    patch_size: int = 8
    hidden_size: int = 192
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    decoder_hidden_size: int = 128
    decoder_num_hidden_layers: int = 2
    decoder_num_attention_heads: int = 4
    mask_ratio: float = 0.75
    """Mask ratio of pre-training (the attack's ratio is a separate parameter)."""
    norm_pix_loss: bool = False

    def to_transformers(self):
        from transformers import ViTMAEConfig

        return ViTMAEConfig(
            image_size=self.image_size,
            patch_size=self.patch_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=4 * self.hidden_size,
            decoder_hidden_size=self.decoder_hidden_size,
            decoder_num_hidden_layers=self.decoder_num_hidden_layers,
            decoder_num_attention_heads=self.decoder_num_attention_heads,
            decoder_intermediate_size=4 * self.decoder_hidden_size,
            mask_ratio=self.mask_ratio,
            norm_pix_loss=self.norm_pix_loss,
        )


@dataclass(frozen=True)
class MAETrainConfig:
    epochs: int = 400
    """The attack gets stronger with more epochs (bench/mim_ablation.py); 400 passes AUC 0.8 in minutes on a CPU."""
    batch_size: int = 16
    """Small batches: more updates per pass over the few member images, which is what memorisation needs."""
    learning_rate: float = 1.5e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    seed: int = 0


@dataclass(frozen=True)
class LabMAEConfig:
    seed: int = 0
    n_members: int = 64
    """People whose images the lab MAE is pre-trained on (few: pre-training time grows with them)."""
    n_nonmembers: int = 256
    """People rendered fresh for the attack set, never trained on (many: TPR at 1% FPR needs 100+ non-member images)."""
    n_reference: int = 64
    """People only the reference MAE is trained on."""
    images_per_person: int = 1
    architecture: MAEArchitecture = field(default_factory=MAEArchitecture)
    training: MAETrainConfig = field(default_factory=MAETrainConfig)

    def with_epochs(self, epochs: int) -> "LabMAEConfig":
        return replace(self, training=replace(self.training, epochs=epochs))

    @classmethod
    def from_dict(cls, data: dict) -> "LabMAEConfig":
        data = dict(data)
        data["architecture"] = MAEArchitecture(**data.get("architecture", {}))
        data["training"] = MAETrainConfig(**data.get("training", {}))
        return cls(**data)


@dataclass
class LabMAE(Artifact):
    config: LabMAEConfig
    members: list[str]
    reference_people: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        return self.root / "mae"

    @property
    def reference_dir(self) -> Path:
        return self.root / "mae-reference"

    @property
    def has_reference(self) -> bool:
        return (self.reference_dir / "training.json").is_file()

    @property
    def shadow_root(self) -> Path:
        return self.root / "shadow"

    @property
    def shadow_model_dir(self) -> Path:
        return self.shadow_root / "mae"

    @property
    def shadow_data_dir(self) -> Path:
        """The shadow MAE's training images (its members) and fresh renders of other people, with members.csv."""
        return self.shadow_root / "data"

    @property
    def has_shadow(self) -> bool:
        return (self.shadow_root / SHADOW_MARKER).is_file()

    def training_report(self, reference: bool = False) -> dict:
        return json.loads(((self.reference_dir if reference else self.model_dir) / "training.json").read_text())

    def details(self) -> dict:
        return {"images_per_person": self.config.images_per_person, "epochs": self.config.training.epochs}


def default_lab_mae_config() -> LabMAEConfig:
    return LabMAEConfig()


class LabMAERecipe(Recipe):
    """The lab MAE and its attack set; the reference MAE and the shadow MAE with its data, on first use."""

    folder = "lab-mae"
    title = "the lab MAE"
    build_format = LAB_MAE_FORMAT
    manifest = MARKER
    override_env = "LEAKAGE_LAB_MAE_DIR"
    config_class = LabMAEConfig
    parts = {"mae": "mae", "reference": "mae-reference", "shadow": "shadow/mae", "attack": "attack", "shadow-data": "shadow/data"}
    data_parts = ("attack", "shadow-data")
    later_parts = ("reference", "shadow", "shadow-data")

    artifact_class = LabMAE

    def build_into(self, staging: Path, config: LabMAEConfig, progress: Progress) -> "LabMAE":
        return _build_into(staging, config, progress)

    def build_part_into(self, lab: "LabMAE", part: str, staging: Path, progress: Progress) -> None:
        (_build_reference if part == "reference" else _build_shadow)(lab, staging, progress)

    def load(self, config: LabMAEConfig, part: str, *, device=None, progress=None, cancel=None, name=None):
        from leakage.mim import load_mae

        lab = self.ensure(config, progress, cancel)
        folder = self.ensure_part(lab, part, progress, cancel)
        loaded = load_mae(folder, device=device, name=name or part)  # results name the lab model, not its folder
        loaded.metadata["lab"] = lab.describe()
        return loaded

    def membership(self, config: LabMAEConfig, part: str) -> Membership:
        lab = self.open(self.root(config))
        if part in ("shadow", "shadow-data"):
            record = json.loads((lab.shadow_root / SHADOW_MARKER).read_text())
            return Membership(record["members"], record["nonmembers"], "the shadow MAE's own people, disjoint from the target's")
        if part == "reference":
            return trained_on_others(lab.reference_people, lab, "the reference MAE")
        return super().membership(config, part)


LAB_MAE = LabMAERecipe()
lab_mae_root, is_built, ensure_lab_mae = LAB_MAE.root, LAB_MAE.is_built, LAB_MAE.ensure
"""`<data home>/lab-mae/<hash>` ($LEAKAGE_LAB_MAE_DIR points the default lab MAE elsewhere), and the
lab MAE for a config (the default when None), built first (once, under a lock) if not on disk yet."""


def ensure_reference(lab: LabMAE, progress: Progress | None = None) -> Path:
    """The reference MAE's folder, trained first (once) if the lab does not have it yet.

    Built on first use rather than with the lab, so the default build stays short: only the
    reference-model mode of the attack needs it.
    """
    return LAB_MAE.ensure_part(lab, "reference", progress)


def _build_reference(lab: LabMAE, staging: Path, progress: Progress) -> None:
    config = lab.config
    _, _, reference_people = assign_roles(config)
    world = make_world(config.seed, config.n_members + config.n_nonmembers + config.n_reference)
    started = time.perf_counter()
    images = staging.with_name("reference-images.building")  # rendered, trained on, deleted: not part of the model folder
    shutil.rmtree(images, ignore_errors=True)
    try:
        write_dataset(world, images, reference_people, config.images_per_person, size=config.architecture.image_size,
                      progress=lambda done, total: progress("render reference images", done, total))
        model, report = train_mae(sorted(images.glob("*/*.png")), config, progress=_training_progress(progress, "pre-train reference MAE"))
    finally:
        shutil.rmtree(images, ignore_errors=True)
    report["people"] = [person.name for person in reference_people]
    report["build_seconds"] = round(time.perf_counter() - started, 2)
    save_mae(model, staging, report, config)


SHADOW_MARKER = "shadow.json"


def shadow_roles(config: LabMAEConfig) -> tuple[list[Identity], list[Identity]]:
    """The shadow MAE's members and non-members: as many of each as the target has members, taken
    after every target role in the world (prefix-stable), so disjoint from all of them."""
    first = config.n_members + config.n_nonmembers + config.n_reference
    world = make_world(config.seed, first + 2 * config.n_members)
    people = list(world.identities[first:])
    random.Random(f"lab-mae-shadow/{config.seed}").shuffle(people)
    members, nonmembers = people[: config.n_members], people[config.n_members :]
    return sorted(members, key=lambda person: person.id), sorted(nonmembers, key=lambda person: person.id)


def ensure_shadow(lab: LabMAE, progress: Progress | None = None) -> Path:
    """The shadow MAE and its data (`lab.shadow_root`), built first (once) if the lab does not have them yet.

    The attacker's side of the paper's shadow-model attack: the target's recipe (architecture,
    epochs, images per person, number of members) on people the target never saw, plus as many
    fresh non-member people, so the threshold is chosen on a balanced set.
    """
    LAB_MAE.ensure_part(lab, "shadow", progress)
    return lab.shadow_root


def _build_shadow(lab: LabMAE, staging: Path, progress: Progress) -> None:
    config = lab.config
    members, nonmembers = shadow_roles(config)
    first = config.n_members + config.n_nonmembers + config.n_reference
    world = make_world(config.seed, first + 2 * config.n_members)
    started, cpu_started = time.perf_counter(), time.process_time()
    write_attack_set(world, staging / "data", members, nonmembers, config.images_per_person, size=config.architecture.image_size,
                     occurrences={person.name: config.images_per_person for person in members}, progress=progress,
                     stage="render shadow images")
    render_seconds = time.perf_counter() - started
    # As for the target: the shadow's members are the very files it is pre-trained on.
    files = sorted(path for person in members for path in (staging / "data" / person.name).glob("*.png"))
    model, report = train_mae(files, config, progress=_training_progress(progress, "pre-train shadow MAE"))
    report["people"] = [person.name for person in members]
    save_mae(model, staging / "mae", report, config)
    (staging / SHADOW_MARKER).write_text(json.dumps({
        "members": sorted(person.name for person in members),
        "nonmembers": sorted(person.name for person in nonmembers),
        "build_seconds": round(time.perf_counter() - started, 2),
        "build_cpu_seconds": round(time.process_time() - cpu_started, 2),
        "render_seconds": round(render_seconds, 2),
        "train_seconds": report["seconds"],
        "code_version": code_version(),
    }, indent=2))


def _training_progress(progress: Progress, stage: str) -> Callable[[int, int, float], None]:
    return lambda step, total, loss: progress(f"{stage} (loss {loss:.3f})", step, total)


def assign_roles(config: LabMAEConfig) -> tuple[list[Identity], list[Identity], list[Identity]]:
    """Members, non-members and reference people: disjoint, drawn at random from the world."""
    world = make_world(config.seed, config.n_members + config.n_nonmembers + config.n_reference)
    people = list(world.identities)
    random.Random(f"lab-mae/{config.seed}").shuffle(people)
    sizes = (config.n_members, config.n_nonmembers, config.n_reference)
    starts = (0, sizes[0], sizes[0] + sizes[1])
    members, nonmembers, reference = (
        sorted(people[start : start + size], key=lambda person: person.id) for start, size in zip(starts, sizes)
    )
    return members, nonmembers, reference


def _build_into(root: Path, config: LabMAEConfig, progress: Progress) -> LabMAE:
    started = time.perf_counter()
    cpu_started = time.process_time()
    timings: dict[str, float] = {}
    world = make_world(config.seed, config.n_members + config.n_nonmembers + config.n_reference)
    members, nonmembers, reference_people = assign_roles(config)

    tick = time.perf_counter()
    write_attack_set(world, root / "attack", members, nonmembers, config.images_per_person, size=config.architecture.image_size,
                     occurrences={person.name: config.images_per_person for person in members}, progress=progress,
                     stage="render attack images")
    timings["render_seconds"] = time.perf_counter() - tick

    tick = time.perf_counter()
    # Read back from the attack folder: the member images are the very files pre-trained on.
    member_files = sorted(path for person in members for path in (root / "attack" / person.name).glob("*.png"))
    model, report = train_mae(member_files, config, progress=_training_progress(progress, "pre-train lab MAE"))
    save_mae(model, root / "mae", report, config)
    timings["train_seconds"] = time.perf_counter() - tick

    lab = LabMAE(
        root=root,
        config=config,
        members=[person.name for person in members],
        nonmembers=[person.name for person in nonmembers],
        reference_people=[person.name for person in reference_people],
        build_seconds=time.perf_counter() - started,
        timings={key: round(value, 2) for key, value in timings.items()},
    )
    write_manifest(root / MARKER, LAB_MAE_FORMAT, config, config, members=lab.members, nonmembers=lab.nonmembers,
                   reference_people=lab.reference_people, build_seconds=lab.build_seconds,
                   build_cpu_seconds=round(time.process_time() - cpu_started, 2), timings=lab.timings,
                   torch_threads=torch.get_num_threads())
    return lab


# --------------------------------------------------------------------------- pre-training


def image_processor(architecture: MAEArchitecture):
    """The lab models' preprocessing, saved with them: resize to the model size, scale to [-1, 1]."""
    from transformers import ViTImageProcessor

    size = architecture.image_size
    return ViTImageProcessor(size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3)


def load_training_images(files: list[Path], architecture: MAEArchitecture) -> torch.Tensor:
    """The training images as one (N, 3, S, S) tensor, through the processor the attack will use."""
    from leakage.data import load_image
    from leakage.mim import ProcessorTransform

    transform = ProcessorTransform(image_processor(architecture))
    return torch.stack([transform(load_image(str(path))) for path in files])


def new_mae(architecture: MAEArchitecture, seed: int) -> torch.nn.Module:
    """A freshly initialised ViT-MAE with working position embeddings.

    transformers 5.x leaves the (frozen) sin-cos position embeddings of a ViT-MAE built from a
    config at zero, so every patch looks the same to the model and it can only learn to predict
    the image's mean colour. We fill them as `initialize_weights` means to (and as the weights
    on the hub have them); models loaded with from_pretrained keep their saved tables.
    """
    from transformers import ViTMAEForPreTraining

    torch.manual_seed(seed)  # weight initialisation goes through the global generator
    model = ViTMAEForPreTraining(architecture.to_transformers())
    for table in (model.vit.embeddings.position_embeddings, model.decoder.decoder_pos_embed):
        if not table.detach().abs().sum():
            fill_sincos_positions(table)
    return model


def fill_sincos_positions(table: torch.nn.Parameter) -> None:
    """Write ViT-MAE's 2-D sin-cos position table (with a zero row for [CLS]) into `table`."""
    from transformers.models.vit_mae.modeling_vit_mae import build_2d_sinusoidal_position_embedding

    grid = int(round((table.shape[1] - 1) ** 0.5))
    values = build_2d_sinusoidal_position_embedding(height=grid, width=grid, embed_dim=table.shape[-1], cls_token=True)
    half = values.shape[-1] // 2  # the original MAE code swapped the h and w halves; its weights (and transformers) keep that layout
    values = torch.cat([values[..., half:], values[..., :half]], dim=-1)
    with torch.no_grad():
        table.copy_(values.unsqueeze(0).to(table.dtype))


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * progress))


def train_mae(
    files: list[Path],
    config: LabMAEConfig,
    progress: Callable[[int, int, float], None] | None = None,
    images: torch.Tensor | None = None,
) -> tuple[torch.nn.Module, dict]:
    """Pre-train a fresh ViT-MAE on the image files (or an already loaded tensor), MAE-style:
    random masks at every step, AdamW with warm-up and cosine decay, no augmentation (the lab
    wants a model that has seen exactly these pixels). Deterministic in `config.training.seed`."""
    train = config.training
    pixels = images if images is not None else load_training_images(files, config.architecture)
    model = new_mae(config.architecture, train.seed)
    model.train()
    generator = torch.Generator().manual_seed(train.seed)
    n_patches = (config.architecture.image_size // config.architecture.patch_size) ** 2
    steps_per_epoch = math.ceil(len(pixels) / train.batch_size)
    total = train.epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay, betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, total, max(1, int(train.warmup_fraction * total))))
    started, cpu_started = time.perf_counter(), time.process_time()
    epoch_losses: list[float] = []
    step = 0
    for _ in range(train.epochs):
        order = torch.randperm(len(pixels), generator=generator)
        running = 0.0
        for start in range(0, len(pixels), train.batch_size):
            batch = pixels[order[start : start + train.batch_size]]
            noise = torch.rand(len(batch), n_patches, generator=generator)
            loss = model(pixel_values=batch, noise=noise).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += loss.item() * len(batch)
            step += 1
            if progress and (step % 10 == 0 or step == total):
                progress(step, total, loss.item())
        epoch_losses.append(running / len(pixels))
    model.eval()
    seconds = time.perf_counter() - started
    report = {
        "n_images": len(pixels),
        "epochs": train.epochs,
        "steps": total,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(time.process_time() - cpu_started, 2),
        "torch_threads": torch.get_num_threads(),
        "images_per_second": round(train.epochs * len(pixels) / max(seconds, 1e-9), 1),
        "epoch_losses": [round(value, 5) for value in epoch_losses],
    }
    return model, report


def save_mae(model: torch.nn.Module, folder: Path, report: dict, config: LabMAEConfig) -> None:
    """save_pretrained with the image processor, plus the training report."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    image_processor(config.architecture).save_pretrained(folder)
    (folder / "training.json").write_text(json.dumps(report, indent=2))
