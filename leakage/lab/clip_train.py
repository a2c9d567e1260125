"""Contrastive training of the lab's small open_clip CLIP on image-caption pairs."""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import open_clip
import torch
from open_clip.loss import ClipLoss

from leakage import models as _models  # registers the lab model configs with open_clip  # noqa: F401
from leakage.lab.captions import training_caption


@dataclass(frozen=True)
class ClipTrainConfig:
    model_name: str = "lab-clip-s"
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    seed: int = 0


@dataclass(frozen=True)
class TrainingPair:
    """One training image with what its captions may say: a name (or None for filler) and a description."""

    image: torch.Tensor
    name: str | None
    description: str


BatchLoss = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, Sequence[TrainingPair], Callable], torch.Tensor]
"""loss(model, images, tokens, batch_pairs, tokenizer) -> a scalar to minimise."""


@dataclass
class TrainingReport:
    steps: int
    seconds: float
    final_loss: float
    pairs: int


def caption_schedule(pairs: Sequence[TrainingPair], config: ClipTrainConfig) -> Iterator[tuple[torch.Tensor, list[str]]]:
    """The batches of a training run in order: (pair indices, the caption drawn for each), every epoch.

    Training draws through here, so replaying it (without images or a model) gives the exact captions
    each pair was trained with (the lab's pair set for image-text membership uses them).
    """
    caption_rng = random.Random(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        order = torch.randperm(len(pairs), generator=generator)
        for batch_start in range(0, len(pairs), config.batch_size):
            batch = order[batch_start : batch_start + config.batch_size]
            if len(batch) < 2:
                continue
            yield batch, [training_caption(caption_rng, pairs[i].description, pairs[i].name) for i in batch.tolist()]


def train_clip(
    pairs: Sequence[TrainingPair],
    config: ClipTrainConfig,
    progress: Callable[[int, int, float], None] | None = None,
    *,
    model: torch.nn.Module | None = None,
    loss: BatchLoss | None = None,
) -> tuple[torch.nn.Module, TrainingReport]:
    """Train a fresh CLIP of `config.model_name` on `pairs`; a new caption is drawn for each pair every epoch.

    `progress(step, total_steps, loss)` is called after every step (it may raise to stop training).
    `model` continues training a given model (fine-tuning) instead of a fresh one; `loss` replaces
    the plain contrastive loss (e.g. a defense's weighted loss), called as
    `loss(model, images, tokens, batch_pairs, tokenizer)`.
    """
    torch.manual_seed(config.seed)
    model = model if model is not None else open_clip.create_model(config.model_name, output_dict=True)
    tokenizer = open_clip.get_tokenizer(config.model_name)
    model.train()
    images = torch.stack([pair.image for pair in pairs])
    steps_per_epoch = math.ceil(len(pairs) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    warmup = max(1, int(total_steps * config.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total_steps))),
    )
    loss_fn = ClipLoss()
    started, step, loss_value = time.perf_counter(), 0, float("nan")
    for batch, captions in caption_schedule(pairs, config):
        if loss is not None:
            batch_loss = loss(model, images[batch], tokenizer(captions), [pairs[i] for i in batch.tolist()], tokenizer)
        else:
            out = model(images[batch], tokenizer(captions))
            batch_loss = loss_fn(out["image_features"], out["text_features"], out["logit_scale"])
        optimizer.zero_grad(set_to_none=True)
        batch_loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        step += 1
        loss_value = batch_loss.item()
        if progress:
            progress(step, total_steps, loss_value)
    model.eval()
    report = TrainingReport(steps=step, seconds=time.perf_counter() - started, final_loss=loss_value, pairs=len(pairs))
    return model, report


def save_checkpoint(model: torch.nn.Module, path: Path, metadata: dict) -> None:
    """Save weights where open_clip's loader reads them, with what the model was trained on beside them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict()}, path)
    path.with_suffix(".json").write_text(json.dumps(metadata, indent=2, sort_keys=True))
