"""Image-text membership inference on CLIP by cosine similarity (CLIP-MIA).

Ko et al., "Practical Membership Inference Attacks Against Large-Scale Multi-Modal Models: A Pilot
Study" (ICCV 2023; code reds-lab/CLIP-MIA); background.md §7. The unit is one (image, caption)
pair; its score is the cosine similarity of the image's and the caption's embeddings, and pairs
the model was trained on score higher. The augmentation variant averages that similarity over the
image and a few augmented copies (the paper's stronger threshold attack). The weakly supervised
attack (`mode="weakly-supervised"`, the paper's strongest) calibrates a threshold on pairs known
not to be in training (where mean + 1.5 std of their similarities lies, as a percentile: see
`calibrated_threshold`), takes the
candidate pairs above it as pseudo-members, trains a small attack model on the concatenated image
and text embeddings to tell pseudo-members from the known non-members, and scores every pair by it.

Data: a folder with the images and `pairs.csv` (`image,caption[,member][,person][,split]`; `member`
1/0 gives ground truth; `person` names who the photo shows, so intervals resample people, not
pairs; `split` is `target` (default: the pairs under test), `known-nonmember` (pairs the attacker
knows were not trained on, e.g. posted after the model; they calibrate the threshold and are not
scored) or `pool` (unlabelled candidates the weakly supervised attack picks pseudo-members from;
without any, it picks them from the pairs under test)). The lab's pair set (`lab-pairs`): per member
two training renders with captions they were trained with, and held-out pairs (new renders of the
members and non-members); a pair is a member when that exact photo with that exact caption was a
training pair.

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
MODES = ("similarity", "weakly-supervised")
SPLITS = ("target", "known-nonmember", "pool")
CALIBRATION_STDS = 1.5
"""The authors' code calibrates at the known non-members' mean + 1.5 std (`--hyper-lambda 1.5`)."""


@dataclass(frozen=True)
class CLIPMIAConfig:
    mode: str = field(default="similarity", metadata={
        "choices": MODES,
        "help": "similarity: threshold the image-caption cosine similarity; weakly-supervised: the paper's attack model "
                "trained on pseudo-members against pairs known not to be in training"})
    augmentations: int = field(default=0, metadata={
        "help": "augmented copies of each image to average the similarity over (0 = the plain attack)", "min": 0, "max": 32})
    seed: int = field(default=0, metadata={"help": "seeds the augmentations, the attack model and the bootstrap"})
    threshold: float | None = field(default=None, metadata={
        "help": "cosine similarity at or above which a pair is called a member (weakly supervised: a pseudo-member); "
                "empty = calibrated on the known non-member pairs (their mean + calibration_stds std)"})
    calibration_stds: float = field(default=CALIBRATION_STDS, metadata={
        "help": "the calibrated threshold is the known non-members' percentile where mean + this many std lies for "
                "normal data (1.5: the 93.3rd, as the authors' code)"})

    def __post_init__(self) -> None:
        if self.augmentations < 0:
            raise ValueError("augmentations must be 0 or more")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}: {' or '.join(MODES)}")


@dataclass
class PairSet:
    """(image, caption) pairs with optional ground truth, and the rows that could not be used."""

    root: str
    images: list[str]
    captions: list[str]
    members: list[bool | None]
    problems: list[dict[str, str]] = field(default_factory=list)
    people: list[str | None] = field(default_factory=list)
    """Who each photo shows (None: not given)."""
    splits: list[str] = field(default_factory=list)
    """`SPLITS`: the pairs under test, the attacker's known non-members, and unlabelled candidates."""

    def __post_init__(self) -> None:
        self.people = self.people or [None] * len(self.images)
        self.splits = self.splits or ["target"] * len(self.images)

    def rows(self, split: str) -> list[int]:
        return [index for index, value in enumerate(self.splits) if value == split]


def read_pairs(folder: str | Path) -> PairSet:
    """The pairs of `folder/pairs.csv`; a row without a readable image file or caption is reported and skipped."""
    from leakage.paths import checked, read_text_checked, refusal

    root = checked(folder, "data")  # resolved; refused outside a shared server's roots
    table = root / PAIRS_FILE
    if not table.is_file():
        raise FileNotFoundError(f"{Path(folder) / PAIRS_FILE} not found: a pair set is a folder with the images and "
                                f"{PAIRS_FILE} (columns image,caption and optionally member, person, split)")
    pairs = PairSet(str(root.resolve()), [], [], [])
    text = read_text_checked(table, "data", folder=root, encoding="utf-8-sig")
    for line, row in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
        image, caption = (row.get("image") or "").strip(), (row.get("caption") or "").strip()
        path = root / image
        if not image or not caption:
            pairs.problems.append({"path": f"{PAIRS_FILE}:{line}", "reason": "needs both an image and a caption"})
            continue
        split = (row.get("split") or "").strip().lower() or "target"
        if split not in SPLITS:
            pairs.problems.append({"path": f"{PAIRS_FILE}:{line}", "reason": f"unknown split {split!r} ({', '.join(SPLITS)})"})
            continue
        refused = refusal(path, "data", folder=root)  # absolute and ../ rows, links out of the folder
        if refused:
            pairs.problems.append({"path": f"{PAIRS_FILE}:{line}", "reason": f"{refused}; row skipped"})
            continue
        if not path.is_file():
            pairs.problems.append({"path": image, "reason": "image file not found"})
            continue
        member = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(
            (row.get("member") or "").strip().lower())
        if split == "known-nonmember" and member:
            pairs.problems.append({"path": f"{PAIRS_FILE}:{line}", "reason": "a known non-member cannot be a member"})
            continue
        pairs.images.append(str(path))
        pairs.captions.append(caption)
        pairs.members.append(False if split == "known-nonmember" else member)
        pairs.people.append((row.get("person") or "").strip() or None)
        pairs.splits.append(split)
    if not pairs.rows("target"):
        raise ValueError(f"{table} holds no usable pair to test")
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


def similarities(clip: Any, pairs: PairSet, texts: np.ndarray, config: CLIPMIAConfig,
                 context: RunContext) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Each pair's image-caption cosine similarity, averaged over the image and its augmented copies
    (each copy's cosine with the caption, then the mean, as the paper averages), the plain image
    embeddings, and the images that failed (their rows are NaN)."""
    from leakage.data import load_image
    from leakage.idia import AttackImage, embed_images

    plain = [AttackImage(person="", source=path, label=path) for path in pairs.images]
    features, failures, _ = embed_images(clip, plain, context)
    problems = [{"path": pairs.images[index], "reason": reason} for index, reason in failures.items()]
    total = np.einsum("ij,ij->i", features, texts)
    rng = random.Random(config.seed * 1_000_003 + AUGMENTATION_SEED)
    for round_ in range(config.augmentations):
        check_cancel(context.cancel)
        context.report("augmented copies", round_, config.augmentations)
        copies = []
        for path in pairs.images:
            try:
                copies.append(AttackImage(person="", source=augment(load_image(path), rng), label=path))
            except (OSError, ValueError):
                copies.append(AttackImage(person="", source=path, label=path))
        augmented, _, _ = embed_images(clip, copies, RunContext(batch_size=context.batch_size, use_image_cache=False))
        total += np.einsum("ij,ij->i", augmented, texts)
    return total / (config.augmentations + 1), features, problems


def calibrated_threshold(nonmember_similarities: np.ndarray, stds: float) -> float:
    """The weakly supervised calibration on known non-members' similarities: the share of them above it is the
    share of a normal distribution above its mean + `stds` std (1.5: the 93.3rd percentile).

    The authors' code takes mean + 1.5 std itself. That assumes one bell-shaped distribution; in the lab the
    non-member pairs are two (new photos of trained people match their captions about as well as training pairs,
    pairs of unknown people far worse), and mean + 1.5 std lands above every pair (1.06 for cosines at most 1).
    The percentile is the same rule for normal data and stays inside the data when they are not.
    """
    from statistics import NormalDist

    return float(np.quantile(nonmember_similarities, NormalDist().cdf(stds)))


ATTACK_MODEL_EPOCHS = 15
ATTACK_MODEL_PATIENCE = 3


def train_attack_model(members: np.ndarray, nonmembers: np.ndarray, seed: int) -> tuple[Any, dict[str, Any]]:
    """The authors' attack model (reds-lab/CLIP-MIA, train_attackmodel.py): an MLP (512-256-128-2) on the
    concatenated image and text embeddings, pseudo-members against known non-members sampled to equal
    numbers, Adam at 1e-3, batches of 32, up to 15 epochs with a 10% validation split and early stopping
    after 3 epochs without a lower validation loss."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n = min(len(members), len(nonmembers))
    chosen = np.concatenate([members[rng.choice(len(members), n, replace=False)],
                             nonmembers[rng.choice(len(nonmembers), n, replace=False)]])
    labels = torch.cat([torch.ones(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)])
    data = torch.from_numpy(chosen.astype(np.float32))
    order = torch.randperm(2 * n, generator=generator)
    n_train = max(1, int(0.9 * 2 * n))
    train, held = order[:n_train], order[n_train:]
    model = torch.nn.Sequential(torch.nn.Linear(data.shape[1], 512), torch.nn.ReLU(), torch.nn.Linear(512, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    best, stale, epochs, accuracy = float("inf"), 0, 0, None
    for epochs in range(1, ATTACK_MODEL_EPOCHS + 1):
        model.train()
        shuffled = train[torch.randperm(n_train, generator=generator)]
        for start in range(0, n_train, 32):
            batch = shuffled[start:start + 32]
            optimizer.zero_grad()
            loss_fn(model(data[batch]), labels[batch]).backward()
            optimizer.step()
        if len(held) == 0:
            continue
        model.eval()
        with torch.no_grad():
            outputs = model(data[held])
            loss = float(loss_fn(outputs, labels[held]))
            accuracy = float((outputs.argmax(dim=1) == labels[held]).float().mean())
        if loss < best:
            best, stale = loss, 0
        else:
            stale += 1
            if stale >= ATTACK_MODEL_PATIENCE:
                break
    model.eval()
    return model, {"n_per_class": n, "epochs": epochs, "validation_accuracy": accuracy}


def weakly_supervised(pairs: PairSet, similarity: np.ndarray, images: np.ndarray, texts: np.ndarray, threshold: float,
                      config: CLIPMIAConfig) -> tuple[np.ndarray, dict[str, Any]]:
    """The attack model's membership probability of every pair, and what the attack used."""
    import torch

    usable = np.isfinite(similarity)
    known = [i for i in pairs.rows("known-nonmember") if usable[i]]
    pool_rows = [i for i in pairs.rows("pool") if usable[i]]
    pool_source = "the pool pairs (split=pool)"
    if not pool_rows:
        pool_rows, pool_source = [i for i in pairs.rows("target") if usable[i]], "the pairs under test (no pool pairs were given)"
    pseudo = [i for i in pool_rows if similarity[i] >= threshold]
    if not pseudo:
        raise ValueError(f"no candidate pair reaches the threshold {threshold:.4f}, so there is no pseudo-member to train on; "
                         "lower the threshold or calibration_stds")
    features = np.concatenate([images, texts], axis=1)
    model, training = train_attack_model(features[pseudo], features[known], config.seed)
    with torch.no_grad():
        probability = torch.softmax(model(torch.from_numpy(np.nan_to_num(features).astype(np.float32))), dim=1)[:, 1].numpy()
    probability = np.where(usable, probability, np.nan)
    truth = [pairs.members[i] for i in pseudo if pairs.members[i] is not None]
    details = {
        "n_known_nonmembers": len(known), "n_candidates": len(pool_rows), "candidates": pool_source,
        "pseudo_member_threshold": threshold, "n_pseudo_members": len(pseudo),
        # the paper reports the share of wrong pseudo-labels; here only when the candidates carry ground truth
        "pseudo_member_precision": float(np.mean(truth)) if truth else None,
        **training,
    }
    return probability, details


def run(model: Any, data: PairSet, config: CLIPMIAConfig, context: RunContext) -> AttackResult:
    from leakage.metrics import membership_summary, metrics_at_threshold, repeated_clusters
    from leakage.text_embeddings import encode_prompts

    started = time.perf_counter()
    texts = encode_prompts(model, data.captions, progress=context.progress, cancel=context.cancel)
    check_cancel(context.cancel)
    similarity, images, problems = similarities(model, data, texts, config, context)
    known = [i for i in data.rows("known-nonmember") if np.isfinite(similarity[i])]
    threshold, source = config.threshold, "set in the config"
    if threshold is None and known:
        threshold = calibrated_threshold(similarity[known], config.calibration_stds)
        from statistics import NormalDist

        mean_std = float(np.mean(similarity[known]) + config.calibration_stds * np.std(similarity[known]))
        source = (f"calibrated on {len(known)} pairs known not to be in training, as the paper's weakly supervised setting: "
                  f"the {100 * NormalDist().cdf(config.calibration_stds):.1f}% quantile of their similarities, where mean + "
                  f"{config.calibration_stds:g} std lies for normal data (mean + {config.calibration_stds:g} std itself: "
                  f"{mean_std:.4f})")
    elif threshold is None:
        source = ("none: no threshold was set and the data hold no pair known not to be in training (split=known-nonmember) "
                  "to calibrate one; the ROC, AUC and TPR at low FPR need none")
    details: dict[str, Any] = {}
    if config.mode == "weakly-supervised":
        if not known:
            raise ValueError("the weakly supervised attack needs pairs known not to be in the training data: rows with "
                             "split=known-nonmember in pairs.csv (e.g. pairs published after the model was trained)")
        scores, details["weak_supervision"] = weakly_supervised(data, similarity, images, texts, threshold, config)
        decision, rule = 0.5, "member when the attack model's membership probability is at least 0.5"
    else:
        scores, decision = similarity, threshold
        rule = None if threshold is None else f"member when the cosine similarity is at least {threshold:.4f}"
    rows = []
    for index in data.rows("target"):
        if not np.isfinite(scores[index]):
            continue
        rows.append({
            "name": Path(data.images[index]).name, "caption": data.captions[index], "member": data.members[index],
            "person": data.people[index], "score": float(scores[index]), "similarity": float(similarity[index]),
            "predicted_member": None if decision is None else bool(scores[index] >= decision), "path": data.images[index],
        })
    metrics: dict[str, Any] = {"n_pairs": len(rows), "mode": config.mode, "threshold": threshold, "threshold_source": source,
                               "decision_rule": rule, "n_known_nonmembers": len(known)}
    known_rows = [row for row in rows if row["member"] is not None]
    labels = [int(row["member"]) for row in known_rows]
    if known_rows and 0 < sum(labels) < len(labels):
        clusters = repeated_clusters([row["person"] for row in known_rows])  # several pairs of one person are not independent
        metrics.update(membership_summary(labels, [row["score"] for row in known_rows], threshold=decision, seed=config.seed,
                                          clusters=clusters))
        if clusters:
            metrics["bootstrap"]["cluster_field"] = "person"
        metrics["mean_similarity_members"] = float(np.mean([row["similarity"] for row in known_rows if row["member"]]))
        metrics["mean_similarity_nonmembers"] = float(np.mean([row["similarity"] for row in known_rows if not row["member"]]))
    elif known_rows and decision is not None:
        metrics["at_threshold"] = metrics_at_threshold(labels, [row["score"] for row in known_rows], decision)
    if known:
        metrics["mean_similarity_known_nonmembers"] = float(np.mean(similarity[known]))
    describe = getattr(model, "describe", None)
    return AttackResult(
        config={**asdict(config), "model": getattr(model, "identifier", str(model))},
        metrics=metrics,
        identities=rows,
        seeds={"augmentations": config.seed, "bootstrap": config.seed, "attack_model": config.seed},
        model=describe() if describe else {},
        dataset={"id": context.dataset_id or data.root, "n_pairs": len(data.rows("target")),
                 "n_known_nonmembers": len(data.rows("known-nonmember")), "n_pool": len(data.rows("pool"))},
        problems=data.problems + problems,
        timing={"total_seconds": time.perf_counter() - started},
        details=details,
    )


def decision_rule(result: AttackResult) -> str | None:
    return result.metrics.get("decision_rule")


def summary_lines(result: AttackResult, *, attack: Attack) -> list[str]:
    from leakage.attacks.membership import summary_lines as membership_lines

    metrics = result.metrics
    lines = membership_lines(result, attack=attack)
    extra = []
    if "mean_similarity_members" in metrics:
        extra.append(f"mean cosine similarity: member pairs {metrics['mean_similarity_members']:.4f}, "
                     f"non-member pairs {metrics['mean_similarity_nonmembers']:.4f}"
                     + (f", known non-member pairs {metrics['mean_similarity_known_nonmembers']:.4f}"
                        if "mean_similarity_known_nonmembers" in metrics else ""))
    threshold = metrics.get("threshold")
    extra.append(f"threshold: {'none' if threshold is None else f'{threshold:.4f}'} ({metrics.get('threshold_source', '')})")
    weak = result.details.get("weak_supervision")
    if weak:
        precision = weak.get("pseudo_member_precision")
        extra.append(f"weakly supervised: {weak['n_pseudo_members']} pseudo-members of {weak['n_candidates']} candidates "
                     f"({weak['candidates']})" + (f", {precision:.0%} of them true members" if precision is not None else "")
                     + f"; attack model trained on {weak['n_per_class']} per class for {weak['epochs']} epochs")
    at = metrics.get("at_threshold")
    if at:
        extra.append(f"at the decision rule: TPR {at['tpr']:.3f}  FPR {at['fpr']:.3f}  precision {at['precision']:.3f}")
    return lines[:3] + extra + lines[3:]


# --------------------------------------------------------------------------- the lab's pair set


PAIR_SET_FORMAT = 2
"""Bump when the lab pair set's recipe changes; it is written to a new folder in the lab. 2: member pairs carry
the captions they were trained with (1 re-drew them from the caption generator), plus known non-member and pool pairs."""
HELD_OUT_INDEX = {"target": 20_001, "known-nonmember": 20_002, "pool": 20_003}
"""Render indices of the held-out pairs, apart from training (0..) and attack (10 000..) renders."""


class LabPairsRecipe(Recipe):
    """The lab CLIP's pair set, written on first use into the lab's own folder.

    Pairs under test: two training renders of each member, each with the caption it was trained with in the last
    epoch (member pairs), and a new render of each member and non-member with a caption from the lab's generator
    (non-member pairs: the held-out pairs of members show a person the model knows, but not this photo with this
    caption). Known non-members: another new render of each, likewise (what an attacker knows was never trained
    on). Pool (unlabelled candidates for the weakly supervised attack): training renders 2 and 3 of each member
    with their training captions, and a third new render of each member and non-member."""

    folder = "lab"
    title = "the lab CLIP's image-caption pairs"
    build_format = PAIR_SET_FORMAT
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

        return lab_root(config) / f"pairs-{PAIR_SET_FORMAT}"

    def builds(self) -> list:
        return []  # inside the CLIP lab's folders: listed and cleaned with them

    def ensure(self, config: Any = None, progress: Any = None, cancel: Any = None) -> Any:
        from leakage.lab.build import ensure_lab

        ensure_lab(config, cancellable(progress, cancel))  # the pairs live in the lab's folder: the lab first
        return super().ensure(config, progress, cancel)

    def open(self, root: Path) -> Any:
        return SimpleNamespace(root=root)

    def build_into(self, staging: Path, config: Any, progress: Any) -> Any:
        from leakage.lab.build import assign_roles, ensure_lab, training_captions, world_of
        from leakage.lab.captions import training_caption
        from leakage.lab.portraits import render
        from leakage.lab.world import describe

        lab = ensure_lab(config)
        staging.mkdir(parents=True, exist_ok=True)
        members, nonmembers, _, _ = assign_roles(world_of(lab.config), lab.config)
        trained = training_captions(lab.config)
        rng = random.Random(f"lab-pairs/{lab.config.seed}")
        jobs = []  # (person, render index, split, caption or None for a fresh one)
        for split, indices in (("target", (0, 1)), ("pool", (2, 3))):
            jobs += [(person, index, split, trained[(person.name, index)][-1]) for person in members for index in indices
                     if index < lab.members[person.name]]
            jobs += [(person, HELD_OUT_INDEX[split], split, None) for person in members + nonmembers]
        jobs += [(person, HELD_OUT_INDEX["known-nonmember"], "known-nonmember", None) for person in members + nonmembers]
        rows = []
        for done, (person, index, split, caption) in enumerate(jobs, 1):
            image, _ = render(person, index, world_seed=lab.config.seed, size=lab.config.render_size)
            name = f"{person.id:04d}-{index}.png"
            image.save(staging / name)
            rows.append({"image": name, "caption": caption or training_caption(rng, describe(person), person.name),
                         "member": int(caption is not None), "person": person.name, "split": split})
            if done % 50 == 0 or done == len(jobs):
                progress("write the lab pair set", done, len(jobs))
        with (staging / PAIRS_FILE).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["image", "caption", "member", "person", "split"])
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
                    description="image-caption pairs of the lab CLIP: training photos with the captions they were trained "
                                "with, held-out pairs, and pairs known not to be in training")


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
        "over a few augmented copies of the image makes the attack stronger. The weakly supervised mode, the paper's "
        "strongest, uses pairs known not to be in training (e.g. published after the model): it sets the threshold "
        "from their similarities, takes the candidate pairs above it as likely members and trains a small attack "
        "model to tell the two apart. A pair counts as a member only when that exact photo with that exact caption "
        "was trained on; in the lab, new photos of trained people are non-member pairs. Published by Ko et al., "
        "\u201cPractical Membership Inference Attacks Against Large-Scale Multi-Modal Models\u201d (ICCV 2023)."
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
    decision_rule=decision_rule,
    parts="ui.parts.clip_mia:PARTS",
    item_columns=("name", "person", "caption", "member", "score", "similarity", "predicted_member"),
)
