"""Image-text membership inference on CLIP by cosine similarity (CLIP-MIA).

Ko et al., "Practical Membership Inference Attacks Against Large-Scale Multi-Modal Models: A Pilot
Study" (ICCV 2023; code reds-lab/CLIP-MIA); background.md §7. The unit is one (image, caption)
pair; its score is the cosine similarity of the image's and the caption's embeddings, and pairs
the model was trained on score higher. The augmentation variant averages the similarity over a
few augmented copies of the image (the paper's stronger attack).

Data: a folder with the images and `pairs.csv` (`image,caption[,member]`; `member` 1/0 gives
ground truth). The lab's pair set (`lab-pairs`) holds training pairs of the lab CLIP's members
(the exact training renders, with captions written as in training) and held-out pairs: new renders
of the same members and of non-members, captioned the same way.

This module is the whole attack: declaration, data, engine.
"""

from __future__ import annotations

import csv
import io
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from leakage.attacks.base import Attack, RunContext, check_cancel
from leakage.catalog_entries import LabData
from leakage.lab.recipe import Membership, Recipe, cancellable
from leakage.lab.shared_entries import LAB_CLIP, LAB_CLIP_DATA, LAB_CONTROL
from leakage.results import AttackResult

PAIRS_FILE = "pairs.csv"
AUGMENTATION_SEED = 0


@dataclass(frozen=True)
class CLIPMIAConfig:
    augmentations: int = field(default=0, metadata={
        "help": "augmented copies of each image to average the similarity over (0 = the plain attack)", "min": 0, "max": 32})
    seed: int = field(default=0, metadata={"help": "seeds the augmentations and the bootstrap"})
    threshold: float = field(default=0.0, metadata={
        "help": "cosine similarity at or above which a pair is called a member (0 = the midpoint of the scores)"})

    def __post_init__(self) -> None:
        if self.augmentations < 0:
            raise ValueError("augmentations must be 0 or more")


@dataclass
class PairSet:
    """(image, caption) pairs with optional ground truth, and the rows that could not be used."""

    root: str
    images: list[str]
    captions: list[str]
    members: list[bool | None]
    problems: list[dict[str, str]] = field(default_factory=list)


def read_pairs(folder: str | Path) -> PairSet:
    """The pairs of `folder/pairs.csv`; a row without a readable image file or caption is reported and skipped."""
    from leakage.paths import checked, read_text_checked, refusal

    root = checked(folder, "data")  # resolved; refused outside a shared server's roots
    table = root / PAIRS_FILE
    if not table.is_file():
        raise FileNotFoundError(f"{Path(folder) / PAIRS_FILE} not found: a pair set is a folder with the images and "
                                f"{PAIRS_FILE} (columns image,caption and optionally member)")
    pairs = PairSet(str(root), [], [], [])
    text = read_text_checked(table, "data", folder=root, encoding="utf-8-sig")
    for line, row in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
        image, caption = (row.get("image") or "").strip(), (row.get("caption") or "").strip()
        path = root / image
        if not image or not caption:
            pairs.problems.append({"path": f"{PAIRS_FILE}:{line}", "reason": "needs both an image and a caption"})
            continue
        refused = refusal(path, "data", folder=root)  # absolute and ../ rows, links out of the folder
        if refused:
            pairs.problems.append({"path": f"{PAIRS_FILE}:{line}", "reason": f"{refused}; row skipped"})
            continue
        if not path.is_file():
            pairs.problems.append({"path": image, "reason": "image file not found"})
            continue
        member = (row.get("member") or "").strip().lower()
        pairs.images.append(str(path))
        pairs.captions.append(caption)
        pairs.members.append({"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(member))
    if not pairs.images:
        raise ValueError(f"{table} holds no usable pair")
    return pairs


def augment(image, rng: random.Random):
    """A mild random crop, flip and colour change, as the paper's augmentation attack uses."""
    from PIL import ImageEnhance, ImageOps

    width, height = image.size
    scale = rng.uniform(0.85, 1.0)
    crop_w, crop_h = int(width * scale), int(height * scale)
    left, top = rng.randint(0, width - crop_w), rng.randint(0, height - crop_h)
    image = image.crop((left, top, left + crop_w, top + crop_h)).resize((width, height))
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    return ImageEnhance.Brightness(image).enhance(rng.uniform(0.85, 1.15))


def image_embeddings(clip: Any, pairs: PairSet, config: CLIPMIAConfig, context: RunContext) -> tuple[np.ndarray, list[dict]]:
    """Mean L2-normalised embedding of each image over itself and its augmentations (rows of failed images are NaN)."""
    from leakage.data import load_image
    from leakage.idia import AttackImage, embed_images

    plain = [AttackImage(person="", source=path, label=path) for path in pairs.images]
    features, failures, _ = embed_images(clip, plain, context)
    problems = [{"path": pairs.images[index], "reason": reason} for index, reason in failures.items()]
    if config.augmentations:
        total = features.copy()
        rng = random.Random(config.seed * 1_000_003 + AUGMENTATION_SEED)
        for round_ in range(config.augmentations):
            check_cancel(context.cancel)
            context.report("augmented copies", round_, config.augmentations)
            copies = []
            for index, path in enumerate(pairs.images):
                try:
                    copies.append(AttackImage(person="", source=augment(load_image(path), rng), label=path))
                except (OSError, ValueError):
                    copies.append(AttackImage(person="", source=path, label=path))
            augmented, _, _ = embed_images(clip, copies, RunContext(batch_size=context.batch_size, use_image_cache=False))
            total += augmented
        features = total / (config.augmentations + 1)
        features /= np.linalg.norm(features, axis=1, keepdims=True)
    return features, problems


def run(model: Any, data: PairSet, config: CLIPMIAConfig, context: RunContext) -> AttackResult:
    from leakage.metrics import membership_summary, metrics_at_threshold
    from leakage.text_embeddings import encode_prompts

    started = time.perf_counter()
    images, problems = image_embeddings(model, data, config, context)
    check_cancel(context.cancel)
    texts = encode_prompts(model, data.captions, progress=context.progress, cancel=context.cancel)
    similarity = np.einsum("ij,ij->i", images, texts)
    usable = np.isfinite(similarity)
    scores = similarity[usable]
    threshold = config.threshold or float((scores.min() + scores.max()) / 2)
    rows = []
    for index in np.flatnonzero(usable):
        rows.append({
            "name": Path(data.images[index]).name, "caption": data.captions[index], "member": data.members[index],
            "score": float(similarity[index]), "predicted_member": bool(similarity[index] >= threshold),
            "path": data.images[index],
        })
    metrics: dict[str, Any] = {"n_pairs": len(rows), "threshold": threshold}
    known = [row for row in rows if row["member"] is not None]
    labels = [int(row["member"]) for row in known]
    if known and 0 < sum(labels) < len(labels):
        metrics.update(membership_summary(labels, [row["score"] for row in known], threshold=threshold, seed=config.seed))
        metrics["mean_similarity_members"] = float(np.mean([row["score"] for row in known if row["member"]]))
        metrics["mean_similarity_nonmembers"] = float(np.mean([row["score"] for row in known if not row["member"]]))
    elif known:
        metrics["at_threshold"] = metrics_at_threshold(labels, [row["score"] for row in known], threshold)
    describe = getattr(model, "describe", None)
    return AttackResult(
        config={**asdict(config), "model": getattr(model, "identifier", str(model))},
        metrics=metrics,
        identities=rows,
        seeds={"augmentations": config.seed, "bootstrap": config.seed},
        model=describe() if describe else {},
        dataset={"id": context.dataset_id or data.root, "n_pairs": len(data.images)},
        problems=data.problems + problems,
        timing={"total_seconds": time.perf_counter() - started},
    )


def summary_lines(result: AttackResult, *, attack: Attack) -> list[str]:
    from leakage.attacks.membership import summary_lines as membership_lines

    metrics = result.metrics
    lines = membership_lines(result, attack=attack)
    if "mean_similarity_members" in metrics:
        lines.insert(3, f"mean cosine similarity: member pairs {metrics['mean_similarity_members']:.4f}, "
                        f"non-member pairs {metrics['mean_similarity_nonmembers']:.4f}")
    return lines


# --------------------------------------------------------------------------- the lab's pair set


class LabPairsRecipe(Recipe):
    """The lab CLIP's pair set, written on first use into the lab's own folder: per member two
    training pairs (the exact training renders, captioned as in training) and one held-out pair;
    per non-member one held-out pair."""

    folder = "lab"
    title = "the lab CLIP's image-caption pairs"
    build_format = 1
    manifest = "complete"
    parts = {"pairs": "."}
    data_parts = ("pairs",)

    def default_config(self) -> Any:
        from leakage.lab.build import LabConfig

        return LabConfig()

    def config_from_record(self, record: dict) -> Any:
        raise KeyError("the pair set records no config: it lives inside the lab it was made from")

    def root(self, config: Any) -> Path:
        from leakage.lab.build import lab_root

        return lab_root(config) / "pairs"

    def builds(self) -> list:
        return []  # inside the CLIP lab's folders: listed and cleaned with them

    def ensure(self, config: Any = None, progress: Any = None, cancel: Any = None) -> Any:
        from leakage.lab.build import ensure_lab

        ensure_lab(config, cancellable(progress, cancel))  # the pairs live in the lab's folder: the lab first
        return super().ensure(config, progress, cancel)

    def open(self, root: Path) -> Any:
        return SimpleNamespace(root=root)

    def build_into(self, staging: Path, config: Any, progress: Any) -> Any:
        from leakage.lab.build import ATTACK_INDEX_OFFSET, assign_roles, ensure_lab, world_of
        from leakage.lab.captions import training_caption
        from leakage.lab.portraits import render
        from leakage.lab.world import describe

        lab = ensure_lab(config)
        staging.mkdir(parents=True, exist_ok=True)
        members, nonmembers, _, _ = assign_roles(world_of(lab.config), lab.config)
        rng = random.Random(lab.config.seed)
        rows = []
        jobs = [(person, index, True) for person in members for index in range(min(2, lab.members[person.name]))]
        jobs += [(person, ATTACK_INDEX_OFFSET + 10_000 + 1, False) for person in members + nonmembers]
        for done, (person, index, member) in enumerate(jobs, 1):
            image, _ = render(person, index, world_seed=lab.config.seed, size=lab.config.render_size)
            name = f"{person.id:04d}-{index}.png"
            image.save(staging / name)
            rows.append({"image": name, "caption": training_caption(rng, describe(person), person.name), "member": int(member)})
            if done % 50 == 0 or done == len(jobs):
                progress("write the lab pair set", done, len(jobs))
        with (staging / PAIRS_FILE).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["image", "caption", "member"])
            writer.writeheader()
            writer.writerows(rows)
        (staging / self.manifest).write_text("1")
        return SimpleNamespace(root=staging)

    def membership(self, config: Any, part: str) -> Membership:
        pairs = read_pairs(self.root(config))
        return Membership([Path(i).name for i, m in zip(pairs.images, pairs.members) if m],
                          [Path(i).name for i, m in zip(pairs.images, pairs.members) if m is False],
                          "image-caption pairs: the lab CLIP's training pairs and held-out pairs")


LAB_PAIRS_RECIPE = LabPairsRecipe()
LAB_PAIRS = LabData("lab-pairs", "pairs", "leakage.attacks.clip_mia:LAB_PAIRS_RECIPE",
                    description="image-caption pairs of the lab CLIP: its training pairs and held-out pairs")


def build_lab_pairs(progress=None) -> Path:
    """The default lab CLIP's pair set (built first when missing)."""
    return LAB_PAIRS_RECIPE.ensure(None, progress).root


ATTACK = Attack(
    name="clip-mia",
    title="Image-text membership inference on CLIP",
    nav_title="Image-text membership (CLIP)",
    icon=":material/link:",
    question="Was this image, with this caption, in the training data of this CLIP model?",
    explanation=(
        "The attacker embeds an image and its caption with the model and measures how well they match (cosine "
        "similarity); pairs the model was trained on match better than pairs it never saw. Averaging the similarity "
        "over a few augmented copies of the image makes the attack stronger. Published by Ko et al., \u201cPractical "
        "Membership Inference Attacks Against Large-Scale Multi-Modal Models\u201d (ICCV 2023)."
    ),
    attacker_has="an image, its caption and the model's embeddings",
    taxonomy="membership inference (training-data privacy)",
    config=CLIPMIAConfig,
    run=run,
    model_kind="clip",
    default_model="lab",
    default_data="lab-pairs",
    lab_models=(LAB_CLIP, LAB_CONTROL),
    lab_data=(LAB_CLIP_DATA, LAB_PAIRS),
    reads=("pairs",),
    unit="pair",
    units="pairs",
    load_data=read_pairs,
    summary_lines=summary_lines,
    item_columns=("name", "caption", "member", "score", "predicted_member"),
)
