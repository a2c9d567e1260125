"""Membership inference against masked image modeling (Li et al., arXiv 2408.06825; background.md §3).

The attack replays the pre-training task: hide a random ratio r of an image's patches, let the
masked autoencoder fill them in, and measure the reconstruction error exactly as the model's own
loss does (mean squared error over the masked patches only, on per-patch normalised pixels when
`config.norm_pix_loss` is set). Each image is scored under R random masks and the errors are
averaged; images seen in pre-training reconstruct better, so the score is the negated error
(higher = more likely a member, the convention of `leakage.metrics`).

Three ways to decide, each named for what it is:

* plain: the score is the negated error; AUC and TPR at low FPR over all thresholds.
* shadow-model threshold (the paper's method, `shadow=`): the attacker trains a shadow model with
  the target's recipe on their own data, scores the shadow's own members and non-members, and
  picks the error threshold that separates them best (`leakage.metrics.best_threshold`); that
  threshold is applied to the target, giving accuracy, TPR and FPR at one operating point
  beside the AUC.
* per-example calibration (`reference=`; not in the paper): a reference model trained without the
  target images gives each image's "difficulty", and the score is ``reference error - target
  error``, as in Watson et al.'s difficulty calibration (ICLR 2022) and the offset variant of
  LiRA (Carlini et al. 2022). An image that only the target reconstructs well stands out even
  when it is easy for every model.

Masks are reproducible: mask m of an image is a pure function of (seed, the image's path relative
to the dataset root, m), so it does not depend on batch size, on which other images are scored or
fail to load, or on which model is scored; target and reference model see the same masks.

The unit of this attack is an image. Results put one row per image in ``identities`` (``name`` is
the image path relative to the dataset root) so the run store, reports and exports work unchanged.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from leakage.data import Dataset, ImageTensorDataset, collate_skip_failures, load_image
from leakage.devices import DeviceChoice, pick_device
from leakage.hub import HubUnavailableError, downloads_allowed
from leakage.metrics import best_threshold, membership_summary, repeated_clusters, roc_auc
from leakage.context import RunContext
from leakage.mim_config import MIMConfig  # noqa: F401  (the engine's settings, where callers import them)
from leakage.results import AttackResult


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""What `ViTImageProcessor` defaults to, and so what facebook/vit-mae-* were trained with."""




BATCH_SIZE = 16
"""Images per forward pass (`RunContext.batch_size` overrides it); the model sees batch_size x n_masks masked copies at once."""
NUM_WORKERS = 2


# --------------------------------------------------------------------------- models


@dataclass
class LoadedMAE:
    """A masked autoencoder with a pixel-reconstruction head, its preprocessing and where it runs.

    `model` is a transformers `ViTMAEForPreTraining` or anything with the same interface:
    ``forward(pixel_values=, noise=)`` returning ``logits`` and ``mask``, ``patchify`` and a config
    with ``mask_ratio``, ``norm_pix_loss``, ``image_size``, ``patch_size``.
    """

    model: torch.nn.Module
    preprocess: Callable[[Image.Image], torch.Tensor]
    device: DeviceChoice
    name: str
    fingerprint: str
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    load_seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_patches(self) -> int:
        config = self.model.config
        return (config.image_size // config.patch_size) ** 2

    def describe(self) -> dict[str, Any]:
        config = self.model.config
        return {
            "model": self.name,
            "fingerprint": self.fingerprint,
            "architecture": type(self.model).__name__,
            "image_size": config.image_size,
            "patch_size": config.patch_size,
            "norm_pix_loss": bool(config.norm_pix_loss),
            "trained_mask_ratio": float(config.mask_ratio),
            "device": self.device.device,
            "dtype": self.device.dtype,
            "device_description": self.device.description,
            "load_seconds": round(self.load_seconds, 3),
            **self.metadata,
        }


class ProcessorTransform:
    """PIL image -> (3, H, W) tensor through a transformers image processor (picklable for workers)."""

    def __init__(self, processor: Any):
        self.processor = processor

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]


def load_mae(source: str | os.PathLike, device: str | None = None, name: str | None = None) -> LoadedMAE:
    """A `ViTMAEForPreTraining` from a local folder (written by save_pretrained) or a hub id.

    Downloads are off unless allowed (see leakage.hub): a hub id that is not in the local cache
    raises HubUnavailableError at once, with how to use local weights instead. A folder without
    an image processor config gets the processor ViT-MAE was trained with (ImageNet mean/std at
    the model's image size); that fallback is recorded in the model's metadata.
    """
    from transformers import AutoConfig, AutoImageProcessor, ViTImageProcessor, ViTMAEForPreTraining

    from leakage import safe_load
    from leakage.models import model_fingerprint

    started = time.perf_counter()
    text = str(source)
    path = Path(text).expanduser()
    is_folder = path.is_dir()
    if path.exists() and not is_folder:
        raise NotADirectoryError(f"{path} is a file; pass the folder written by save_pretrained")
    # A hub id is "name" or "org/name"; anything else that is not a folder is a mistyped path.
    if not is_folder and (text.startswith((".", "/", "~")) or text.count("/") > 1 or os.sep != "/" and os.sep in text):
        raise FileNotFoundError(f"model folder not found: {path} (expected a folder written by save_pretrained)")
    if is_folder:
        path = safe_load.check_model_folder(path, text)  # no model code, nothing outside the folder or the roots
    else:
        safe_load.check_hub_model(text)
    safe_load.forbid_dynamic_modules()
    where = str(path) if is_folder else text
    local_only = is_folder or not downloads_allowed()
    try:
        config = AutoConfig.from_pretrained(where, local_files_only=local_only, **safe_load.NO_REMOTE_CODE)
        if config.model_type != "vit_mae":
            raise ValueError(f"{text} is a {config.model_type!r} model; the attack needs a ViT-MAE with its reconstruction decoder")
        model, loading = ViTMAEForPreTraining.from_pretrained(where, local_files_only=local_only, output_loading_info=True,
                                                              weights_only=True, **safe_load.NO_REMOTE_CODE)
    except OSError as error:
        if is_folder:
            raise FileNotFoundError(f"{path} does not hold a model saved with save_pretrained ({error})") from error
        raise HubUnavailableError(text, error) from error
    missing = [key for key in loading.get("missing_keys", ()) if "decoder" in key]
    if missing:
        # An encoder-only checkpoint would get a random decoder: its "reconstructions" would be noise.
        raise ValueError(f"{text} has no reconstruction decoder (missing {len(missing)} decoder weights, e.g. {sorted(missing)[0]}); "
                         "the attack needs a ViTMAEForPreTraining checkpoint such as facebook/vit-mae-base")
    fingerprint = model_fingerprint(model)  # before any cast to half precision, so it names the weights on every device
    metadata: dict[str, Any] = {}
    try:
        processor = AutoImageProcessor.from_pretrained(where, local_files_only=local_only, **safe_load.NO_REMOTE_CODE)
    except OSError:
        size = model.config.image_size
        processor = ViTImageProcessor(size={"height": size, "width": size}, image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD))
        metadata["preprocessing"] = "no image processor saved with the model: ImageNet mean/std at the model's image size"
    if has_blank_positions(model):
        metadata["warnings"] = [
            "the model's position embeddings are all zero, so it cannot tell patches apart and reconstructs little "
            "more than the mean colour (transformers 5.x builds ViT-MAEs from a config this way; "
            "leakage.lab.mae.new_mae shows the fix)"
        ]
    choice = pick_device(device)
    model = model.to(choice.device, choice.torch_dtype).eval()
    loaded = LoadedMAE(
        model=model,
        preprocess=ProcessorTransform(processor),
        device=choice,
        name=name or (str(path.resolve()) if is_folder else text),
        fingerprint=fingerprint,
        image_mean=tuple(float(v) for v in processor.image_mean),
        image_std=tuple(float(v) for v in processor.image_std),
        metadata=metadata,
    )
    check_input_size(loaded)
    loaded.load_seconds = time.perf_counter() - started
    return loaded


def has_blank_positions(model: torch.nn.Module) -> bool:
    """Whether a ViT-MAE's position tables are all zero (a model that was never properly initialised)."""
    tables = [getattr(getattr(getattr(model, "vit", None), "embeddings", None), "position_embeddings", None),
              getattr(getattr(model, "decoder", None), "decoder_pos_embed", None)]
    return any(table is not None and not bool(table.detach().abs().sum()) for table in tables)


def check_input_size(mae: LoadedMAE) -> None:
    """Fail at load time, not mid-run, when the preprocessing does not produce the model's input size."""
    size = mae.model.config.image_size
    produced = tuple(mae.preprocess(Image.new("RGB", (size + 3, size + 5))).shape)
    if produced != (mae.model.config.num_channels, size, size):
        raise ValueError(f"the image processor produces {produced}, the model expects (3, {size}, {size})")


# --------------------------------------------------------------------------- masks

_MASK32 = 0xFFFFFFFF


def _mul32(values: torch.Tensor, constant: int) -> torch.Tensor:
    # 32x32-bit products would overflow int64; multiplying by 16-bit halves keeps every product exact.
    low = values * (constant & 0xFFFF)
    high = ((values * (constant >> 16)) & 0xFFFF) << 16
    return (low + high) & _MASK32


def _hash32(values: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer mixer (lowbias32) on int64 tensors holding values < 2**32."""
    values = values ^ (values >> 16)
    values = _mul32(values, 0x7FEB352D)
    values = values ^ (values >> 15)
    values = _mul32(values, 0x846CA68B)
    return values ^ (values >> 16)


def image_key(relative_path: str) -> int:
    """The number an image's masks are derived from: stable across runs, machines and subsets."""
    return zlib.crc32(relative_path.replace(os.sep, "/").encode())


def mask_noise(seed: int, image_keys: torch.Tensor, n_masks: int, n_patches: int) -> torch.Tensor:
    """Noise of shape (len(image_keys) * n_masks, n_patches), rows image-major, for the model's `noise=`.

    The model keeps the patches with the lowest noise, so this fixes the masks: mask m of image k
    depends only on (seed, k, m). Computed by hashing, in one vectorised expression.
    """
    keys = image_keys.to(torch.int64).view(-1, 1, 1) & _MASK32
    masks = torch.arange(n_masks, dtype=torch.int64).view(1, -1, 1)
    patches = torch.arange(n_patches, dtype=torch.int64).view(1, 1, -1)
    state = _hash32(torch.tensor(seed & _MASK32, dtype=torch.int64) ^ 0x5BD1E995)
    state = _hash32(state ^ keys)
    state = _hash32(state ^ masks)
    state = _hash32(state ^ patches)
    # 24 bits fit a float32 exactly; the rare tie is broken the same way every time by argsort.
    noise = (state >> 8).to(torch.float32) / float(1 << 24)
    return noise.reshape(-1, n_patches)


@contextmanager
def masking_ratio(model: torch.nn.Module, ratio: float) -> Iterator[None]:
    """The model masks `ratio` of the patches inside the block.

    ViT-MAE reads the ratio from its config at every forward pass; a lock keeps two threads (two
    app sessions sharing a cached model) from changing it under each other.
    """
    with _MASK_RATIO_LOCK:
        trained = model.config.mask_ratio
        model.config.mask_ratio = ratio
        try:
            yield
        finally:
            model.config.mask_ratio = trained


_MASK_RATIO_LOCK = threading.RLock()


def kept_patches(n_patches: int, ratio: float) -> int:
    """How many patches stay visible (ViT-MAE's own rounding: int(L * (1 - r)))."""
    return int(n_patches * (1 - ratio))


# --------------------------------------------------------------------------- reconstruction error


def patch_targets(model: torch.nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
    """What the model is trained to predict per patch: pixels, normalised per patch with norm_pix_loss."""
    target = model.patchify(pixel_values)
    if model.config.norm_pix_loss:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    return target


def per_sample_loss(model: torch.nn.Module, pixel_values: torch.Tensor, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """ViT-MAE's loss, kept per sample instead of averaged over the batch (float32)."""
    target = patch_targets(model, pixel_values.float())
    per_patch = ((logits.float() - target) ** 2).mean(dim=-1)
    mask = mask.float()
    return (per_patch * mask).sum(dim=1) / mask.sum(dim=1)


@torch.inference_mode()
def masked_errors(mae: LoadedMAE, images: torch.Tensor, keys: torch.Tensor, config: MIMConfig) -> torch.Tensor:
    """Reconstruction error of each image under each of its masks: (n_images, n_masks), float32 on the CPU."""
    model = mae.model
    n_images, n_masks = images.shape[0], config.n_masks
    pixels = images.to(mae.device.device, mae.device.torch_dtype, non_blocking=True)
    repeated = pixels.repeat_interleave(n_masks, dim=0)
    noise = mask_noise(config.seed, keys, n_masks, mae.n_patches).to(mae.device.device)
    with masking_ratio(model, config.mask_ratio):
        output = model(pixel_values=repeated, noise=noise)
    losses = per_sample_loss(model, repeated, output.logits, output.mask)
    return losses.view(n_images, n_masks).cpu()


def reconstruction_errors(
    mae: LoadedMAE,
    sources: Sequence[str | bytes | Image.Image],
    keys: Sequence[int],
    config: MIMConfig,
    context: RunContext | None = None,
    stage: str = "reconstruct images",
) -> tuple[np.ndarray, dict[int, str]]:
    """Mean error over the masks per image (NaN where the image failed) and the failures by index."""
    context = context or RunContext()
    batch_size = context.batch(BATCH_SIZE)
    if kept_patches(mae.n_patches, config.mask_ratio) < 1:
        raise ValueError(f"mask ratio {config.mask_ratio} hides all {mae.n_patches} patches of this model; use a lower ratio")
    in_memory = any(isinstance(source, Image.Image) for source in sources)
    loader = torch.utils.data.DataLoader(
        ImageTensorDataset(list(sources), mae.preprocess),
        batch_size=batch_size,
        num_workers=0 if in_memory or len(sources) <= batch_size else context.workers(NUM_WORKERS),
        collate_fn=collate_skip_failures,
        pin_memory=mae.device.device.startswith("cuda"),
    )
    all_keys = torch.tensor(list(keys), dtype=torch.int64)
    errors = np.full(len(sources), np.nan, dtype=np.float64)
    failures: dict[int, str] = {}
    done = 0
    for indices, batch, failed in loader:
        context.check_cancel("MIM run")
        failures.update(dict(failed))
        if len(indices):
            per_mask = masked_errors(mae, batch, all_keys[indices], config)
            errors[indices.numpy()] = per_mask.double().mean(dim=1).numpy()
        done += len(indices) + len(failed)
        context.report(stage, done, len(sources))
    return errors, failures


# --------------------------------------------------------------------------- the attack


@dataclass(frozen=True)
class AttackImage:
    person: str
    path: str
    label: str
    """Path relative to the dataset root ('/'-separated): the row name and the mask key."""


def collect_images(data: Dataset) -> list[AttackImage]:
    """Every image of every person, in a fixed order (people sorted, then paths)."""
    images = []
    for person in data.names():
        for record in data.people[person]:
            label = Path(os.path.relpath(record.path, data.root)).as_posix()
            images.append(AttackImage(person, record.path, label))
    return images


METHODS = {
    "plain": "reconstruction error (lower = member), all thresholds",
    "shadow": "shadow-model threshold: the error threshold that best separates a shadow model's own members "
              "and non-members, applied to the target (Li et al., the paper's method)",
    "calibrated": "per-example calibration against a reference model trained without the target images: "
                  "reference error - target error (Watson et al. 2022; LiRA's offset), not the paper's method",
}


def shadow_threshold(
    shadow: LoadedMAE,
    shadow_data: Dataset,
    config: MIMConfig,
    context: RunContext | None = None,
) -> dict[str, Any]:
    """The paper's threshold: score the shadow model's own members and non-members (members.csv of
    `shadow_data`) with the same masks and pick the error threshold that separates them best.

    Returns ``error_threshold`` (an image is called a member when its error is at most this),
    ``score_threshold`` (the same on the score scale, -error), and how the threshold does on the
    shadow data: ``balanced_accuracy``, ``accuracy``, ``tpr``, ``fpr``, ``auc``, the class sizes,
    and ``problems`` (unreadable shadow images).
    """
    members = shadow_data.members
    images = collect_images(shadow_data)
    labelled = [image for image in images if members is not None and image.person in members]
    if members is None or len({members[image.person] for image in labelled}) < 2:
        raise ValueError(f"the shadow data ({shadow_data.root}) needs members.csv with both members (the shadow "
                         "model's training images) and non-members")
    errors, failures = reconstruction_errors(shadow, [image.path for image in labelled], [image_key(image.label) for image in labelled],
                                             config, context, stage="reconstruct with the shadow model")
    ok = [index for index in range(len(labelled)) if index not in failures]
    labels = np.array([members[labelled[index].person] for index in ok], dtype=int)
    if labels.min() == labels.max():
        raise ValueError("the readable shadow images are all of one class; the threshold needs members and non-members")
    scores = -errors[ok]
    best = best_threshold(labels, scores)
    return {
        "error_threshold": -best["threshold"],
        "score_threshold": best["threshold"],
        "balanced_accuracy": best["balanced_accuracy"],
        "accuracy": best["accuracy"],
        "tpr": best["tpr"],
        "fpr": best["fpr"],
        "auc": roc_auc(labels, scores),
        "n_members": int(labels.sum()),
        "n_nonmembers": int(labels.size - labels.sum()),
        "problems": [{"path": labelled[i].path, "reason": reason} for i, reason in sorted(failures.items())],
    }


def run_mim(
    target: LoadedMAE,
    data: Dataset,
    config: MIMConfig = MIMConfig(),
    context: RunContext | None = None,
    *,
    reference: LoadedMAE | None = None,
    members: Mapping[str, bool] | None = None,
    shadow: LoadedMAE | None = None,
    shadow_data: Dataset | None = None,
    shadow_data_id: str | None = None,
) -> AttackResult:
    """Score every image of `data` and return a plain-data result.

    Ground truth is per person folder (members.csv, or `members`): every image in a member's
    folder is a member image. For an image-level dataset, put member and non-member images in
    two folders (e.g. `member/` and `non-member/`) and mark them in members.csv. Metrics that
    need ground truth (ROC, AUC, TPR at low FPR) are computed when both classes are present.

    With `shadow` and `shadow_data` (the shadow model's members and non-members, members.csv),
    the paper's shadow-model threshold is chosen there and applied to the target: metrics
    ``threshold_accuracy``, ``threshold_tpr``, ``threshold_fpr`` (with target ground truth) and
    each row's ``predicted_member``. With `reference`, the score is per-example calibrated
    (reference error - target error). The two are separate methods and cannot be combined.
    """
    if shadow is not None and reference is not None:
        raise ValueError("use either a shadow model (the paper's threshold) or a reference model (per-example calibration), not both")
    if shadow is not None and shadow_data is None:
        raise ValueError("a shadow model needs its own data: a folder of its members and non-members with members.csv")
    context = context or RunContext()
    started = time.perf_counter()
    timing: dict[str, float] = {}
    members = members if members is not None else data.members
    dataset_id = context.dataset_id or data.root
    images = collect_images(data)
    if not images:
        raise ValueError("no images to attack")
    sources = [image.path for image in images]
    keys = [image_key(image.label) for image in images]
    problems = [{"path": problem.path, "reason": problem.reason} for problem in data.problems]

    tick = time.perf_counter()
    target_errors, failures = reconstruction_errors(target, sources, keys, config, context,
                                                    stage="reconstruct with the target model")
    timing["target_seconds"] = time.perf_counter() - tick
    reference_errors = None
    if reference is not None:
        tick = time.perf_counter()
        reference_errors, reference_failures = reconstruction_errors(
            reference, sources, keys, config, context, stage="reconstruct with the reference model")
        timing["reference_seconds"] = time.perf_counter() - tick
        failures.update(reference_failures)
    problems += [{"path": images[i].path, "reason": reason} for i, reason in sorted(failures.items())]
    if len(failures) == len(images):
        raise ValueError("no image could be read: " + "; ".join(f"{images[i].label}: {r}" for i, r in list(failures.items())[:5]))

    scores = -target_errors if reference_errors is None else reference_errors - target_errors
    rows = image_rows(images, failures, target_errors, reference_errors, scores, members)
    threshold = None
    if shadow is not None:
        tick = time.perf_counter()
        threshold = shadow_threshold(shadow, shadow_data, config, context)
        timing["shadow_seconds"] = time.perf_counter() - tick
        problems += [{**problem, "reason": f"shadow data: {problem['reason']}"} for problem in threshold["problems"]]
        for row in rows:
            row["predicted_member"] = row["score"] >= threshold["score_threshold"]
    metrics = mim_metrics(rows, threshold)
    timing["total_seconds"] = time.perf_counter() - started
    timing["images_per_second"] = len(rows) / max(timing["target_seconds"], 1e-9)

    models = {"target": target.describe()}
    if reference is not None:
        models["reference"] = reference.describe()
    run_config = {
        **asdict(config),
        "score": "reference error - target error" if reference is not None else "-reconstruction error",
        "model": target.name,
        "model_fingerprint": target.fingerprint,
        "reference_model": reference.name if reference is not None else None,
        "reference_fingerprint": reference.fingerprint if reference is not None else None,
        "data": dataset_id,
    }
    method = "calibrated" if reference is not None else "plain"
    if shadow is not None:  # keys only when used: plain and calibrated runs keep their config hashes
        method = "shadow"
        models["shadow"] = shadow.describe()
        run_config.update(shadow_model=shadow.name, shadow_fingerprint=shadow.fingerprint,
                          shadow_data=shadow_data_id or shadow_data.root)
    runtime = {"batch_size": context.batch(BATCH_SIZE), "num_workers": context.workers(NUM_WORKERS)}
    details: dict[str, Any] = {"unit": "image", "models": models, "runtime": runtime,
                               "method": method, "method_description": METHODS[method]}
    if threshold is not None:
        details["shadow"] = {key: value for key, value in threshold.items() if key != "problems"}
    return AttackResult(
        config=run_config,
        metrics=metrics,
        identities=rows,
        seeds={"masks": config.seed},
        model=target.describe(),
        dataset={"id": dataset_id, "n_people": len(data.people), "n_images_available": len(rows)},
        images=[],  # the per-image rows are the identities of this attack
        problems=problems,
        timing={key: round(value, 4) for key, value in timing.items()},
        details=details,
    )


def image_rows(
    images: Sequence[AttackImage],
    failures: Mapping[int, str],
    target_errors: np.ndarray,
    reference_errors: np.ndarray | None,
    scores: np.ndarray,
    members: Mapping[str, bool] | None,
) -> list[dict[str, Any]]:
    """One row per scored image: name (relative path), person, score, reconstruction_error, member."""
    rows = []
    for index, image in enumerate(images):
        if index in failures:
            continue
        row: dict[str, Any] = {
            "name": image.label,
            "person": image.person,
            "path": image.path,
            "score": float(scores[index]),
            "reconstruction_error": float(target_errors[index]),
        }
        if reference_errors is not None:
            row["reference_error"] = float(reference_errors[index])
        if members is not None and image.person in members:
            row["member"] = bool(members[image.person])
        rows.append(row)
    return rows


def mim_metrics(rows: Sequence[Mapping[str, Any]], threshold: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Counts, mean errors per class, and the membership summary when both classes are present.

    With a shadow `threshold` (from `shadow_threshold`): ``threshold_error`` and
    ``n_predicted_members``, and with ground truth ``threshold_accuracy``, ``threshold_tpr``,
    ``threshold_fpr``, ``threshold_precision`` on the target (also as ``at_threshold``).
    """
    metrics: dict[str, Any] = {
        "n_identities": len(rows),
        "n_images": len(rows),
        "n_people": len({row["person"] for row in rows}),
    }
    for name, wanted in (("members", True), ("nonmembers", False)):
        errors = [row["reconstruction_error"] for row in rows if row.get("member") is wanted]
        if errors:
            metrics[f"mean_error_{name}"] = float(np.mean(errors))
    labelled = [row for row in rows if "member" in row]
    labels = np.array([row["member"] for row in labelled], dtype=int)
    if threshold is not None:
        metrics["threshold_error"] = threshold["error_threshold"]
        metrics["n_predicted_members"] = sum(bool(row.get("predicted_member")) for row in rows)
    if labels.size and labels.min() != labels.max():
        scores = np.array([row["score"] for row in labelled])
        clusters = repeated_clusters([row["person"] for row in labelled])  # images of one person are not independent
        metrics.update(membership_summary(labels, scores, threshold=None if threshold is None else threshold["score_threshold"],
                                          clusters=clusters))
        if clusters:
            metrics["bootstrap"]["cluster_field"] = "person"
        if threshold is not None:
            at = metrics["at_threshold"]
            metrics.update(threshold_accuracy=at["accuracy"], threshold_tpr=at["tpr"], threshold_fpr=at["fpr"],
                           threshold_precision=at["precision"])
    return metrics


# --------------------------------------------------------------------------- pictures for people


@dataclass
class Reconstruction:
    """One image under one mask, as (H, W, 3) float arrays in [0, 1] for display."""

    original: np.ndarray
    masked: np.ndarray
    reconstruction: np.ndarray
    """The model's prediction in the hidden patches, the original in the visible ones."""
    error: float


@torch.inference_mode()
def reconstruct(mae: LoadedMAE, image: str | bytes | Image.Image, relative_path: str, config: MIMConfig, mask_index: int = 0) -> Reconstruction:
    """Original, masked input and reconstruction of one image under mask `mask_index` of the attack.

    With norm_pix_loss the model predicts normalised patches; they are shown with the true
    patch's mean and variance put back, as the MAE authors' visualisation does.
    """
    model = mae.model
    picture = image if isinstance(image, Image.Image) else load_image(image)
    pixels = mae.preprocess(picture.convert("RGB")).unsqueeze(0).to(mae.device.device, mae.device.torch_dtype)
    key = torch.tensor([image_key(relative_path)])
    noise = mask_noise(config.seed, key, mask_index + 1, mae.n_patches)[mask_index:].to(mae.device.device)
    with masking_ratio(model, config.mask_ratio):
        output = model(pixel_values=pixels, noise=noise)
    error = float(per_sample_loss(model, pixels, output.logits, output.mask)[0])
    patches = model.patchify(pixels.float())
    predicted = output.logits.float()
    if model.config.norm_pix_loss:
        mean = patches.mean(dim=-1, keepdim=True)
        var = patches.var(dim=-1, keepdim=True)
        predicted = predicted * (var + 1.0e-6) ** 0.5 + mean
    hidden = output.mask.float().unsqueeze(-1)
    mixed = patches * (1 - hidden) + predicted * hidden
    masked = torch.where(hidden.bool().expand_as(patches), torch.full_like(patches, np.nan), patches)  # NaN shows grey

    def to_picture(patch_values: torch.Tensor) -> np.ndarray:
        picture = model.unpatchify(patch_values)[0].permute(1, 2, 0).cpu().numpy()
        picture = picture * np.array(mae.image_std) + np.array(mae.image_mean)
        return np.clip(np.nan_to_num(picture, nan=0.5), 0.0, 1.0)

    return Reconstruction(to_picture(patches), to_picture(masked), to_picture(mixed), error)
