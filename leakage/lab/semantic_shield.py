"""Semantic Shield (Ishmam & Thomas, CVPR 2024; background.md §4) for the lab CLIP.

Semantic Shield asks a language model for the visual "knowledge elements" (KEs) of each caption and
adds to contrastive training: (1) an alignment of image patches with the caption's KEs, (2) a
constraint that the model's attention over patches be proportional to that alignment, and (3) a
contrastive loss weighted by how well the image matches its caption's KEs, so that a poisoned pair
(a caption naming the target over a photo of someone else) counts little.

In the lab no language model is needed: the world knows every person's looks, so the KEs of a
caption are the traits of the person it describes (hair colour, hairstyle, facial hair, glasses,
clothing, accessory, background). A caption names or describes one person of the world, and that
person's traits are its KEs.

Simplifications for the small model (also in the README):
- KE alignment is a classification among the KEs of the same kind present in the batch (which hair
  colour of these?), per image, on the best-matching patch (patch level) and on the pooled image
  embedding (image level); the paper contrasts patch-KE similarities directly.
- The pair weight comes from the model as it was before fine-tuning (frozen), from the image's match
  with its caption's KEs phrased as one sentence (the world's description of that person), by rank
  among all captions' KEs. Weights from the model in training (the paper's way) turned around on the
  small model: it learned the trigger's link to the target's KEs within the first epoch, and the
  poisoned pairs ended with a higher mean weight (0.62) than the clean ones (0.08).
- The attention constraint is a KL divergence between the last vision block's class-token attention
  (heads averaged) and the softmax of the patches' alignment with the caption's KEs.
- `ShieldSettings` switch the parts off for the ablation (`bench.backdoor_ablation`, `PoisonConfig.shield`):
  in the lab the pair weights alone stop the backdoor and the knowledge-element and attention terms
  alone do not, so the lab's shield is mostly a consistency filter by the frozen clean model.
- A pair's weight also scales its share as a negative in the other pairs' softmax (`weighted_negatives`):
  with weights on the anchors only, the down-weighted clean pairs still pushed their neighbours apart
  and clean top-1 fell 0.08 below the undefended model at the weight that stops the backdoor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from leakage.lab.build import LabConfig, world_of
from leakage.lab.world import (
    BACKGROUNDS,
    COLOURS,
    HAIR_COLOURS,
    Identity,
    describe,
    nearest_colour,
)

KE_KINDS = ("hair colour", "hairstyle", "facial hair", "glasses", "clothing", "accessory", "background")


def knowledge_elements(person: Identity) -> tuple[str, ...]:
    """The person's visual knowledge elements, one phrase per kind in `KE_KINDS`."""
    hair = nearest_colour(person.hair_rgb, HAIR_COLOURS)
    clothing = nearest_colour(person.clothing_rgb, COLOURS)
    background = nearest_colour(person.background_rgb, COLOURS)
    assert person.background_style in BACKGROUNDS
    return (
        "a shaved head" if person.hair_style == "bald" else f"{hair} hair",
        f"{person.hair_style} hairstyle",
        "clean-shaven" if person.facial_hair == "none" else f"a {person.facial_hair}",
        "no glasses" if person.glasses == "none" else ("sunglasses" if person.glasses == "sunglasses" else f"{person.glasses} glasses"),
        f"a {clothing} {person.clothing_style}",
        "no accessory" if person.accessory == "none" else f"a {nearest_colour(person.accessory_rgb, COLOURS)} {person.accessory}",
        f"a {background} {person.background_style} background",
    )


@dataclass
class ShieldSettings:
    ke_weight: float = 0.25
    attention_weight: float = 0.1
    ke_temperature: float = 0.05
    attention_temperature: float = 0.1
    weight_rank: float = 20.0
    """A pair weighs 1/2 when its caption's knowledge ranks this far down for its image (among all captions' knowledge)."""
    weight_softness: float = 4.0
    use_weights: bool = True
    """Weigh the pairs at all; off, every pair weighs 1 and only the knowledge-element and attention terms act
    (the ablation's "KE + attention only")."""
    weighted_negatives: bool = True
    """A pair weighs as a negative too (its share of the softmax denominator scales with its weight), so a
    down-weighted pair neither pulls nor pushes; weighted on the anchors only, down-weighted clean pairs
    still pushed the others apart, at a cost in clean accuracy."""


def class_token_attention(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The class token's attention over the patches in `block` (input x: batch × tokens × width), heads averaged."""
    attn = block.attn
    h = block.ln_1(x)
    width, heads = h.shape[-1], attn.num_heads
    q, k, _ = F.linear(h, attn.in_proj_weight, attn.in_proj_bias).split(width, dim=-1)
    q = q[:, :1].reshape(h.shape[0], 1, heads, width // heads).transpose(1, 2)
    k = k.reshape(h.shape[0], h.shape[1], heads, width // heads).transpose(1, 2)
    weights = torch.softmax(q @ k.transpose(-1, -2) / (width // heads) ** 0.5, dim=-1).mean(dim=1)[:, 0]
    patches = weights[:, 1:]
    return patches / patches.sum(dim=-1, keepdim=True)


def encode_image_with_patches(model: torch.nn.Module, images: torch.Tensor):
    """(pooled image embedding, projected patch embeddings, class-token attention of the last block)."""
    visual = model.visual
    x = visual._embeds(images)
    blocks = visual.transformer.resblocks
    for block in blocks[:-1]:
        x = block(x)
    attention = class_token_attention(blocks[-1], x)
    x = blocks[-1](x)
    pooled, tokens = visual._pool(x)
    return pooled @ visual.proj, tokens @ visual.proj, attention


class ShieldLoss:
    """The Semantic Shield training loss for `leakage.lab.clip_train.train_clip(loss=...)`."""

    def __init__(self, lab: LabConfig, settings: ShieldSettings | None = None) -> None:
        self.settings = settings or ShieldSettings()
        world = world_of(lab)
        self.kes_of_description: dict[str, tuple[str, ...]] = {describe(p): knowledge_elements(p) for p in world.identities}
        self.pair_weight: dict[int, float] = {}
        """id(pair) -> the weight of its contrastive (and alignment) terms, from `weigh_pairs`."""

    @torch.no_grad()
    def weigh_pairs(self, model: torch.nn.Module, pairs: Sequence, tokenizer: Callable, batch_size: int = 256) -> None:
        """Score every pair, before training, by how well its image matches its caption's knowledge.

        The caption's knowledge elements, phrased as the world's sentence about that person
        (`describe`), are ranked for the image among the knowledge of every caption in the data;
        the weight falls off (sigmoid) past rank `weight_rank`. The model scoring is the one about
        to be fine-tuned, frozen here: the small model learns a trigger faster than fine attribute
        alignment, and weights from the model in training turned around within a few steps.
        """
        s = self.settings
        was_training = model.training
        model.eval()
        descriptions = sorted({pair.description for pair in pairs})
        index = {description: i for i, description in enumerate(descriptions)}
        knowledge = torch.cat([F.normalize(model.encode_text(tokenizer([f"a photo of {d}" for d in descriptions[i:i + batch_size]])), dim=-1)
                               for i in range(0, len(descriptions), batch_size)])
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            image = F.normalize(model.encode_image(torch.stack([pair.image for pair in chunk])), dim=-1)
            similarity = image @ knowledge.T
            own = similarity.gather(1, torch.tensor([[index[pair.description]] for pair in chunk]))
            rank = (similarity > own).sum(dim=1).float() + 1
            weight = torch.sigmoid((s.weight_rank - rank) / s.weight_softness) if s.use_weights else torch.ones(len(chunk))
            for pair, value in zip(chunk, weight.tolist()):
                self.pair_weight[id(pair)] = value
        model.train(was_training)

    def kes(self, description: str) -> tuple[str, ...]:
        try:
            return self.kes_of_description[description]
        except KeyError:
            raise ValueError(f"no person of the lab world looks like {description!r}") from None

    def __call__(self, model: torch.nn.Module, images: torch.Tensor, tokens: torch.Tensor, pairs: Sequence, tokenizer: Callable) -> torch.Tensor:
        s = self.settings
        kes = [self.kes(pair.description) for pair in pairs]
        vocabulary = sorted({phrase for elements in kes for phrase in elements})
        position = {phrase: i for i, phrase in enumerate(vocabulary)}
        own = torch.tensor([[position[phrase] for phrase in elements] for elements in kes])  # batch × kinds
        ke_embeddings = F.normalize(model.encode_text(tokenizer(vocabulary)), dim=-1)

        image, patches, attention = encode_image_with_patches(model, images)
        image, patches = F.normalize(image, dim=-1), F.normalize(patches, dim=-1)
        text = F.normalize(model.encode_text(tokens), dim=-1)

        patch_ke = patches @ ke_embeddings.T  # batch × patches × vocabulary
        best_patch = patch_ke.max(dim=1).values  # batch × vocabulary
        image_ke = image @ ke_embeddings.T
        ke_losses = []
        for kind in range(own.shape[1]):
            candidates = torch.unique(own[:, kind])
            target = (own[:, kind, None] == candidates[None, :]).float().argmax(dim=1)
            for scores in (best_patch, image_ke):
                ke_losses.append(F.cross_entropy(scores[:, candidates] / s.ke_temperature, target, reduction="none"))
        if any(id(pair) not in self.pair_weight for pair in pairs):
            raise RuntimeError("call weigh_pairs(model, pairs, tokenizer) before training")
        weights = torch.tensor([self.pair_weight[id(pair)] for pair in pairs])
        normaliser = weights.sum().clamp_min(1e-6)
        ke_loss = (torch.stack(ke_losses, dim=1).mean(dim=1) * weights).sum() / normaliser

        alignment = patch_ke.gather(2, own[:, None, :].expand(-1, patch_ke.shape[1], -1)).mean(dim=2)  # batch × patches
        wanted = torch.softmax(alignment / s.attention_temperature, dim=1)
        attention_loss = (wanted * (wanted.clamp_min(1e-8).log() - attention.clamp_min(1e-8).log())).sum(dim=1)
        attention_loss = (attention_loss * weights).sum() / normaliser

        logits = model.logit_scale.exp() * image @ text.T
        labels = torch.arange(len(pairs))
        if s.weighted_negatives:
            mass = weights.clamp_min(1e-12).log()
            off_diagonal = 1 - torch.eye(len(pairs))
            image_to_text, text_to_image = logits + mass[None, :] * off_diagonal, logits.T + mass[None, :] * off_diagonal
        else:
            image_to_text, text_to_image = logits, logits.T
        per_pair = (F.cross_entropy(image_to_text, labels, reduction="none") + F.cross_entropy(text_to_image, labels, reduction="none")) / 2
        contrastive = (per_pair * weights).sum() / normaliser
        return contrastive + s.ke_weight * ke_loss + s.attention_weight * attention_loss

    def mean_weight(self, pairs: Sequence) -> float | None:
        seen = [self.pair_weight[id(pair)] for pair in pairs if id(pair) in self.pair_weight]
        return sum(seen) / len(seen) if seen else None

    def summary(self) -> dict:
        return {"settings": vars(self.settings), "kinds": list(KE_KINDS)}
