"""Training the lab VLM in two stages: language side (text only), then alignment (anonymized photos).

See `leakage.lab.vlm` for what each stage teaches and why. Both stages are short (a few
thousand small batches) so that the whole lab VLM builds in minutes on a laptop CPU.
"""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from leakage.lab.vlm_texts import DESCRIBE_QUESTIONS, PAD_WORD, SLOTS, WHO_QUESTIONS, biography, profile, slot_values
from leakage.lab.world import Identity, describe
from leakage.progress import Progress

if TYPE_CHECKING:  # annotations only: the recipe imports this module, never the other way at run time
    from leakage.lab.vlm import AlignmentPhoto, LabVLMConfig

IGNORE = -100


class TextEncoder:
    """Word ids of texts, cached: the same questions and answers recur thousands of times."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    @functools.lru_cache(maxsize=None)
    def __call__(self, text: str) -> tuple[int, ...]:
        return tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def word_ids(self, words: Sequence[str]) -> list[int]:
        ids = self.tokenizer.convert_tokens_to_ids(list(words))
        unknown = [word for word, i in zip(words, ids) if i == self.tokenizer.unk_token_id]
        if unknown:
            raise ValueError(f"card words missing from the vocabulary: {unknown}")
        return ids


def card_words(person: Identity, length: int) -> list[str]:

    words = profile(person)
    return words + [PAD_WORD] * (length - len(words))


def noisy_card(person: Identity, length: int, noise: float, rng: random.Random) -> list[str]:
    """The card with each trait replaced by a random value of its slot with probability `noise`."""

    values = slot_values()
    words = card_words(person, length)
    for index, slot in enumerate(SLOTS):
        if rng.random() < noise:
            words[index] = rng.choice(values[slot])
    return words


def conversation(encode: TextEncoder, context: Sequence[int], question: str, answer: str, eos: int) -> tuple[list[int], list[int]]:
    """Ids and labels of "USER: <context> {question} ASSISTANT: {answer}</s>"; only the answer is learnt."""
    prompt = list(encode("USER:")) + list(context) + list(encode(question)) + list(encode("ASSISTANT:"))
    reply = list(encode(answer)) + [eos]
    return prompt + reply, [IGNORE] * len(prompt) + reply


def collate(examples: Sequence[tuple[list[int], list[int]]], pad: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, targets) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(ids)] = torch.tensor(targets)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}


def _schedule(optimizer: torch.optim.Optimizer, steps: int, warmup: int = 100) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def answer_loss(model: Any, batch: dict[str, torch.Tensor], inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
    """Next-token loss on the labelled positions only: the LM head (a vocabulary-wide matrix
    product) runs where there is something to learn, not over the whole prompt."""
    if inputs_embeds is None:
        hidden = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    else:
        hidden = model.model(inputs_embeds=inputs_embeds, attention_mask=batch["attention_mask"]).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    logits = model.lm_head(hidden[:, :-1][keep])
    return F.cross_entropy(logits.float(), targets[keep])


def _language_parameters(model: Any) -> list[torch.nn.Parameter]:
    return list(model.model.language_model.parameters()) + list(model.lm_head.parameters())


def exposure_texts(
    encode: TextEncoder, members: Sequence[Identity], exposure: dict[str, int], length: int, noise: float, eos: int, rng: random.Random
) -> list[tuple[list[int], list[int]]]:
    """The fixed language data of the exposure variant: member m gets exposure[m] "who is this"
    texts, each a noisy card (drawn once) with a question and the name. Training samples these
    texts uniformly, so a member with 16 texts is seen 16 times as often, from more partial views."""

    texts = []
    for person in members:
        for _ in range(exposure.get(person.name, 0)):
            card = encode.word_ids(noisy_card(person, length, noise, rng))
            texts.append(conversation(encode, card, rng.choice(WHO_QUESTIONS), person.name, eos))
    return texts


def train_language(
    model: Any, tokenizer: Any, members: Sequence[Identity], describable: Sequence[Identity], config: "LabVLMConfig", progress: Progress,
    exposure: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Stage 1, text only: members' names from their (noisy) cards and biographies; anyone's
    description from their card. Vision tower and projector are not touched.

    With `exposure` (member name -> number of texts), the names are learnt from that fixed set of
    card texts only (no biographies), instead of texts drawn afresh for members alike."""

    rng = random.Random(f"{config.seed}/language")
    torch.manual_seed(config.seed)
    encode = TextEncoder(tokenizer)
    length = config.architecture.image_tokens
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id

    def who() -> tuple[list[int], list[int]]:
        person = rng.choice(members)
        card = encode.word_ids(noisy_card(person, length, config.card_noise, rng))
        return conversation(encode, card, rng.choice(WHO_QUESTIONS), person.name, eos)

    def describe_card() -> tuple[list[int], list[int]]:
        person = rng.choice(describable)
        card = encode.word_ids(card_words(person, length))
        return conversation(encode, card, rng.choice(DESCRIBE_QUESTIONS), describe(person) + ".", eos)

    def bio() -> tuple[list[int], list[int]]:
        ids = list(encode(biography(rng.choice(members)))) + [eos]
        return ids, ids

    kinds = [(who, 0.5), (describe_card, 0.35), (bio, 0.15)]
    if exposure:
        fixed = exposure_texts(encode, members, exposure, length, config.card_noise, eos, rng)

        def exposed() -> tuple[list[int], list[int]]:
            return rng.choice(fixed)

        kinds = [(exposed, 0.65), (describe_card, 0.35)]
    parameters = _language_parameters(model)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for parameter in parameters:
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=0.01)
    scheduler = _schedule(optimizer, config.language_steps)
    model.train()
    started, losses = time.perf_counter(), []
    for step in range(config.language_steps):
        makers = rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds], k=config.batch_size)
        batch = collate([make() for make in makers], pad)
        loss = answer_loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if step % 25 == 0 or step == config.language_steps - 1:
            progress(f"train language side (loss {sum(losses[-25:]) / len(losses[-25:]):.2f})", step + 1, config.language_steps)
    return {"steps": config.language_steps, "final_loss": sum(losses[-50:]) / len(losses[-50:]), "seconds": time.perf_counter() - started}


def image_tokens(model: Any, pixel_values: torch.Tensor) -> torch.Tensor:
    """Projected image tokens (batch, n_tokens, hidden), exactly as LLaVA feeds them to the LM."""
    output = model.model.get_image_features(
        pixel_values=pixel_values,
        vision_feature_layer=model.config.vision_feature_layer,
        vision_feature_select_strategy=model.config.vision_feature_select_strategy,
    )
    features = output.pooler_output if hasattr(output, "pooler_output") else output
    return torch.stack(list(features)) if isinstance(features, (list, tuple)) else features


def train_alignment(
    model: Any, tokenizer: Any, processor: Any, photos: Sequence["AlignmentPhoto"], config: "LabVLMConfig", progress: Progress
) -> dict[str, Any]:
    """Stage 2: vision tower and projector learn, with the language model frozen, to turn a photo
    into the tokens of the person's card and to make the frozen model describe the person."""

    rng = random.Random(f"{config.seed}/alignment")
    torch.manual_seed(config.seed + 1)
    encode = TextEncoder(tokenizer)
    length = config.architecture.image_tokens
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    image_id = tokenizer.convert_tokens_to_ids("<image>")

    progress("prepare alignment photos", 0, len(photos))
    pixels = processor.image_processor([photo.image for photo in photos], return_tensors="pt")["pixel_values"]
    cards = torch.tensor([encode.word_ids(card_words(photo.person, length)) for photo in photos])
    progress("prepare alignment photos", len(photos), len(photos))

    embeddings = model.get_input_embeddings()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    trained = list(model.model.vision_tower.parameters()) + list(model.model.multi_modal_projector.parameters())
    for parameter in trained:
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW(trained, lr=config.learning_rate, weight_decay=0.01)
    scheduler = _schedule(optimizer, config.alignment_steps)
    model.train()
    table = embeddings.weight.detach()
    unit_table = F.normalize(table, dim=-1)
    started, losses = time.perf_counter(), []
    for step in range(config.alignment_steps):
        index = torch.tensor(rng.sample(range(len(photos)), min(config.batch_size, len(photos))))
        tokens = image_tokens(model, pixels[index])
        targets = cards[index]
        # Card loss: each image token should be the embedding of its card word (nearest among all
        # words, and close in value), so the frozen LM reads the photo as it reads the card.
        similarity = F.normalize(tokens, dim=-1) @ unit_table.T / 0.07
        # (The squared error is relative to the embeddings' own size, so it matters as much as the
        # cross-entropy: the LM's first layers see the tokens' scale, not only their direction.)
        relative_error = F.mse_loss(tokens, table[targets]) / table[targets].pow(2).mean()
        card_loss = F.cross_entropy(similarity.flatten(0, 1), targets.flatten()) + relative_error
        # Caption loss: the frozen LM describes the person from the image tokens (on part of the
        # batch: it costs a pass through the LM, and the card loss does most of the work).
        captioned = index[: config.caption_batch_size]
        examples = [
            conversation(encode, [image_id] * length, rng.choice(DESCRIBE_QUESTIONS), describe(photos[int(i)].person) + ".", eos)
            for i in captioned
        ]
        batch = collate(examples, pad)
        inputs = embeddings(batch["input_ids"])
        image_positions = (batch["input_ids"] == image_id)[..., None]
        inputs = inputs.masked_scatter(image_positions, tokens[: len(captioned)].to(inputs.dtype))
        caption_loss = answer_loss(model, batch, inputs)
        loss = card_loss + caption_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        scheduler.step()
        losses.append((card_loss.item(), caption_loss.item()))
        if step % 25 == 0 or step == config.alignment_steps - 1:
            recent = losses[-25:]
            progress(
                f"align vision on {config.align_on} photos (card loss {sum(a for a, _ in recent) / len(recent):.2f}, "
                f"caption loss {sum(b for _, b in recent) / len(recent):.2f})",
                step + 1,
                config.alignment_steps,
            )
    model.eval()
    tail = losses[-50:]
    return {
        "steps": config.alignment_steps,
        "photos": len(photos),
        "final_card_loss": sum(a for a, _ in tail) / len(tail),
        "final_caption_loss": sum(b for _, b in tail) / len(tail),
        "seconds": time.perf_counter() - started,
    }
