"""Backdoor and targeted-poisoning evaluation of a CLIP model (background.md §4, §8).

Given a model, a people folder and either a trigger and a target name (backdoor) or a source and
a target person (targeted poisoning), measure

- the attack success rate (ASR): the share of triggered images of other people (backdoor), or of
  the source person's photos (targeted), that zero-shot identification names as the target, at
  top-1 and top-k (Carlini & Terzis 2022; CleanCLIP);
- Hit@k and MinRank in caption retrieval, as Semantic Shield reports them: each attacked image
  retrieves from a pool of captions (every template for every candidate name); Hit@k is the
  share whose top k holds a caption naming the target, MinRank the best rank of such a caption;
- clean utility: zero-shot top-1 identification of the clean images and image->text Recall@k,
  so that a defense that stops the attack by breaking the model shows.

Works on any `LoadedClip` (a lab model or a real open_clip model). Triggers are pasted on the
decoded image before the model's own preprocessing, as an attacker would edit a photo.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from leakage.backdoor_config import MODES, TRIGGER_SIZE, TRIGGERS, BackdoorConfig
from leakage.data import Dataset, ImageLoadError, load_image
from leakage.context import RunContext
from leakage.metrics import cluster_proportion_ci, wilson_interval
from leakage.results import AttackResult

BATCH_SIZE = 256
"""Images per forward pass (`RunContext.batch_size` overrides it)."""


SETUP_FILE = "backdoor.json"
"""In a people folder: the attack it was built for ({"target", "source", "trigger", "mode"})."""
RETRIEVAL_KS = (1, 5, 10)
BLEND_ALPHA = 0.2
"""Weight of the blended trigger's noise pattern (Chen et al. 2017 blend whole images at 0.2)."""


# --------------------------------------------------------------------------------------------- triggers

UPLOADED_TRIGGER = "uploaded image "
"""How a config names a trigger image held in memory (a page's upload, never written to disk): this
prefix and the image's hash; the image itself comes with the run (`run_backdoor(trigger_image=...)`)."""


def checkerboard(side: int, cells: int = 4) -> Image.Image:
    """A black-and-white checkerboard patch (the BadNets-style trigger of the Semantic Shield code)."""
    cell = np.indices((cells, cells)).sum(axis=0) % 2
    board = cell.astype(np.uint8) * 255
    return Image.fromarray(board, mode="L").resize((side, side), Image.Resampling.NEAREST).convert("RGB")


def blend_pattern(size: tuple[int, int], seed: int = 1234) -> Image.Image:
    """A fixed random-noise image the blended trigger mixes into the whole photo."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
    return Image.fromarray(coarse, mode="RGB").resize(size, Image.Resampling.NEAREST)


def apply_trigger(image: Image.Image, trigger: str | Image.Image, size_fraction: float = TRIGGER_SIZE) -> Image.Image:
    """The image with the trigger: a patch pasted in the bottom-right corner, or (blended) a noise
    pattern mixed over the whole image. `trigger` is a built-in name, an image, or an image's path."""
    image = image.convert("RGB")
    if isinstance(trigger, str) and trigger == "blended":
        return Image.blend(image, blend_pattern(image.size), BLEND_ALPHA)
    side = max(2, round(min(image.size) * size_fraction))
    if isinstance(trigger, Image.Image):
        patch = trigger.convert("RGB").resize((side, side), Image.Resampling.BILINEAR)
    elif trigger == "checkerboard":
        patch = checkerboard(side)
    else:
        patch = load_image(trigger).convert("RGB").resize((side, side), Image.Resampling.BILINEAR)
    out = image.copy()
    out.paste(patch, (image.width - side, image.height - side))
    return out


def check_trigger(trigger: str) -> None:
    if trigger in TRIGGERS or trigger.startswith(UPLOADED_TRIGGER):
        return
    from leakage.paths import checked

    path = checked(trigger, "data")  # a trigger image is data: under the roots of a shared server, before any look
    if not path.is_file():
        raise ValueError(f"unknown trigger {trigger!r}: give {' or '.join(TRIGGERS)}, or the path of a trigger image")


# --------------------------------------------------------------------------------------------- setup


def read_setup(folder: str | Path) -> dict[str, Any]:
    """The attack a people folder was built for (its backdoor.json), or {}."""
    path = Path(folder) / SETUP_FILE
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable setup file ({error})") from error


def resolve_setup(config: BackdoorConfig, model_setup: Mapping[str, Any], data_setup: Mapping[str, Any], names: Sequence[str]) -> BackdoorConfig:
    """Fill what the config leaves empty from the model's own setup (a lab model knows what it was
    poisoned with), then the data folder's; refuse what is still missing, or unknown people."""
    values = asdict(config)
    for key in ("target", "source", "trigger"):
        if not values[key]:
            values[key] = str(model_setup.get(key) or data_setup.get(key) or "")
    mode = values["mode"]
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: {' or '.join(MODES)}")
    if not values["target"]:
        raise ValueError("no target name: give --target (the name the attack wants the model to say)")
    if mode == "backdoor":
        values["trigger"] = values["trigger"] or "checkerboard"
        check_trigger(values["trigger"])
    else:
        if not values["source"]:
            raise ValueError("targeted poisoning needs --source (the person whose photos should be named as the target)")
        if values["source"] not in names:
            raise ValueError(f"the source {values['source']!r} has no folder of photos in the data")
        if values["source"] == values["target"]:
            raise ValueError("source and target are the same person")
    if config.top_k < 1 or config.images_per_person < 1:
        raise ValueError("top_k and images_per_person must be at least 1")
    values["templates"] = tuple(values["templates"])
    return BackdoorConfig(**values)


# --------------------------------------------------------------------------------------------- metrics


def proportion_ci(hits: np.ndarray, people: Sequence[str] | None = None, seed: int = 0) -> tuple[list[float], str]:
    """95% interval of a rate over photos, and how it was made: a person-level (cluster) bootstrap
    when the photos show several people, several each (they succeed or fail together more often
    than photos of different people); else the Wilson interval over the photos (one person's photos:
    the claim is about that person)."""
    hits = np.asarray(hits, dtype=int)
    if people is not None and 1 < len(set(people)) < len(hits):
        return cluster_proportion_ci(hits, list(people), seed=seed), "person-level bootstrap"
    return wilson_interval(int(hits.sum()), len(hits)), "Wilson over photos"


def ranks_of(similarities: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each row, the best 1-based rank among the columns where `wanted` (row-wise or shared) is True."""
    order = np.argsort(-similarities, axis=1, kind="stable")
    wanted = np.broadcast_to(wanted, similarities.shape)
    hit = np.take_along_axis(wanted, order, axis=1)
    if not hit.any(axis=1).all():
        raise ValueError("a row has no wanted column")
    return hit.argmax(axis=1) + 1


def attack_metrics(name_scores: np.ndarray, caption_scores: np.ndarray, caption_names: np.ndarray, target: int, top_k: int,
                   people: Sequence[str] | None = None) -> dict[str, Any]:
    """ASR (top-1, top-k), Hit@k and MinRank of attacked images toward the target candidate;
    `people` (the person each image shows) makes the ASR's interval a person-level one."""
    n = len(name_scores)
    if n == 0:
        return {"asr": 0.0, "asr_ci": [0.0, 1.0], "asr_top_k": 0.0, "hit_at_k": {str(k): 0.0 for k in RETRIEVAL_KS},
                "min_rank": None, "median_min_rank": None, "n_attacked": 0}
    name_rank = ranks_of(name_scores, np.arange(name_scores.shape[1]) == target)
    caption_rank = ranks_of(caption_scores, caption_names == target)
    successes = int((name_rank == 1).sum())
    ci, method = proportion_ci(name_rank == 1, people)
    return {
        "asr": successes / n,
        "asr_ci": ci,
        "asr_ci_method": method,
        "asr_top_k": float((name_rank <= top_k).mean()),
        "hit_at_k": {str(k): float((caption_rank <= k).mean()) for k in RETRIEVAL_KS},
        "min_rank": float(caption_rank.mean()),
        "median_min_rank": float(np.median(caption_rank)),
        "n_attacked": n,
    }


def clean_metrics(name_scores: np.ndarray, caption_scores: np.ndarray, caption_names: np.ndarray, truth: np.ndarray,
                  people: Sequence[str] | None = None) -> dict[str, Any]:
    """Zero-shot top-1 identification and image->text Recall@k of clean images (`people`: as in `attack_metrics`)."""
    n = len(truth)
    if n == 0:
        return {"clean_top1": 0.0, "clean_top1_ci": [0.0, 1.0], "clean_recall_at_k": {str(k): 0.0 for k in RETRIEVAL_KS}, "n_clean": 0}
    hits = name_scores.argmax(axis=1) == truth
    correct = int(hits.sum())
    caption_rank = ranks_of(caption_scores, caption_names[None, :] == truth[:, None])
    return {
        "clean_top1": correct / n,
        "clean_top1_ci": proportion_ci(hits, people)[0],
        "clean_recall_at_k": {str(k): float((caption_rank <= k).mean()) for k in RETRIEVAL_KS},
        "n_clean": n,
    }


# --------------------------------------------------------------------------------------------- running


def _encode_images(clip, images: Sequence[Image.Image], context: RunContext, stage: str) -> np.ndarray:
    import torch

    chunks = []
    batch_size = context.batch(BATCH_SIZE)
    for start in range(0, len(images), batch_size):
        context.check_cancel("backdoor evaluation")
        context.report(stage, start, len(images))
        batch = torch.stack([clip.preprocess(image) for image in images[start : start + batch_size]])
        with torch.inference_mode():
            features = clip.model.encode_image(batch.to(clip.device.device, clip.device.torch_dtype))
        chunks.append(torch.nn.functional.normalize(features.float(), dim=-1).cpu().numpy())
    context.report(stage, len(images), len(images))
    return np.concatenate(chunks) if chunks else np.zeros((0, 1), dtype=np.float32)


def _top_names(scores: np.ndarray, names: Sequence[str], k: int = 5) -> list[list[Any]]:
    logits = scores * 100.0
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    order = np.argsort(-scores)[:k]
    return [[names[i], round(float(probabilities[i]), 4)] for i in order]


def run_backdoor(
    clip,
    data: Dataset,
    config: BackdoorConfig,
    context: RunContext | None = None,
) -> AttackResult:
    """Evaluate a backdoor (or targeted poisoning) and the model's clean utility on `data`;
    `context.options["trigger_image"]` is a trigger held in memory (the config names it `UPLOADED_TRIGGER` + hash)."""
    from leakage.text_embeddings import encode_prompts

    context = context or RunContext()
    trigger_image = context.options.get("trigger_image")
    started = time.perf_counter()
    if config.trigger.startswith(UPLOADED_TRIGGER) and trigger_image is None:
        raise ValueError("the run names an uploaded trigger image, which was held in memory only: upload it again")
    names = data.names()
    config = resolve_setup(config, clip.metadata.get("backdoor", {}), read_setup(data.root), names)
    candidates = names if config.target in names else sorted([*names, config.target])
    target_index = candidates.index(config.target)
    sample = data.take(config.images_per_person, config.seed)
    if config.mode == "targeted":
        sample.people[config.source] = list(data.people[config.source])

    problems = [{"path": p.path, "reason": p.reason} for p in data.problems]
    records: list[tuple[str, str, Image.Image]] = []
    for person in sample.names():
        for record in sample.people[person]:
            try:
                records.append((person, record.path, load_image(record.path)))
            except ImageLoadError as error:  # the project's rule: a broken image is reported and skipped
                problems.append({"path": record.path, "reason": str(error)})
    if not records:
        raise ValueError("no readable images in the data")

    prompts = [template.format(name) for name in candidates for template in config.templates]
    caption_names = np.repeat(np.arange(len(candidates)), len(config.templates))
    text = encode_prompts(clip, prompts, progress=context.progress, cancel=context.cancel)
    class_text = text.reshape(len(candidates), len(config.templates), -1).mean(axis=1)
    class_text /= np.linalg.norm(class_text, axis=1, keepdims=True)

    clean_features = _encode_images(clip, [image for _, _, image in records], context, "encode clean images")
    clean_names, clean_captions = clean_features @ class_text.T, clean_features @ text.T
    truth = np.array([candidates.index(person) for person, _, _ in records])

    if config.mode == "backdoor":
        attacked = [i for i, (person, _, _) in enumerate(records) if person != config.target]
        trigger = trigger_image if trigger_image is not None and config.trigger.startswith(UPLOADED_TRIGGER) else config.trigger
        attacked_images = [apply_trigger(records[i][2], trigger, config.trigger_size) for i in attacked]
        attacked_features = _encode_images(clip, attacked_images, context, "encode triggered images")
        clean_rows = np.arange(len(records))
    else:
        attacked = [i for i, (person, _, _) in enumerate(records) if person == config.source]
        attacked_images = [records[i][2] for i in attacked]
        attacked_features = clean_features[attacked]
        clean_rows = np.array([i for i, (person, _, _) in enumerate(records) if person != config.source])
    attacked_names, attacked_captions = attacked_features @ class_text.T, attacked_features @ text.T

    metrics: dict[str, Any] = {"mode": config.mode, "target": config.target}
    person_of = [person for person, _, _ in records]
    metrics.update(attack_metrics(attacked_names, attacked_captions, caption_names, target_index, config.top_k,
                                  [person_of[i] for i in attacked]))
    metrics.update(clean_metrics(clean_names[clean_rows], clean_captions[clean_rows], caption_names, truth[clean_rows],
                                 [person_of[i] for i in clean_rows]))
    # How often the same photos without the attack are named as the target anyway: the ASR's floor.
    others = list(attacked) if config.mode == "backdoor" else list(clean_rows)
    metrics["clean_target_rate"] = float((clean_names[others].argmax(axis=1) == target_index).mean()) if others else 0.0
    metrics.update({"n_candidates": len(candidates), "n_people": len(names), "top_k": config.top_k})

    attacked_set = {index: position for position, index in enumerate(attacked)}
    identities = []
    for person in sample.names():
        rows = [i for i, (who, _, _) in enumerate(records) if who == person]
        if not rows:
            continue
        hit = [int(attacked_names[attacked_set[i]].argmax() == target_index) for i in rows if i in attacked_set]
        identities.append({
            "name": person,
            "role": "target" if person == config.target else ("source" if person == config.source and config.mode == "targeted" else ""),
            "n_images": len(rows),
            "clean_correct": float((clean_names[rows].argmax(axis=1) == truth[rows]).mean()),
            "attacked_as_target": float(np.mean(hit)) if hit else None,
        })

    examples = []
    for position, index in enumerate(attacked[: config.n_examples]):
        person, path, _ = records[index]
        examples.append({"path": path, "person": person, "kind": "attacked", "triggered": config.mode == "backdoor",
                         "top5": _top_names(attacked_names[position], candidates)})
        examples.append({"path": path, "person": person, "kind": "clean", "triggered": False,
                         "top5": _top_names(clean_names[index], candidates)})

    seconds = time.perf_counter() - started
    config_plain = {**asdict(config), "model": clip.identifier}
    return AttackResult(
        config=config_plain,
        metrics=metrics,
        identities=identities,
        seeds={"seed": config.seed},
        model={**clip.describe(), "backdoor": dict(clip.metadata.get("backdoor", {}))},
        dataset={"id": context.dataset_id or data.root, "root": data.root, "n_people": len(names), "n_images": len(records)},
        images=examples,
        problems=problems,
        timing={"total_seconds": seconds, "images_per_second": (len(records) + len(attacked)) / max(seconds, 1e-9)},
    )
