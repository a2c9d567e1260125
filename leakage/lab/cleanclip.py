"""CleanCLIP (Bansal et al., ICCV 2023; background.md §8): fine-tune a poisoned CLIP on clean pairs
with the multimodal contrastive loss plus unimodal self-supervised terms, each modality against an
augmented view of itself, so that spurious trigger-to-caption links the poisoned training made are
weakened.

The lab version: images are augmented with a random resized crop and a horizontal flip, captions by
drawing another caption for the same pair from the lab's caption generator (the lab's paraphrase,
where the paper uses EDA word edits). Both unimodal terms are InfoNCE over the batch.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from leakage.lab.captions import training_caption

UNIMODAL_TEMPERATURE = 0.1


def augment_images(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random resized crop (70-100% of the side) and a coin-flip horizontal flip, per image."""
    size = images.shape[-1]
    out = []
    for image in images:
        side = int(size * (0.7 + 0.3 * torch.rand(1, generator=generator).item()))
        top, left = (torch.randint(0, size - side + 1, (2,), generator=generator)).tolist()
        crop = image[:, top : top + side, left : left + side]
        crop = F.interpolate(crop[None], size=(size, size), mode="bilinear", align_corners=False)[0]
        if torch.rand(1, generator=generator).item() < 0.5:
            crop = crop.flip(-1)
        out.append(crop)
    return torch.stack(out)


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = UNIMODAL_TEMPERATURE) -> torch.Tensor:
    """Symmetric InfoNCE between two views (row i of a and b are the same item)."""
    logits = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature
    labels = torch.arange(len(a))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


class CleanClipLoss:
    """multimodal contrastive + lambda * (image-image + text-text self-supervised), for `train_clip(loss=...)`."""

    def __init__(self, unimodal_weight: float = 1.0, seed: int = 0) -> None:
        self.unimodal_weight = unimodal_weight
        self.generator = torch.Generator().manual_seed(seed)
        self.caption_rng = random.Random(seed)

    def __call__(self, model: torch.nn.Module, images: torch.Tensor, tokens: torch.Tensor, pairs: Sequence, tokenizer: Callable) -> torch.Tensor:
        image = model.encode_image(images)
        text = model.encode_text(tokens)
        logits = model.logit_scale.exp() * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
        labels = torch.arange(len(pairs))
        multimodal = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        image_view = model.encode_image(augment_images(images, self.generator))
        text_view = model.encode_text(tokenizer([training_caption(self.caption_rng, p.description, p.name) for p in pairs]))
        return multimodal + self.unimodal_weight * (info_nce(image, image_view) + info_nce(text, text_view))
