"""Identity Inference Attack (IDIA) on CLIP, as published in "Does CLIP Know My Face?"
(Hintersdorf et al., JAIR 2024): was person P in the model's training data?

Protocol (background.md §1): candidates are the people under test plus made-up distractor
names up to 1,000, shuffled; each image is classified zero-shot (top-1 over the candidates)
under each of 21 prompt templates; per template, the name predicted most often over the
person's images wins (a tie skips the template); the person is predicted a member when at
least `tau` templates name them correctly. For ROC curves we add a continuous score: the
count of correct templates, with ties between equal counts broken by the mean probability the
model gives the true name.

As in the paper, every person is scored on exactly k images: people with fewer than k usable
images are left out and listed with the reason (`IDIAConfig.keep_short` keeps them, scored on
what they have and flagged). Only the images a run needs are encoded: k per person, in a
seeded order per person (an unreadable image is replaced by the next one), or all of them when
repeated draws are asked for.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from leakage.data import Dataset, ImageTensorDataset, collate_skip_failures
from leakage.embedding_cache import EmbeddingCache, file_key
from leakage.metrics import mean_std, membership_summary, metrics_at_threshold
from leakage.models import LoadedClip
from leakage.names import sample_distractors, sample_from_names
from leakage.provenance import data_home
from leakage.results import AttackResult
from leakage.text_embeddings import prompt_embeddings
from leakage.context import RunContext
from leakage.idia_config import DEFAULT_TEMPLATES, IDIAConfig  # noqa: F401  (the engine's settings, where callers import them)

TIE_BREAK_WEIGHT = 0.99
"""The mean true-name probability is scaled below 1 so it orders people within a count, never across counts."""


BATCH_SIZE = 64
NUM_WORKERS = 2
"""The IDIA's runtime defaults (`RunContext.batch_size` and `num_workers` override them)."""


def runtime_record(context: RunContext) -> dict[str, Any]:
    """The runtime options a run used, as its result records them (`details.runtime`)."""
    return {"batch_size": context.batch(BATCH_SIZE), "num_workers": context.workers(NUM_WORKERS),
            "use_text_cache": context.use_text_cache, "use_image_cache": context.use_image_cache}


@dataclass(frozen=True)
class AttackImage:
    person: str
    source: str | bytes | Image.Image
    label: str


@dataclass
class PersonUpload:
    """Photos of one person held in memory (the "check one person" question); never written to disk."""

    name: str
    images: list[tuple[str, Image.Image]] = field(default_factory=list)


def collect_images(data: Dataset | Sequence[PersonUpload], config: IDIAConfig) -> tuple[list[AttackImage], dict[str, list[int]], list[dict]]:
    """Every listed image of every person, the indices of each person's images, and the dataset's problems."""
    images: list[AttackImage] = []
    problems: list[dict] = []
    if isinstance(data, Dataset):
        for person in data.names():
            for record in data.people[person]:
                images.append(AttackImage(person, record.path, record.path))
        problems = [{"path": p.path, "reason": p.reason} for p in data.problems]
    else:
        for upload in data:
            for label, image in upload.images:
                images.append(AttackImage(upload.name, image, label))
    by_person: dict[str, list[int]] = {}
    for index, image in enumerate(images):
        by_person.setdefault(image.person, []).append(index)
    return images, by_person, problems


def draw_images(by_person: Mapping[str, list[int]], k: int, seed: int) -> dict[str, list[int]]:
    """k image indices per person without replacement (all of them when a person has fewer)."""
    rng = random.Random(seed)
    return {person: sorted(rng.sample(indices, min(k, len(indices)))) for person, indices in by_person.items()}


def image_order(indices: Sequence[int], person: str, seed: int) -> list[int]:
    """The order in which a person's images are tried for the main draw: a seeded shuffle per
    person, so it does not depend on who else is in the dataset. The draw is its first k usable
    images, whether all images were encoded or only the ones needed."""
    order = list(indices)
    random.Random(f"idia-draw/{seed}/{person}").shuffle(order)
    return order


def candidate_names(people: Sequence[str], n_candidates: int, seed: int, pool: Sequence[str] = ()) -> list[str]:
    """The people under test plus distractors up to n_candidates, shuffled with the seed.

    Distractors come from `pool` when given (a user's names file), else from the built-in pool.
    """
    n_distractors = max(0, n_candidates - len(people))
    if pool:
        try:
            distractors = sample_from_names(pool, n_distractors, seed, exclude=people)
        except ValueError as error:
            raise ValueError(f"{error}: {n_candidates} candidate names with {len(people)} people under test; "
                             f"add names to the list or ask for fewer candidates") from None
    else:
        distractors = sample_distractors(n_distractors, seed, exclude=people)
    names = list(people) + distractors
    random.Random(seed).shuffle(names)
    return names


def image_embedding_cache(clip: LoadedClip) -> EmbeddingCache:
    """The model's image embeddings on disk, per weights, preprocessing and precision (all change the numbers)."""
    setting = hashlib.sha256(f"{clip.preprocess!r}|{clip.device.torch_dtype}".encode()).hexdigest()[:12]
    return EmbeddingCache(data_home() / "image_cache" / f"{clip.fingerprint}-{setting}")


@torch.inference_mode()
def embed_images(
    clip: LoadedClip,
    images: Sequence[AttackImage],
    context: RunContext | None = None,
    require_one: bool = True,
) -> tuple[np.ndarray, dict[int, str], dict[str, int]]:
    """L2-normalised image embeddings (rows of failed images stay NaN), the failures by index, and
    how many images came from the cache. When no image loads: ValueError, or with
    ``require_one=False`` an array with no columns (every image is then in the failures).

    With ``context.use_image_cache``, image files already encoded by this model (same path, size
    and modification time) are read back from disk instead, so a rerun with other names,
    templates or k encodes nothing again.
    """
    context = context or RunContext()
    cache = image_embedding_cache(clip) if context.use_image_cache else None
    keys = [file_key(image.source) for image in images] if cache else [None] * len(images)
    found, cached = cache.get(keys) if cache else (np.zeros(len(images), dtype=bool), None)
    todo = np.flatnonzero(~found)
    if found.any():
        context.report("encode images", int(found.sum()), len(images))
    encoded, failed = _encode_images(clip, [images[i] for i in todo], context, done=int(found.sum()), total=len(images))
    failures = {int(todo[i]): reason for i, reason in failed.items()}
    if cached is None and encoded is None:
        if not require_one:
            return np.empty((len(images), 0), dtype=np.float32), failures, {"images": len(images), "from_cache": 0, "encoded": len(todo)}
        raise ValueError("no image could be read: " + "; ".join(f"{images[i].label}: {r}" for i, r in list(failures.items())[:5]))
    features = np.full((len(images), (cached if cached is not None else encoded).shape[1]), np.nan, dtype=np.float32)
    if cached is not None:
        features[found] = cached
    if encoded is not None:
        if cache:
            fresh = [row for row in range(len(todo)) if row not in failed and keys[todo[row]] is not None]
            encoded[fresh] = cache.add([keys[todo[row]] for row in fresh], encoded[fresh])
        features[todo] = encoded
    return features, failures, {"images": len(images), "from_cache": int(found.sum()), "encoded": len(todo)}


def _encode_images(
    clip: LoadedClip,
    images: Sequence[AttackImage],
    context: RunContext,
    done: int,
    total: int,
) -> tuple[np.ndarray | None, dict[int, str]]:
    """Decode, preprocess and encode: (embeddings, NaN rows for failures; None when none loaded) and failures."""
    if not images:
        return None, {}
    in_memory = any(isinstance(image.source, Image.Image) for image in images)
    dataset = ImageTensorDataset([image.source for image in images], clip.preprocess)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=context.batch(BATCH_SIZE),
        num_workers=0 if in_memory else context.workers(NUM_WORKERS),
        collate_fn=collate_skip_failures,
        pin_memory=clip.device.device.startswith("cuda"),
    )
    features: np.ndarray | None = None
    failures: dict[int, str] = {}
    batches = loader if loader.num_workers else _fetched_single_threaded(loader)
    for indices, batch, failed in batches:
        context.check_cancel("IDIA run")
        failures.update(dict(failed))
        if len(indices):
            encoded = clip.model.encode_image(batch.to(clip.device.device, clip.device.torch_dtype, non_blocking=True))
            encoded = torch.nn.functional.normalize(encoded.float(), dim=-1).cpu().numpy()
            if features is None:
                features = np.full((len(images), encoded.shape[1]), np.nan, dtype=np.float32)
            features[indices.numpy()] = encoded
        done += len(indices) + len(failed)
        context.report("encode images", done, total)
    return features, failures


def _fetched_single_threaded(loader: torch.utils.data.DataLoader) -> Iterator:
    """Batches of a worker-less DataLoader, decoded and preprocessed with one intra-op thread.

    A DataLoader worker runs its transforms single-threaded; without workers they run in this
    process with every torch thread, and parallel regions over one small image cost more than
    they save (a 224-pixel ToTensor + Normalize took 20-90 ms instead of 1-4 ms on a busy
    2-core CPU). The encoder gets all threads back for each batch. Values are unchanged.
    """
    threads = torch.get_num_threads()
    iterator = iter(loader)
    while True:
        torch.set_num_threads(1)
        try:
            batch = next(iterator)
        except StopIteration:
            return
        finally:
            torch.set_num_threads(threads)
        yield batch


def score_images(
    image_features: np.ndarray,
    text_features: np.ndarray,
    true_candidate: np.ndarray,
    logit_scale: float,
    top_k: int,
    chunk: int = 256,
) -> dict[str, np.ndarray]:
    """Zero-shot predictions of every image under every template, computed in batched matrix products.

    Returns top1 (templates × images, candidate index), true_prob (templates × images), and
    topk_index / topk_prob (images × k) from the probabilities averaged over templates.
    """
    text = torch.from_numpy(text_features)  # (T, C, D)
    n_templates, n_images = text.shape[0], image_features.shape[0]
    top1 = np.empty((n_templates, n_images), dtype=np.int64)
    true_prob = np.empty((n_templates, n_images), dtype=np.float32)
    k = min(top_k, text.shape[1])
    topk_index = np.empty((n_images, k), dtype=np.int64)
    topk_prob = np.empty((n_images, k), dtype=np.float32)
    truth = torch.from_numpy(true_candidate)
    for start in range(0, n_images, chunk):
        stop = min(start + chunk, n_images)
        features = torch.from_numpy(image_features[start:stop])  # (n, D)
        probs = torch.matmul(features, text.transpose(1, 2))  # (T, n, C) cosine similarities
        top1[:, start:stop] = probs.argmax(dim=-1).numpy()
        # softmax(logit_scale * similarity), in place: this buffer is the largest of the run
        probs.sub_(probs.amax(dim=-1, keepdim=True)).mul_(logit_scale).exp_()
        probs.div_(probs.sum(dim=-1, keepdim=True))
        true_prob[:, start:stop] = probs.gather(2, truth[start:stop].view(1, -1, 1).expand(n_templates, -1, 1)).squeeze(2).numpy()
        values, indices = probs.mean(dim=0).topk(k, dim=-1)
        topk_index[start:stop], topk_prob[start:stop] = indices.numpy(), values.numpy()
    return {"top1": top1, "true_prob": true_prob, "topk_index": topk_index, "topk_prob": topk_prob}


def vote(top1: np.ndarray, true_index: int) -> tuple[int, int]:
    """Majority vote per template over one person's images: (templates correct, templates tied).

    top1 is templates × images of candidate indices. A template whose most frequent name is
    shared by two or more names is skipped (counted as tied, never as correct). Counts are taken
    among the k predictions themselves (templates × k × k), not over all candidates: the paper's
    repeated draws call this thousands of times.
    """
    counts = (top1[:, :, None] == top1[:, None, :]).sum(axis=2)  # how often each image's prediction occurs
    best = counts.max(axis=1, keepdims=True)
    at_best = counts == best
    tied = at_best.sum(axis=1) > best[:, 0]  # more images at the top count than one name accounts for
    winner = np.take_along_axis(top1, at_best.argmax(axis=1)[:, None], axis=1)[:, 0]
    correct = (~tied) & (winner == true_index)
    return int(correct.sum()), int(tied.sum())


def person_scores(
    selection: Mapping[str, list[int]],
    predictions: Mapping[str, np.ndarray],
    candidate_index: Mapping[str, int],
) -> dict[str, dict[str, float]]:
    scores = {}
    for person, indices in selection.items():
        if not indices:
            continue
        correct, tied = vote(predictions["top1"][:, indices], candidate_index[person])
        mean_true_prob = float(predictions["true_prob"][:, indices].mean())
        scores[person] = {
            "correct_prompts": correct,
            "tied_prompts": tied,
            "mean_true_prob": mean_true_prob,
            "score": correct + TIE_BREAK_WEIGHT * mean_true_prob,
            "n_images": len(indices),
        }
    return scores


@dataclass
class Selection:
    """Which images a run encoded and uses: the outcome of `select_and_encode`."""

    features: dict[int, np.ndarray]
    """Embedding of every image encoded (by image index)."""
    failures: dict[int, str]
    """Images that could not be read, with the reason."""
    usable: dict[str, list[int]]
    """Per person, the usable images known, in the person's draw order (all of them when every image was encoded)."""
    stats: dict[str, int]
    untried: set[str] = field(default_factory=set)
    """People none of whose images were read: fewer than k in the folder, and not kept."""


def select_and_encode(
    clip: LoadedClip,
    images: Sequence[AttackImage],
    by_person: Mapping[str, list[int]],
    config: IDIAConfig,
    keep_short: bool,
    encode_all: bool,
    context: RunContext | None = None,
    precomputed: tuple[np.ndarray, Mapping[int, str]] | None = None,
) -> Selection:
    """Encode the images the run needs: every image when `encode_all` (repeated draws pick from
    all of them), else the first k of each person's draw order, replacing unreadable ones with
    the next in order until k are usable or the person has no more. People with fewer than k
    images in their folder are not encoded at all unless `keep_short`. With `precomputed`
    (embeddings of every image in `images` order, failures by index; e.g. encoded on a cluster),
    the same images are chosen and read from it instead of encoded.
    """
    k = config.images_per_person
    orders = {person: image_order(indices, person, config.seed) for person, indices in by_person.items()}
    features: dict[int, np.ndarray] = {}
    failures: dict[int, str] = {}
    stats = {"images": 0, "from_cache": 0, "encoded": 0}
    usable: dict[str, list[int]] = {person: [] for person in by_person}
    cursor = {person: 0 for person in by_person}

    def encode(indices: list[int]) -> None:
        if precomputed is not None:
            encoded, failed = precomputed[0][indices], {row: precomputed[1][index] for row, index in enumerate(indices)
                                                          if index in precomputed[1]}
            counts = {"images": len(indices), "from_cache": 0, "encoded": 0}
        else:
            encoded, failed, counts = embed_images(clip, [images[i] for i in indices], context, require_one=False)
        for row, index in enumerate(indices):
            if row in failed:
                failures[index] = failed[row]
            else:
                features[index] = encoded[row]
        for key in stats:
            stats[key] += counts[key]

    if encode_all:
        encode(sorted(index for indices in by_person.values() for index in indices))
        for person, order in orders.items():
            usable[person] = [index for index in order if index not in failures]
    else:
        pending = [person for person in sorted(by_person) if keep_short or len(by_person[person]) >= k]
        while pending:
            wanted = []
            for person in pending:
                take = orders[person][cursor[person] : cursor[person] + k - len(usable[person])]
                cursor[person] += len(take)
                wanted += take
            if not wanted:
                break
            encode(sorted(wanted))
            for person in pending:
                usable[person] = [index for index in orders[person][: cursor[person]] if index not in failures]
            pending = [p for p in pending if len(usable[p]) < k and cursor[p] < len(orders[p])]
    if not features:
        shown = "; ".join(f"{images[i].label}: {reason}" for i, reason in list(failures.items())[:5])
        raise ValueError("no image could be read" + (f": {shown}" if shown else ""))
    untried = set() if encode_all else {person for person in by_person if cursor[person] == 0 and by_person[person]}
    if precomputed is not None:
        stats["precomputed"] = len(precomputed[0])
    return Selection(features, failures, usable, {**stats, "listed": len(images)}, untried)


def exclusion_reason(n_listed: int, n_usable: int | None, k: int) -> str:
    """Why a person has fewer than k usable images; n_usable is None when their images were not
    read (too few in the folder anyway)."""
    if n_usable is None or n_usable == n_listed:
        return f"{n_listed} image{'s' * (n_listed != 1)} in the folder, fewer than k = {k}"
    if n_usable == 0:
        return f"no usable image ({n_listed} in the folder, none readable)"
    return f"{n_usable} usable of {n_listed} images ({n_listed - n_usable} unreadable), fewer than k = {k}"


def _has_both_classes(members: Mapping[str, bool] | None, people: Sequence[str]) -> bool:
    return members is not None and any(members.get(p) for p in people) and any(members.get(p) is False for p in people)


def run_idia(
    clip: LoadedClip,
    data: Dataset | Sequence[PersonUpload],
    config: IDIAConfig = IDIAConfig(),
    context: RunContext | None = None,
    *,
    members: Mapping[str, bool] | None = None,
    occurrences: Mapping[str, int] | None = None,
    image_features: tuple[np.ndarray, Mapping[int, str]] | None = None,
) -> AttackResult:
    """Run the IDIA on every person in `data` and return a plain-data result.

    `image_features` (embeddings in `collect_images` order, failures by index) replaces encoding
    the images here: a batch audit shards that step across Ray workers (`leakage.audit.sharding`).

    Ground truth comes from `members` or, for a dataset folder, its members.csv; metrics that
    need it (ROC, AUC, TPR at low FPR) are computed only when both members and non-members exist.

    People with fewer than k usable images are left out (``details["excluded"]``, with the
    reason) unless ``config.keep_short``; photos checked from memory (`PersonUpload`, the "check
    one person" question) are always kept, flagged, since leaving out the one person asked
    about would answer nothing.
    """
    context = context or RunContext()
    progress, dataset_id = context.progress, context.dataset_id
    timing: dict[str, float] = {}
    started = time.perf_counter()
    uploads = not isinstance(data, Dataset)
    if not uploads:
        members = members if members is not None else data.members
        occurrences = occurrences if occurrences is not None else data.occurrences
        dataset_id = dataset_id or data.root
    images, by_person, problems = collect_images(data, config)
    if not images:
        raise ValueError("no images to attack")
    k = config.images_per_person
    keep_short = config.keep_short or uploads
    n_people_listed = len(by_person)
    floor_left_out = []  # fewer images than min_images: the same people are left out at every k
    if config.min_images is not None and not keep_short:
        for person in sorted(by_person):
            if len(by_person[person]) < config.min_images:
                entry = {"name": person, "n_listed": len(by_person[person]), "n_usable": None,
                         "reason": f"{len(by_person[person])} images in the folder, fewer than min_images = {config.min_images}"}
                if members is not None and person in members:
                    entry["member"] = bool(members[person])
                floor_left_out.append(entry)
        by_person = {person: indices for person, indices in by_person.items()
                     if person not in {entry["name"] for entry in floor_left_out}}
    encode_all = config.n_draws > 0 and _has_both_classes(members, sorted(by_person))
    if config.distractor_names:  # a names list too short fails now, not after every image is encoded
        candidate_names(sorted(by_person), config.n_candidates, config.seed, config.distractor_names)

    tick = time.perf_counter()
    chosen = select_and_encode(clip, images, by_person, config, keep_short, encode_all, context, precomputed=image_features)
    timing["image_seconds"] = time.perf_counter() - tick
    failures = chosen.failures
    problems += [{"path": images[i].label, "reason": reason} for i, reason in sorted(failures.items())]

    excluded, short = list(floor_left_out), []
    for person in sorted(by_person):
        n_usable = len(chosen.usable[person])
        if n_usable >= k:
            continue
        read = person not in chosen.untried
        entry = {"name": person, "n_listed": len(by_person[person]), "n_usable": n_usable if read else None,
                 "reason": exclusion_reason(len(by_person[person]), n_usable if read else None, k)}
        if members is not None and person in members:
            entry["member"] = bool(members[person])
        (short if keep_short and n_usable else excluded).append(entry)
    left_out = {entry["name"] for entry in excluded}
    people = [person for person in sorted(by_person) if person not in left_out]
    if not people:
        raise ValueError(f"no person has {max(k, config.min_images or 0)} usable images (k = images per person, min_images); "
                         "lower them or keep people with fewer: "
                         + "; ".join(f"{e['name']}: {e['reason']}" for e in excluded[:5]))
    candidates = candidate_names(people, config.n_candidates, config.seed, config.distractor_names)
    candidate_index = {name: index for index, name in enumerate(candidates)}

    tick = time.perf_counter()
    if progress:
        progress("encode prompts", 0, len(config.templates) * len(candidates))
    text_features, text_stats = prompt_embeddings(
        clip, config.templates, candidates, use_cache=context.use_text_cache, progress=progress, cancel=context.cancel,
        private=people if uploads else (),  # a name checked from memory never goes to the on-disk cache
    )
    timing["text_seconds"] = time.perf_counter() - tick
    if progress:
        progress("encode prompts", text_stats["prompts"], text_stats["prompts"])

    tick = time.perf_counter()
    # Predictions are computed for the encoded images of the people scored; `column` maps an
    # image index to its column in them.
    scored_images = sorted(i for person in people for i in by_person[person] if i in chosen.features)
    column = {index: position for position, index in enumerate(scored_images)}
    logit_scale = float(clip.model.logit_scale.detach().exp()) if hasattr(clip.model, "logit_scale") else 100.0
    true_candidate = np.array([candidate_index[images[i].person] for i in scored_images])
    predictions = score_images(np.stack([chosen.features[i] for i in scored_images]), text_features, true_candidate,
                               logit_scale, config.top_k)

    usable = {person: [column[i] for i in chosen.usable[person]] for person in people}
    selection = {person: sorted(indices[:k]) for person, indices in usable.items()}
    scores = person_scores(selection, predictions, candidate_index)
    has_truth = _has_both_classes(members, list(scores))
    flagged = {entry["name"] for entry in short}
    identities = []
    for person in people:
        row = {"name": person, **scores[person], "predicted_member": scores[person]["correct_prompts"] >= config.tau,
               "too_few_images": person in flagged}
        if members is not None and person in members:
            row["member"] = bool(members[person])
        if occurrences is not None and person in occurrences:
            row["occurrences"] = int(occurrences[person])
        identities.append(row)

    metrics: dict[str, Any] = {
        "n_identities": len(identities),
        "n_images": sum(len(indices) for indices in selection.values()),
        "n_candidates": len(candidates),
        "n_predicted_members": sum(row["predicted_member"] for row in identities),
        "n_excluded": len(excluded),
        "n_too_few_images": len(short),
    }
    if has_truth:
        scored = [row for row in identities if "member" in row]
        labels = np.array([row["member"] for row in scored], dtype=int)
        values = np.array([row["score"] for row in scored])
        metrics.update(membership_summary(labels, values, threshold=float(config.tau)))
        if config.n_draws > 0:
            metrics["draws"] = repeated_draws(usable, predictions, candidate_index, scored, config)
    timing["scoring_seconds"] = time.perf_counter() - tick
    timing["total_seconds"] = time.perf_counter() - started
    timing["images_per_second"] = chosen.stats["images"] / max(timing["image_seconds"], 1e-9)

    in_draw = {i for indices in selection.values() for i in indices}
    image_rows = [
        {
            "person": images[i].person,
            "path": images[i].label,
            "top": [
                {"name": candidates[c], "prob": float(p)}
                for c, p in zip(predictions["topk_index"][position], predictions["topk_prob"][position])
            ],
            "correct_prompts": int((predictions["top1"][:, position] == true_candidate[position]).sum()),
            "true_prob": float(predictions["true_prob"][:, position].mean()),
            "in_draw": position in in_draw,
        }
        for position, i in enumerate(scored_images)
    ]
    return AttackResult(
        config={**asdict(config), "model": clip.identifier, "model_fingerprint": clip.fingerprint, "data": dataset_id},
        metrics=metrics,
        identities=identities,
        seeds={"draw": config.seed, "distractors": config.seed, "candidate_order": config.seed},
        model=clip.describe(),
        dataset={"id": dataset_id, "n_people": n_people_listed, "n_images_listed": len(images),
                 "n_images_available": len(images) - len(failures)},
        images=image_rows,
        problems=problems,
        timing={key: round(value, 4) for key, value in timing.items()},
        details={
            "text_cache": text_stats,
            "image_cache": chosen.stats,
            "runtime": runtime_record(context),
            "per_template_accuracy": per_template_accuracy(predictions["top1"], true_candidate, {}),
            "excluded": excluded,
            "too_few_images": short,
            "distractors": "names list given with the run" if config.distractor_names else "built-in pool (leakage.names)",
        },
    )


def per_template_accuracy(top1: np.ndarray, true_candidate: np.ndarray, failures: Mapping[int, str]) -> list[float]:
    ok = np.ones(top1.shape[1], dtype=bool)
    ok[list(failures)] = False
    return [float(v) for v in (top1[:, ok] == true_candidate[ok]).mean(axis=1)]


def repeated_draws(
    usable: Mapping[str, list[int]],
    predictions: Mapping[str, np.ndarray],
    candidate_index: Mapping[str, int],
    scored: Sequence[Mapping[str, Any]],
    config: IDIAConfig,
) -> dict[str, Any]:
    """The paper's protocol: n_draws random draws of k images per person, metrics as mean ± sample
    std (ddof = 1, as the paper's pandas code computes it)."""
    labels = np.array([row["member"] for row in scored], dtype=int)
    names = [row["name"] for row in scored]
    records = []
    for draw in range(config.n_draws):
        selection = draw_images({name: usable[name] for name in names}, config.images_per_person, config.seed + 1 + draw)
        scores = person_scores(selection, predictions, candidate_index)
        values = np.array([scores[name]["score"] for name in names])
        at_tau = metrics_at_threshold(labels, values, float(config.tau))
        records.append({key: at_tau[key] for key in ("tpr", "fnr", "fpr", "tnr", "accuracy", "precision")})
    return {"n": config.n_draws, "k": config.images_per_person, "ddof": 1, **mean_std(records, ddof=1)}


def retune(result: AttackResult, tau: int) -> dict[str, Any]:
    """Decision metrics at another tau from a stored result, without touching the model again."""
    rows = [row for row in result.identities if "member" in row]
    labels = np.array([row["member"] for row in rows], dtype=int)
    counts = np.array([row["correct_prompts"] for row in rows], dtype=float)
    return metrics_at_threshold(labels, counts, float(tau))


# --------------------------------------------------------------------------- "check one person": its error rate


def checked_images(result: AttackResult) -> int:
    """How many photos the one person checked was scored on: the k the reference must be measured at."""
    (row,) = result.identities
    return int(row["n_images"])


def reference_config(config: IDIAConfig, k: int) -> IDIAConfig:
    """The settings of the reference run for a check scored on k photos: the same prompts, candidates
    and tau, every reference person scored on k photos too (the majority vote's false-positive rate
    depends strongly on k), no repeated draws. A reference person with fewer than k photos is scored on
    what they have (`reference_summary` says which k were measured)."""
    return replace(config, images_per_person=k, n_draws=0, keep_short=True, min_images=None)


def reference_summary(reference: AttackResult, k: int) -> dict[str, Any]:
    """What a verdict needs from the reference run: the non-members' correct-prompt counts and the k
    they were measured at (the checked k, or fewer where the reference people have fewer photos)."""
    nonmembers = [row for row in reference.identities if row.get("member") is False]
    return {
        "data": reference.dataset.get("id"),
        "k": k,
        "measured_k": sorted({int(row["n_images"]) for row in nonmembers}),
        "nonmember_correct_prompts": [row["correct_prompts"] for row in nonmembers],
        "n_candidates": reference.metrics["n_candidates"],
        "n_people": reference.metrics["n_identities"],
    }


def reference_false_positive_rate(reference: Mapping[str, Any], correct_prompts: int) -> dict[str, Any]:
    """Share of the reference non-members named in at least as many prompts as the checked person (at least
    one): the false-positive rate of calling the person a member on this evidence, at the reference's k."""
    counts = list(reference["nonmember_correct_prompts"])
    at_least = max(int(correct_prompts), 1)
    false_alarms = sum(count >= at_least for count in counts)
    return {"at_least": at_least, "false_alarms": false_alarms, "n": len(counts),
            "fpr": false_alarms / len(counts) if counts else None,
            "k": reference.get("k"), "measured_k": reference.get("measured_k")}
