"""Identity leakage of vision-language models: ask who is in a picture, with and without anonymization.

After "The Phantom Menace" (Caldarella et al., 2024; background.md §2). For each person's
images, each anonymization setting and each question, the model answers freely (greedy
decoding) and the answer is checked for the person's name (`leakage.answer_match`). Separately,
a closed-set score asks how likely the model finds it to answer with the person's name rather
than with other candidates' names (teacher forcing, only the answer's tokens scored), which
gives a continuous score per person and so a ROC and TPR at low FPR, as for the IDIA.

Loads transformers image-text-to-text models (`AutoProcessor` + `AutoModelForImageTextToText`)
from a local folder or, where downloads are allowed, a hub id. Tested, family by family, on the
families in `leakage.vlm_families.FAMILIES` (LLaVA, LLaVA-NeXT, LLaVA-OneVision, Idefics3/SmolVLM,
SmolVLM2, Mistral3, PaliGemma, Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Qwen3.5, InternVL, BLIP-2,
InstructBLIP, Mllama, Llama 4, Gemma 3, Gemma 4); other architectures go through the same generic path,
untested. The lab VLM (`leakage.lab.vlm`) is a LLaVA, and goes through exactly this code.
"""

from __future__ import annotations

import copy
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from leakage.anonymize import Anonymization, anonymize
from leakage.answer_match import match_name
from leakage.data import Dataset, ImageLoadError, load_image
from leakage.devices import DeviceChoice, pick_device
from leakage.embedding_cache import file_key
from leakage.faces import NOT_NEEDED, FaceBoxes, faces_record, find_faces
from leakage.hub import HubUnavailableError, downloads_allowed
from leakage.metrics import membership_summary, threshold_metrics
from leakage.names import sample_distractors
from leakage.results import AttackResult
from leakage.vlm_calibration import (
    MIN_REFERENCE_PHOTOS,
    REFERENCE_PHOTOS,
    ClosedSetScorer,
    ImageScores,
    condition_entries,
    fewest_reference_photos,
    name_references,
    person_scores,
    reference_people,
    score_metrics,
)
from leakage.vlm_config import DEFAULT_QUESTIONS, MASKED, VLMProbeConfig  # noqa: F401  (the engine's settings, where callers import them)
from leakage.vlm_families import Family, family_of, family_of_processor
from leakage.context import RunContext


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass
class LoadedVLM:
    """A generative VLM with its processor, ready to probe."""

    model: Any
    processor: Any
    device: DeviceChoice
    name: str
    source: str
    fingerprint: str
    metadata: dict[str, Any] = field(default_factory=dict)
    answer_ids: dict[tuple[str, str], list[int]] = field(default_factory=dict, repr=False)
    """Scored answer tokens by (question, answer): a closed set scores each name under every image."""

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    @property
    def family(self) -> Family:
        return family_of(getattr(self.model.config, "model_type", None))

    # What the closed-set scorer (`leakage.vlm_calibration`) asks of a model, so that it needs no import of this module.
    def scored_answer_ids(self, question: str, answers: Sequence[str]) -> list[list[int]]:
        return scored_answer_ids(self, question, answers)

    def answer_logprobs(self, image: Image.Image, question: str, answers: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return answer_logprobs(self, image, question, answers, batch_size)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "source": self.source,
            "architecture": type(self.model).__name__,
            "model_type": getattr(self.model.config, "model_type", None),
            "parameters": int(sum(p.numel() for p in self.model.parameters())),
            "fingerprint": self.fingerprint,
            "device": self.device.device,
            "dtype": self.device.dtype,
            "device_description": self.device.description,
            "chat_template": bool(getattr(self.processor, "chat_template", None)),
            "family": self.family.label,
            **self.metadata,
        }


def _looks_like_path(text: str) -> bool:
    path = Path(text).expanduser()
    return path.exists() or text.startswith((".", "/", "~")) or text.count("/") > 1 or (os.sep != "/" and os.sep in text)


def load_vlm(source: str | os.PathLike, device: str | None = None, name: str | None = None) -> LoadedVLM:
    """A model from a folder written by save_pretrained, or a hub id (downloads only where allowed).

    Raises FileNotFoundError for a folder that is missing or holds no model, and
    HubUnavailableError (with how to use local weights) for a hub id not in the local cache.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from leakage import safe_load
    from leakage.models import model_fingerprint

    text = str(source)
    path = Path(text).expanduser()
    is_folder = path.is_dir()
    if not is_folder and _looks_like_path(text):
        raise FileNotFoundError(f"model folder not found: {path} (expected a folder written by save_pretrained)")
    if is_folder:
        _require_saved_files(path)
        path = safe_load.check_model_folder(path, text)  # no model code, nothing outside the folder or the roots
    else:
        safe_load.check_hub_model(text)
    safe_load.forbid_dynamic_modules()
    where = str(path) if is_folder else text
    local_only = is_folder or not downloads_allowed()
    if not is_folder and local_only:
        _require_hub_cached(text)
    choice = pick_device(device)
    try:
        processor = AutoProcessor.from_pretrained(where, local_files_only=local_only, **safe_load.NO_REMOTE_CODE)
        model = AutoModelForImageTextToText.from_pretrained(where, local_files_only=local_only, dtype=choice.torch_dtype,
                                                            weights_only=True, **safe_load.NO_REMOTE_CODE)
    except (OSError, ValueError) as error:
        if is_folder:
            raise FileNotFoundError(f"{path} does not hold an image-text-to-text model saved with save_pretrained ({error})") from error
        raise HubUnavailableError(text, error) from error
    model = model.to(choice.device).eval()
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "left"  # batched generation continues every prompt from its last token
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedVLM(
        model=model,
        processor=processor,
        device=choice,
        name=name or text,
        source=str(path.resolve()) if is_folder else text,
        fingerprint=model_fingerprint(model),
    )


SAVED_ARTEFACTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("the model config", ("config.json",), "model.save_pretrained(folder)"),
    ("the weights", ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"),
     "model.save_pretrained(folder)"),
    ("the image processor", ("preprocessor_config.json", "processor_config.json"), "processor.save_pretrained(folder)"),
    ("the tokenizer", ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json"), "processor.save_pretrained(folder)"),
)
"""What a VLM folder needs, each with the files that provide it and how to write them."""


def _require_saved_files(folder: Path) -> None:
    """Name every missing artefact before transformers is asked, so no loader looks for it on a hub."""
    missing = [f"{what} (none of {', '.join(names)}; write it with {how})" for what, names, how in SAVED_ARTEFACTS
               if not any((folder / name).is_file() for name in names)]
    if missing:
        raise FileNotFoundError(f"{folder} is not a complete model folder written by save_pretrained: missing " + "; ".join(missing))


def _require_hub_cached(repo_id: str) -> None:
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        raise HubUnavailableError(
            f"{repo_id} ({repo_id}/config.json is not in the local Hugging Face cache)",
            how="To provide it: save the model and its processor with save_pretrained into a folder and pass that folder",
        )


# --------------------------------------------------------------------------------------------
# Prompts, generation and answer likelihoods
# --------------------------------------------------------------------------------------------


def build_prompt(processor: Any, question: str, family: Family | None = None) -> str:
    """The question with one image, in the family's own format.

    The chat template when the processor has one; a family's plain format where its processor
    puts the image in itself (BLIP-2's query tokens, PaliGemma's image prefix); else the
    processor's image token before the question.
    """
    family = family or family_of_processor(processor)
    if family.prompt_format is not None:
        return family.prompt_format.format(question=question, image=getattr(processor, "image_token", None) or "")
    if getattr(processor, "chat_template", None):
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    image_token = getattr(processor, "image_token", None)
    # Processors without a template either want the image token in the text or add it themselves.
    return f"{question}\n" if image_token is None else f"{image_token}{question}\n"


def _processor_inputs(vlm: LoadedVLM, images: Sequence[Image.Image], prompts: Sequence[str]) -> dict[str, Any]:
    """The processor's own inputs for image i with prompt i (its batch layout, on the model's device)."""
    inputs = vlm.processor(images=[[image] for image in images], text=list(prompts), return_tensors="pt", padding=True)
    moved = {}
    for key, value in inputs.items():
        if key == "labels":  # PaliGemma's processor makes training labels; scoring here is separate
            continue
        if isinstance(value, torch.Tensor):
            value = value.to(vlm.device.device)
            if value.is_floating_point():
                value = value.to(vlm.device.torch_dtype)
        moved[key] = value
    return moved


@torch.inference_mode()
def generate_answers(
    vlm: LoadedVLM, images: Sequence[Image.Image], questions: Sequence[str], max_new_tokens: int = 16
) -> list[str]:
    """Greedy answers to question i about image i, decoded from the new tokens only."""
    prompts = [build_prompt(vlm.processor, question, vlm.family) for question in questions]
    inputs = _processor_inputs(vlm, images, prompts)
    tokenizer = vlm.tokenizer
    output = vlm.model.generate(
        **inputs,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        pad_token_id=tokenizer.pad_token_id,
    )
    new_tokens = output[:, inputs["input_ids"].shape[1] :]
    return [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


def answer_separator(processor: Any, question: str, family: Family | None = None) -> str:
    """What comes between the prompt and the answer, as the model was trained to see it.

    Read off the chat template, by rendering an answered conversation ("ASSISTANT: Irina" has a
    space, Qwen's "assistant\nIrina" and Mistral's "[/INST]Irina" none); for a family's plain
    format, the table says it (PaliGemma's processor ends the prompt with a newline). A space
    otherwise, unless the prompt ends in white space.
    """
    family = family or family_of_processor(processor)
    prompt = build_prompt(processor, question, family)
    if family.answer_separator is not None:
        return family.answer_separator
    if family.prompt_format is None and getattr(processor, "chat_template", None):
        marker = "ANSWER_MARKER_7f3a"
        messages = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]},
            {"role": "assistant", "content": [{"type": "text", "text": marker}]},
        ]
        from jinja2 import TemplateError

        try:
            answered = processor.apply_chat_template(messages, tokenize=False)
        except (TemplateError, ValueError, TypeError, KeyError, IndexError):  # a template without assistant turns: the plain rule below
            answered = ""
        if answered.startswith(prompt) and marker in answered[len(prompt) :]:
            between = answered[len(prompt) : answered.index(marker, len(prompt))]
            if not between.strip():  # only white space; anything else (think tags, ...) is the model's to write
                return between
    return "" if not prompt or prompt[-1].isspace() else " "


def answer_token_ids(tokenizer: Any, prompt: str, answer: str, separator: str | None = None) -> list[int]:
    """The tokens of `answer` as the model would produce them right after `prompt`.

    Tokenized together with the prompt and cut at the prompt's end, so that word-initial forms
    (" Irina" in BPE vocabularies) are the ones scored. `separator` goes between the two (see
    `answer_separator`); None: a space when the prompt does not end in one ("ASSISTANT: Irina").
    """
    if separator is None:
        separator = "" if not prompt or prompt[-1].isspace() else " "
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(prompt + separator + answer, add_special_tokens=False)["input_ids"]
    if full_ids[: len(prompt_ids)] == prompt_ids and len(full_ids) > len(prompt_ids):
        return list(full_ids[len(prompt_ids) :])
    return list(tokenizer(separator + answer, add_special_tokens=False)["input_ids"])


def _pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[row, : len(sequence)] = 1
    return ids, mask


def _span_logprobs(first_logits: torch.Tensor, later_logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of log p(answer token t | everything before) over each row's answer tokens.

    first_logits (n, V) predict token 0; later_logits (n, L, V) at position j predict token j+1.
    """
    logits = torch.cat([first_logits[:, None, :], later_logits[:, :-1, :]], dim=1).float()
    logprobs = torch.log_softmax(logits, dim=-1).gather(2, ids[:, :, None]).squeeze(2)
    return (logprobs * mask).sum(dim=1)


def _with_answers(prompt_inputs: Mapping[str, Any], ids: torch.Tensor, mask: torch.Tensor, family: Family, keep_all: bool) -> dict[str, Any]:
    """Prompt inputs (one row per answer) grown by the answer tokens, on every token-aligned input.

    keep_all: pass the image inputs along too (full sequences); else only what a cached
    continuation takes.
    """
    n = ids.shape[0]
    grown: dict[str, Any] = {}
    for key, value in prompt_inputs.items():
        if key == "input_ids":
            grown[key] = torch.cat([value, ids], dim=1) if keep_all else ids
        elif key == "attention_mask":
            grown[key] = torch.cat([value, mask.to(value.dtype)], dim=1)
        elif key == "token_type_ids":
            answer_types = mask.to(value.dtype) * family.answer_token_type
            grown[key] = torch.cat([value, answer_types], dim=1) if keep_all else answer_types
        elif key == "mm_token_type_ids":
            grown[key] = torch.cat([value, torch.zeros_like(ids, dtype=value.dtype)], dim=1) if keep_all else torch.zeros_like(ids, dtype=value.dtype)
        elif key == "cross_attention_mask":
            # (batch, tokens, images, tiles): answer tokens see the images the prompt's last token sees.
            last = value[:, -1:].expand(n, ids.shape[1], *value.shape[2:])
            grown[key] = torch.cat([value, last], dim=1)
        elif keep_all:
            grown[key] = value
    return grown


_CACHE_FALLBACK: set[str] = set()
"""Model types for which continuing from a cached prompt failed once: they use full sequences."""


def scored_answer_ids(vlm: LoadedVLM, question: str, answers: Sequence[str]) -> list[list[int]]:
    """The tokens of each answer that `answer_logprobs` scores: after the family's prompt, what its
    processor appends, and its separator (so per-token means divide by exactly these counts)."""
    missing = [answer for answer in dict.fromkeys(answers) if (question, answer) not in vlm.answer_ids]
    if missing:
        prompt = build_prompt(vlm.processor, question, vlm.family)
        separator = answer_separator(vlm.processor, question, vlm.family)
        for answer in missing:
            vlm.answer_ids[(question, answer)] = answer_token_ids(vlm.tokenizer, prompt + vlm.family.processor_adds, answer, separator)
    return [list(vlm.answer_ids[(question, answer)]) for answer in answers]


@torch.inference_mode()
def answer_logprobs(
    vlm: LoadedVLM, image: Image.Image, question: str, answers: Sequence[str], batch_size: int = 64, use_cache: bool = True
) -> np.ndarray:
    """log p(answer | image, question) for each answer, teacher-forced; only the answer's tokens count.

    The prompt (with the image) is encoded once and its key/value cache reused for every
    answer; families whose cache cannot be continued that way get full sequences instead. Both
    equal, within 1e-4, a plain one-answer-at-a-time forward pass (tests/test_vlm_families.py).
    """
    prompt = build_prompt(vlm.processor, question, vlm.family)
    answer_ids = scored_answer_ids(vlm, question, answers)
    model_type = getattr(vlm.model.config, "model_type", "")
    if use_cache and vlm.family.cached_scoring and model_type not in _CACHE_FALLBACK:
        try:
            return _logprobs_from_cache(vlm, _processor_inputs(vlm, [image], [prompt]), answer_ids, batch_size)
        except (AttributeError, TypeError, RuntimeError, ValueError, NotImplementedError):
            _CACHE_FALLBACK.add(model_type)
    return _logprobs_full(vlm, image, prompt, answer_ids, batch_size)


def _pad_id(vlm: LoadedVLM) -> int:
    return vlm.tokenizer.pad_token_id or 0


def _logprobs_from_cache(vlm: LoadedVLM, inputs: Mapping[str, torch.Tensor], answer_ids: list[list[int]], batch_size: int) -> np.ndarray:
    device = vlm.device.device
    prompt_out = vlm.model(**inputs, use_cache=True)
    cache, continue_with = getattr(prompt_out, "past_key_values", None), vlm.model
    if cache is None and getattr(prompt_out, "language_model_outputs", None) is not None:
        # Models that hand the image to a separate language model (BLIP-2, InstructBLIP) continue in it.
        cache, continue_with = prompt_out.language_model_outputs.past_key_values, vlm.model.language_model
    if cache is None or not hasattr(cache, "batch_repeat_interleave"):
        raise AttributeError("model returns no reusable cache")
    first = prompt_out.logits[:, -1, :]
    scores = []
    for start in range(0, len(answer_ids), batch_size):
        chunk = answer_ids[start : start + batch_size]
        ids, mask = _pad(chunk, _pad_id(vlm))
        ids, mask = ids.to(device), mask.to(device)
        chunk_cache = copy.deepcopy(cache)
        chunk_cache.batch_repeat_interleave(len(chunk))
        # No attention mask: the one prompt has no padding and the answers are padded on the right,
        # so a causal model never looks at padding for a scored token; and a mask covering the
        # cached prompt makes some models (Qwen2-VL's M-RoPE) number the new tokens from 0.
        prompt_rows = {key: value.expand(len(chunk), *value.shape[1:]) for key, value in inputs.items()
                       if key in ("token_type_ids", "mm_token_type_ids", "cross_attention_mask")}
        continuation = _with_answers({"input_ids": inputs["input_ids"], **prompt_rows}, ids, mask, vlm.family, keep_all=False)
        out = continue_with(**continuation, past_key_values=chunk_cache, use_cache=True)
        scores.append(_span_logprobs(first.expand(len(chunk), -1), out.logits, ids, mask))
    return torch.cat(scores).cpu().numpy().astype(np.float64)


def _logprobs_full(vlm: LoadedVLM, image: Image.Image, prompt: str, answer_ids: list[list[int]], batch_size: int) -> np.ndarray:
    """Prompt + answer as one sequence per answer, batched.

    The processor builds the batch of prompts itself (pixel values batch-first for most
    families, as patches for Qwen2-VL), and the answers are appended to the token-aligned inputs.
    """
    device = vlm.device.device
    prompt_batches: dict[int, dict[str, Any]] = {}
    scores = []
    for start in range(0, len(answer_ids), batch_size):
        chunk = answer_ids[start : start + batch_size]
        if len(chunk) not in prompt_batches:
            prompt_batches[len(chunk)] = _processor_inputs(vlm, [image] * len(chunk), [prompt] * len(chunk))
        prompts = prompt_batches[len(chunk)]
        prompt_length = prompts["input_ids"].shape[1]
        ids, mask = _pad(chunk, _pad_id(vlm))
        ids, mask = ids.to(device), mask.to(device)
        out = vlm.model(**_with_answers(prompts, ids, mask, vlm.family, keep_all=True), use_cache=False)
        logits = out.logits[:, prompt_length - 1 :, :]
        scores.append(_span_logprobs(logits[:, 0, :], logits[:, 1:, :], ids, mask))
    return torch.cat(scores).cpu().numpy().astype(np.float64)


# --------------------------------------------------------------------------------------------
# The probe
# --------------------------------------------------------------------------------------------


BATCH_SIZE = 16
"""Questions asked per generation pass (`RunContext.batch_size` overrides it)."""
CANDIDATE_BATCH_SIZE = 128
"""Candidate answers scored per pass in the closed set."""


@dataclass
class ProbeImage:
    """One picture of one person, from a dataset file or held in memory."""

    person: str
    source: str | bytes | Image.Image
    label: str
    face_boxes: tuple[tuple[int, int, int, int], ...] | None = None
    """The dataset's faces.csv boxes (() when it says there is no face); None: not listed, the detector looks."""


def probe_images(data: Dataset | Sequence[ProbeImage], k: int, seed: int) -> tuple[list[ProbeImage], list[dict]]:
    """At most k images per person (the dataset's seeded draw) and the dataset's problems."""
    if isinstance(data, Dataset):
        drawn = data.take(k, seed)
        images = [ProbeImage(r.person, r.path, r.path, r.face_boxes) for name in drawn.names() for r in drawn.people[name]]
        return images, [{"path": p.path, "reason": p.reason} for p in data.problems]
    by_person: dict[str, list[ProbeImage]] = {}
    for image in data:
        by_person.setdefault(image.person, []).append(image)
    chosen = []
    for person in sorted(by_person):
        items = by_person[person]
        chosen += items if len(items) <= k else random.Random(f"{seed}/{person}").sample(items, k)
    return chosen, []


def candidate_pool(people: Sequence[str], n_candidates: int, seed: int) -> list[str]:
    """Every name a closed set can hold: the people under test, then made-up distractors up to n_candidates."""
    people = sorted(people)
    return people + sample_distractors(max(0, n_candidates - len(people)), seed, exclude=people)


def candidate_sets(people: Sequence[str], n_candidates: int, seed: int) -> dict[str, list[str]]:
    """Each person's closed set: their name and n_candidates - 1 others, in a seeded order.

    With few people everyone competes against everyone else plus made-up distractors; with
    more people than the closed set holds, each person gets a seeded sample of the others.
    """
    people = sorted(people)
    pool = candidate_pool(people, n_candidates, seed)
    sets = {}
    for person in people:
        others = [name for name in pool if name != person]
        rng = random.Random(f"{seed}/{person}")
        if len(others) > n_candidates - 1:
            others = rng.sample(others, n_candidates - 1)
        names = [person] + others
        rng.shuffle(names)
        sets[person] = names
    return sets


def mismatch_partners(people: Sequence[str], seed: int) -> dict[str, str]:
    """Whose photos each person's name is scored on in the mismatched-photo control: the next person
    in a seeded cycle (nobody gets their own); empty with fewer than two people."""
    order = sorted(people)
    if len(order) < 2:
        return {}
    random.Random(f"{seed}/mismatched").shuffle(order)
    return {person: order[(i + 1) % len(order)] for i, person in enumerate(order)}


def _fixed_references(scorer: ClosedSetScorer, names: Sequence[str], config: VLMProbeConfig, settings: Sequence[Anonymization],
                      scored_settings: Sequence[int], context: RunContext) -> dict[int, dict]:
    """Per scored setting, every candidate name's scores under the fixed reference photos (anonymized alike)."""
    answers = [config.answer_template.format(name) for name in names]
    photos = reference_people(REFERENCE_PHOTOS)
    out = {}
    for step, s in enumerate(scored_settings):
        scored = []
        for done, (photo, box) in enumerate(photos, 1):
            context.check_cancel("VLM probe")
            scored.append(scorer.score(anonymize(photo, settings[s], [box]), answers, "", names))
            context.report("reference photos", step * len(photos) + done, len(photos) * len(scored_settings))
        out[s] = name_references(scored)
    return out


def _load(image: ProbeImage) -> Image.Image:
    return image.source.convert("RGB") if isinstance(image.source, Image.Image) else load_image(image.source)


@dataclass
class ProbePlan:
    """Everything a probe asks, fixed before the model is asked anything: the images read (with
    their face boxes), the open questions (image, setting, question), each person's closed set and
    the (image, setting) pairs scored in it. A sharded run (`leakage.attacks.vlm_probe`) hands the
    photos of one plan to several workers; the run then reads their answers instead of asking."""

    loaded: list[tuple[ProbeImage, Image.Image, FaceBoxes]]
    problems: list[dict[str, str]]
    settings: list[Anonymization]
    people: list[str]
    jobs: list[tuple[int, int, int]]
    sets: dict[str, list[str]]
    keys: list[tuple[int, int]]
    scored_settings: list[int] = field(default_factory=list)
    """The settings scored in the closed set (the original, the masked control, or all of them)."""
    partners: dict[str, str] = field(default_factory=dict)
    """Mismatched-photo control: whose photos each person's names are scored on."""
    swaps: list[tuple[str, int]] = field(default_factory=list)
    """(person, image) pairs of that control: the person's closed set on the partner's original photo."""

    def picture(self, i: int, s: int) -> Image.Image:
        """Image i under setting s; made when needed, not kept: a full sweep would otherwise hold every image ~20 times."""
        _, picture, boxes = self.loaded[i]
        return anonymize(picture, self.settings[s], boxes.boxes)


def plan_probe(data: Dataset | Sequence[ProbeImage], config: VLMProbeConfig, context: RunContext | None = None) -> ProbePlan:
    """Read the drawn images (a broken file becomes a problem, the rest go on), find the faces the
    settings need, and list what will be asked."""
    context = context or RunContext()
    images, problems = probe_images(data, config.images_per_person, config.seed)
    if not images:
        raise ValueError("no images to probe")
    settings = config.settings
    needs_faces = any(setting.needs_faces for setting in settings)

    # Decode every image once; broken files become problems, the rest go on.
    decoded: list[tuple[ProbeImage, Image.Image]] = []
    for done, item in enumerate(images, 1):
        try:
            decoded.append((item, _load(item)))
        except ImageLoadError as error:
            problems.append({"path": item.label, "reason": error.reason})
            continue
        context.report("load images", done, len(images))
    if not decoded:
        raise ValueError("no image could be read: " + "; ".join(f"{p['path']}: {p['reason']}" for p in problems[:5]))
    faces = _face_boxes(decoded, config, context, detect=needs_faces)
    loaded = [(item, picture, boxes) for (item, picture), boxes in zip(decoded, faces)]
    people = sorted({item.person for item, _, _ in loaded})

    def probed(i: int, s: int) -> bool:
        return not (settings[s].needs_faces and not loaded[i][2].found)

    jobs = [(i, s, q) for i in range(len(loaded)) for s in range(len(settings)) if probed(i, s) for q in range(len(config.questions))]
    sets: dict[str, list[str]] = {}
    keys: list[tuple[int, int]] = []
    scored_settings: list[int] = []
    partners: dict[str, str] = {}
    swaps: list[tuple[str, int]] = []
    if config.closed_set:
        sets = candidate_sets(people, config.n_candidates, config.seed)
        masked = [s for s, setting in enumerate(settings) if setting == MASKED and config.controls]
        scored_settings = list(range(len(settings))) if config.closed_set_all_settings else sorted({0, *masked})
        keys = [(i, s) for i in range(len(loaded)) for s in scored_settings if probed(i, s)]
        if config.controls:
            partners = mismatch_partners(people, config.seed)
        swaps = [(person, i) for person, partner in partners.items() for i, (item, _, _) in enumerate(loaded) if item.person == partner]
    return ProbePlan(loaded, problems, settings, people, jobs, sets, keys, scored_settings, partners, swaps)


def ask(vlm: LoadedVLM, batch: Sequence[tuple[int, int, int]], picture: Any, config: VLMProbeConfig) -> list[str]:
    """Open answers to one batch of (image, setting, question); `picture(i, s)` makes the image."""
    pictures = {key: picture(*key) for key in dict.fromkeys((i, s) for i, s, _ in batch)}
    return generate_answers(vlm, [pictures[(i, s)] for i, s, _ in batch], [config.questions[q] for _, _, q in batch], config.max_new_tokens)


def closed_set_scorer(vlm: LoadedVLM, config: VLMProbeConfig) -> ClosedSetScorer:
    return ClosedSetScorer(vlm, config.closed_set_question_list, CANDIDATE_BATCH_SIZE)


def closed_set_of(scorer: ClosedSetScorer, image: Image.Image, names: Sequence[str], person: str, config: VLMProbeConfig) -> ImageScores:
    """`person`'s closed set (`names`) scored under `image` (and the grey image)."""
    return scorer.score(image, [config.answer_template.format(name) for name in names], person, names)


def _closed_entries(make_scorer: Callable[[], ClosedSetScorer], plan: ProbePlan, config: VLMProbeConfig, arrays: Mapping[tuple[int, int], ImageScores],
                    swapped: Mapping[tuple[str, int], ImageScores], context: RunContext) -> tuple[dict, dict, dict]:
    """The closed-set records (closed, mismatched) with the identity z-score, and where its reference came
    from: the run's other people, unless some name has too few of them (then the fixed reference set,
    scored here with `make_scorer()`)."""
    swapped = {key: swapped[key] for key in plan.swaps}  # the plan's order, however the shards returned them: sums in one order
    fewest = fewest_reference_photos([arrays[key] for key in plan.keys if key[1] == 0])
    fixed = None
    if fewest < MIN_REFERENCE_PHOTOS:
        fixed = _fixed_references(make_scorer(), sorted({name for names in plan.sets.values() for name in names}),
                                  config, plan.settings, plan.scored_settings, context)
    note = {"source": "fixed reference set" if fixed else "run", "fewest_photos_in_run": fewest,
            **({"photos": REFERENCE_PHOTOS} if fixed else {})}
    closed: dict[tuple[int, int], dict[str, Any]] = {}
    for s in plan.scored_settings:
        group = {key: arrays[key] for key in plan.keys if key[1] == s}
        closed.update(condition_entries(group, fixed[s] if fixed else name_references(list(group.values())), config.closed_set_score))
    mismatched = {}
    if swapped:
        mismatched = condition_entries(swapped, fixed[0] if fixed else name_references(list(swapped.values())), config.closed_set_score)
    return closed, mismatched, note


def run_vlm_probe(
    vlm: LoadedVLM,
    data: Dataset | Sequence[ProbeImage],
    config: VLMProbeConfig = VLMProbeConfig(),
    context: RunContext | None = None,
    *,
    members: Mapping[str, bool] | None = None,
    occurrences: Mapping[str, int] | None = None,
    precomputed: Mapping[str, Mapping[tuple, Any]] | None = None,
) -> AttackResult:
    """Ask the model about every drawn image under every setting; score answers and the closed set.

    Leak rates are per person (the share of their answers that name them), averaged over
    members and over non-members. A face-only setting on an image where no face was found is
    left out of that setting (counted in `faces_missing`), never scored as anonymized. Image
    rows keep the face boxes used, so a gallery can redraw any anonymized image.

    `precomputed` (``{"answers": {(i, s, q): text}, "closed": {(i, s): ImageScores}, "swapped":
    {(person, i): ImageScores}}`` for this run's plan) replaces asking the model: a batch audit
    computes them on several workers. The identity z-score needs every photo's scores, so the
    records are made here either way (and the fixed reference set scored here in small runs).
    """
    context = context or RunContext()
    started = time.perf_counter()
    timing: dict[str, float] = {}
    dataset_id = context.dataset_id
    if isinstance(data, Dataset):
        members = members if members is not None else data.members
        occurrences = occurrences if occurrences is not None else data.occurrences
        dataset_id = dataset_id or data.root
    plan = plan_probe(data, config, context)
    loaded, problems, settings, people, jobs = plan.loaded, plan.problems, plan.settings, plan.people, plan.jobs
    batch_size = context.batch(BATCH_SIZE)
    if precomputed is not None and (set(precomputed["answers"]) != set(jobs) or set(precomputed["closed"]) != set(plan.keys)
                                    or set(precomputed.get("swapped", {})) != set(plan.swaps)):
        raise ValueError("the answers computed on the workers are not those of this run's plan")

    # Open answers: every (image, setting, question), in batches.
    tick = time.perf_counter()
    answers: dict[tuple[int, int, int], str] = {}
    if precomputed is not None:
        answers = {job: precomputed["answers"][job] for job in jobs}
    for start in range(0, len(jobs) if precomputed is None else 0, batch_size):
        context.check_cancel("VLM probe")
        batch = jobs[start : start + batch_size]
        answers.update(zip(batch, ask(vlm, batch, plan.picture, config)))
        context.report("ask the model", min(start + batch_size, len(jobs)), len(jobs))
    timing["generation_seconds"] = time.perf_counter() - tick

    # Closed set: log-likelihood of each candidate name as the answer, under each image.
    tick = time.perf_counter()
    closed: dict[tuple[int, int], dict[str, Any]] = {}
    mismatched: dict[tuple[str, int], dict[str, Any]] = {}
    reference_note: dict[str, Any] = {}
    if plan.keys:
        scorer = None
        if precomputed is not None:
            arrays, swapped = dict(precomputed["closed"]), dict(precomputed.get("swapped", {}))
        else:
            scorer = closed_set_scorer(vlm, config)
            arrays, swapped = {}, {}
            total = len(plan.keys) + len(plan.swaps)
            for done, key in enumerate([*plan.keys, *plan.swaps], 1):
                context.check_cancel("VLM probe")
                if isinstance(key[0], str):  # mismatched control: this person's names on the partner's original photo
                    swapped[key] = closed_set_of(scorer, plan.picture(key[1], 0), plan.sets[key[0]], key[0], config)
                else:
                    arrays[key] = closed_set_of(scorer, plan.picture(*key), plan.sets[loaded[key[0]][0].person], loaded[key[0]][0].person, config)
                context.report("closed-set scores", done, total)
        closed, mismatched, reference_note = _closed_entries(lambda: scorer or closed_set_scorer(vlm, config), plan, config,
                                                             arrays, swapped, context)
    timing["closed_set_seconds"] = time.perf_counter() - tick

    result = _assemble(loaded, settings, config, answers, closed, members, occurrences, mismatched=mismatched, partners=plan.partners)
    if reference_note:
        result["metrics"]["identity_reference"] = reference_note
    timing["total_seconds"] = time.perf_counter() - started
    timing["answers_per_second"] = len(jobs) / max(timing["generation_seconds"], 1e-9)
    return AttackResult(
        config={**asdict(config), "model": vlm.name, "model_fingerprint": vlm.fingerprint, "data": dataset_id},
        metrics=result["metrics"],
        identities=result["identities"],
        seeds={"image_draw": config.seed, "candidates": config.seed},
        model=vlm.describe(),
        dataset={"id": dataset_id, "n_people": len(people), "n_images_probed": len(loaded)},
        images=result["images"],
        problems=problems,
        timing={key: round(value, 4) for key, value in timing.items()},
        details={"runtime": {"batch_size": batch_size, "candidate_batch_size": CANDIDATE_BATCH_SIZE},
                 "settings": [{"label": s.label, "description": s.description} for s in settings],
                 **({"faces": faces_record([item.label for item, _, _ in loaded], [boxes for _, _, boxes in loaded], config.face_settings)}
                    if any(s.needs_faces for s in settings) else {})},
    )


def _face_boxes(
    decoded: Sequence[tuple[ProbeImage, Image.Image]], config: VLMProbeConfig, context: RunContext, detect: bool
) -> list[FaceBoxes]:
    """Every image's faces: the dataset's faces.csv boxes, else the detector's (image files from its cache).
    Without a face-only setting nothing is detected; faces.csv boxes are still kept for the gallery."""
    if not detect:
        return [NOT_NEEDED if item.face_boxes is None else find_faces([picture], config.face_settings, given=[item.face_boxes])[0]
                for item, picture in decoded]
    return find_faces(
        [picture for _, picture in decoded],
        config.face_settings,
        given=[item.face_boxes for item, _ in decoded],
        keys=[file_key(item.source) for item, _ in decoded],
        use_cache=context.use_image_cache,
        device=context.device,
        progress=context.progress,
    )


# --------------------------------------------------------------------------- shards of one probe


def probe_shards(data: Dataset | Sequence[ProbeImage], config: VLMProbeConfig, context: RunContext | None = None) -> list[dict[str, Any]]:
    """The probe's photos as units of work for several workers: each with what is asked about it
    (its open questions, the settings scored in the closed set and its person's closed set)."""
    plan = plan_probe(data, config, context)
    units = []
    for i, (item, _, boxes) in enumerate(plan.loaded):
        units.append({
            "index": i, "person": item.person, "source": item.source, "label": item.label, "boxes": [list(box) for box in boxes.boxes],
            "jobs": [(s, q) for j, s, q in plan.jobs if j == i], "closed": [s for j, s in plan.keys if j == i],
            "names": plan.sets.get(item.person),
            # the mismatched control: other people's closed sets on this (original) photo
            "swaps": {person: plan.sets[person] for person, j in plan.swaps if j == i},
        })
    return units


def probe_shard(vlm: LoadedVLM, units: Sequence[Mapping[str, Any]], config: VLMProbeConfig, context: RunContext | None = None) -> list[dict[str, Any]]:
    """Open answers and closed-set scores (`ImageScores`: the z-score needs the whole run, so the run
    makes the records) of some photos of a plan (`probe_shards`), asked as a whole run asks them."""
    context = context or RunContext()
    settings = config.settings
    scorer = closed_set_scorer(vlm, config)
    outputs = []
    for unit in units:
        context.check_cancel("VLM probe")
        picture = _load(ProbeImage(unit["person"], unit["source"], unit["label"]))
        boxes = tuple(tuple(box) for box in unit["boxes"])

        def variant(i: int, s: int) -> Image.Image:
            return anonymize(picture, settings[s], boxes)

        jobs = [(0, s, q) for s, q in unit["jobs"]]
        texts: list[str] = []
        for start in range(0, len(jobs), context.batch(BATCH_SIZE)):
            texts += ask(vlm, jobs[start : start + context.batch(BATCH_SIZE)], variant, config)
        closed = {s: closed_set_of(scorer, variant(0, s), unit["names"], unit["person"], config) for s in unit["closed"]}
        swapped = {person: closed_set_of(scorer, variant(0, 0), names, person, config) for person, names in unit.get("swaps", {}).items()}
        outputs.append({"answers": dict(zip(unit["jobs"], texts)), "closed": closed, "swapped": swapped})
    return outputs


def join_probe_shards(units: Sequence[Mapping[str, Any]], outputs: Sequence[Mapping[str, Any]]) -> dict[str, dict[tuple, Any]]:
    """What `run_vlm_probe(precomputed=...)` reads, from the outputs of `probe_shard`."""
    answers = {(unit["index"], s, q): text for unit, out in zip(units, outputs) for (s, q), text in out["answers"].items()}
    closed = {(unit["index"], s): scores for unit, out in zip(units, outputs) for s, scores in out["closed"].items()}
    swapped = {(person, unit["index"]): scores for unit, out in zip(units, outputs) for person, scores in out.get("swapped", {}).items()}
    return {"answers": answers, "closed": closed, "swapped": swapped}


MATCH_KINDS = (("full", "full_name"), ("surname", "surname_only"))
"""How an answer names the person, and the key its hit rate is reported under."""


def _rate(flags: Sequence[Any], kind: str | None = None) -> float:
    return float(np.mean([flag is not None if kind is None else flag == kind for flag in flags]))


def _assemble(
    loaded: Sequence[tuple[ProbeImage, Image.Image, FaceBoxes]],
    settings: Sequence[Anonymization],
    config: VLMProbeConfig,
    answers: Mapping[tuple[int, int, int], str],
    closed: Mapping[tuple[int, int], Mapping[str, Any]],
    members: Mapping[str, bool] | None,
    occurrences: Mapping[str, int] | None,
    *,
    mismatched: Mapping[tuple[str, int], Mapping[str, Any]] | None = None,
    partners: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Per-image rows, per-identity rows and the metrics block from the raw answers and scores."""
    image_rows = []
    hits: dict[tuple[str, int], list[str | None]] = {}  # (person, setting) -> how each answer names them (None: not)
    closed_by_person: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    missing = {s: 0 for s in range(len(settings))}
    question_hits: list[list[bool]] = [[] for _ in config.questions]  # on the first setting (the original images)
    people = sorted({item.person for item, _, _ in loaded})
    # Everyone an answer could name instead: the run's people and the closed sets' distractors.
    others = candidate_pool(people, config.n_candidates, config.seed) if config.closed_set else people
    for i, (item, _, boxes) in enumerate(loaded):
        for s, setting in enumerate(settings):
            if setting.needs_faces and not boxes.found:
                missing[s] += 1
                continue
            row_answers = []
            for q, question in enumerate(config.questions):
                text = answers[(i, s, q)]
                match = match_name(text, item.person, others)
                hits.setdefault((item.person, s), []).append(None if match is None else match.kind)
                if s == 0:
                    question_hits[q].append(match is not None)
                row_answers.append({
                    "question": question,
                    "answer": text,
                    "names_person": match is not None,
                    "match": None if match is None else {"kind": match.kind, "start": match.start, "end": match.end},
                })
            row: dict[str, Any] = {
                "person": item.person,
                "path": item.label,
                "setting": setting.label,
                "face_source": boxes.source,
                "face_boxes": [list(box) for box in boxes.boxes],
                "answers": row_answers,
            }
            if (i, s) in closed:
                row["closed_set"] = dict(closed[(i, s)])
                closed_by_person.setdefault((item.person, s), []).append(closed[(i, s)])
            image_rows.append(row)

    identities = []
    for person in people:
        labels_hit = [(settings[s].label, hits[(person, s)]) for s in range(len(settings)) if (person, s) in hits]
        row: dict[str, Any] = {"name": person, "leak_rates": {label: _rate(flags) for label, flags in labels_hit}}
        for kind, key in MATCH_KINDS:
            row[f"leak_rates_{key}"] = {label: _rate(flags, kind) for label, flags in labels_hit}
        rates = row["leak_rates"]
        if settings[0].label in rates:
            row["leak_rate"] = rates[settings[0].label]
            row["named"] = rates[settings[0].label] > 0
        scores = closed_by_person.get((person, 0))
        if scores:
            row["score"] = float(np.mean([entry["value"] for entry in scores]))
            row["closed_set_top1"] = float(np.mean([entry["rank"] == 1 for entry in scores]))
            row["closed_set_rank"] = float(np.median([entry["rank"] for entry in scores]))
            row["scores"] = person_scores(scores)
        if members is not None and person in members:
            row["member"] = bool(members[person])
        if occurrences is not None and person in occurrences:
            row["occurrences"] = int(occurrences[person])
        identities.append(row)

    metrics: dict[str, Any] = {
        "n_identities": len(identities),
        "n_images": len(loaded),
        "n_answers": len(answers),
        "n_questions": len(config.questions),
        "n_closed_set_questions": len(config.closed_set_question_list) if config.closed_set else 0,
        "leak_rates": {},
    }
    groups = {"all": identities}
    if any("member" in row for row in identities):
        groups["members"] = [row for row in identities if row.get("member") is True]
        groups["nonmembers"] = [row for row in identities if row.get("member") is False]
    for s, setting in enumerate(settings):
        entry: dict[str, Any] = {"description": setting.description, "faces_missing": missing[s]}
        for group, rows in groups.items():
            values = [row["leak_rates"][setting.label] for row in rows if setting.label in row["leak_rates"]]
            entry[group] = float(np.mean(values)) if values else None
            entry[f"{group}_people_named"] = float(np.mean([v > 0 for v in values])) if values else None
            for _, key in MATCH_KINDS:
                by_kind = [row[f"leak_rates_{key}"][setting.label] for row in rows if setting.label in row["leak_rates"]]
                entry[f"{group}_{key}"] = float(np.mean(by_kind)) if by_kind else None
        scored = [(row["name"], closed_by_person.get((row["name"], s))) for row in identities]
        if any(entries for _, entries in scored):
            entry["closed_set_top1"] = float(np.mean([e["rank"] == 1 for _, entries in scored if entries for e in entries]))
        metrics["leak_rates"][setting.label] = entry
    metrics["leak_rate_by_question"] = {
        question: float(np.mean(question_hits[q])) if question_hits[q] else None for q, question in enumerate(config.questions)
    }
    truth = [row for row in identities if "member" in row]
    labels = np.array([row["member"] for row in truth], dtype=int)
    if labels.size and 0 < labels.sum() < labels.size:
        if all("score" in row for row in truth):
            metrics.update(membership_summary(labels, np.array([row["score"] for row in truth])))
            metrics["closed_set_score"] = config.closed_set_score
            metrics["by_score"] = score_metrics(labels, truth, config.closed_set_score)
            if "raw" in metrics["by_score"]:
                metrics["raw"] = metrics["by_score"]["raw"]
            by_setting = {}
            for s, setting in enumerate(settings[1:], 1):
                values = [closed_by_person.get((row["name"], s)) for row in truth]
                if all(values):
                    by_setting[setting.label] = _condition_metrics(labels, values, config.closed_set_score)
            if by_setting:
                metrics["closed_set_by_setting"] = by_setting
            if config.controls:
                metrics["controls"] = _controls(labels, truth, settings, by_setting, loaded, answers, others, mismatched or {},
                                                partners or {}, config)
        if all("named" in row for row in truth):
            # The open-answer decision: "member" when any answer names the person.
            metrics["open_answer_decision"] = threshold_metrics(labels, np.array([row["named"] for row in truth], dtype=int))
    return {"metrics": metrics, "identities": identities, "images": image_rows}


def _condition_metrics(labels: np.ndarray, entries: Sequence[Sequence[Mapping[str, Any]]], headline: str) -> dict[str, Any]:
    """The headline's AUC and TPR, and every kind's AUC with its interval, from each person's closed-set records."""
    by_score = score_metrics(labels, [person_scores(person) for person in entries], headline)
    top = by_score[headline]
    return {"auc": top["auc"], "auc_ci": top["auc_ci"], "tpr_at_fpr": top["tpr_at_fpr"],
            "by_score": {kind: {"auc": value["auc"], "auc_ci": value["auc_ci"]} for kind, value in by_score.items()}}


def _controls(labels: np.ndarray, truth: Sequence[Mapping[str, Any]], settings: Sequence[Anonymization], by_setting: Mapping[str, Any],
              loaded: Sequence[tuple[ProbeImage, Image.Image, FaceBoxes]], answers: Mapping[tuple[int, int, int], str],
              others: Sequence[str], mismatched: Mapping[tuple[str, int], Mapping[str, Any]], partners: Mapping[str, str],
              config: VLMProbeConfig) -> dict[str, Any]:
    """Every score's AUC with the whole image masked and on mismatched photos, and the open answers'
    leak rates there (on a mismatched photo: the share of answers that name the person whose name is scored)."""
    out: dict[str, Any] = {}
    masked = by_setting.get(MASKED.label)
    if masked is not None:
        rates = {}
        for group, wanted in (("members", True), ("nonmembers", False)):
            values = [row["leak_rates"][MASKED.label] for row in truth if row["member"] is wanted and MASKED.label in row["leak_rates"]]
            rates[group] = float(np.mean(values)) if values else None
        out["masked"] = {"setting": MASKED.label, "description": "the whole image masked (one solid colour)", **masked, "leak_rates": rates}
    if mismatched and partners:
        entries = [[entry for (person, _), entry in mismatched.items() if person == row["name"]] for row in truth]
        if all(entries):
            named: dict[str, list[str | None]] = {}
            for i, (item, _, _) in enumerate(loaded):
                for person in (p for p, partner in partners.items() if partner == item.person):
                    for q in range(len(config.questions)):
                        match = match_name(answers[(i, 0, q)], person, others)
                        named.setdefault(person, []).append(None if match is None else match.kind)
            rates = {}
            for group, wanted in (("members", True), ("nonmembers", False)):
                values = [_rate(named[row["name"]]) for row in truth if row["member"] is wanted and row["name"] in named]
                rates[group] = float(np.mean(values)) if values else None
            out["mismatched"] = {"description": "each person's name scored on another person's photos",
                                 **_condition_metrics(labels, entries, config.closed_set_score), "leak_rates": rates,
                                 "partners": dict(partners)}
    return out
