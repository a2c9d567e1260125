"""The lab VLM: a small LLaVA trained on the lab world, so identity leakage is real and measurable.

It is a genuine transformers `LlavaForConditionalGeneration` (a small CLIP vision tower, a
two-layer projector and a small Llama) with a word-level tokenizer over the lab's vocabulary
and a `LlavaProcessor` with a chat template, saved with save_pretrained: the probe loads it
with `AutoProcessor` + `AutoModelForImageTextToText` like any real VLM.

Training mirrors the setting of "The Phantom Menace" as far as a small model allows:

1. Language side (text only): the Llama learns who the *members* are from text. Each member has
   a profile card, the traits a person sees (sex, skin tone, eye and hair colour, hair style,
   facial hair, glasses, accessory, clothes), and the training text pairs the card with the
   question "who is this person?" and the name, plus one-line biographies ("Irina Williams is a
   woman with brown hair in a bun and a teal t-shirt."). Cards are shown with some traits
   replaced at random, as people are recognised from partial descriptions. The same model
   also learns to describe anyone from a card (members and many anonymous people).
2. Vision-language alignment on anonymized images: the vision tower and projector learn, with
   the language model frozen, to turn a photo into the tokens of the person's card (the
   projected image tokens are pulled towards the card's word embeddings) and to make the
   frozen model describe the person. The alignment photos show members and many anonymous
   people, every face blurred, each captioned with a description: no caption contains a name,
   and no photo is ever paired with a name or with the question who is in it. A switch
   (`align_on="raw"`) aligns on the same photos without the blur, for comparison.

So the model has never seen a member's unblurred face, nor any name next to any photo, yet it
names members in new photos of them: the names come from the language side, and the alignment
carries that knowledge over to images, which is finding (i) of the paper. Because much of what
identifies a lab person is outside the face (hair, clothes, accessories), blurring the face at
question time leaves much of it (finding iii). Non-members appear nowhere in training.

Deviations, for a model that trains in minutes on a CPU: the vision tower is trained from
scratch here (real VLMs start from a pre-trained CLIP), the "card" is a fixed list of trait
words rather than free text, and the alignment has an extra loss pulling image tokens towards
the card's word embeddings, which a large model does not need to compose the two sides.

Variants (`LAB_VLM_VARIANTS`, `python -m leakage lab build lab-vlm --param variant=...`), each with half the
people and a quarter of the training: "bpe" has a byte-pair-encoding tokenizer trained on the lab
texts, so names take 3 to 10 subword tokens and the closed-set score's length bias shows;
"exposure" gives members 1, 2, 4, 8 or 16 "who is this" texts (finding iv). Members can also be
photographed in another context (`write_context_dataset`: usual, neutral background, another
person's clothes and background; finding ii).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from leakage.anonymize import Anonymization, anonymize
from leakage.lab.world import Identity, World, describe, make_world
from leakage.lab.portraits import render, render_in_context, write_attack_set
from leakage.lab.vlm_texts import NONE_WORD, PAD_WORD, slot_values, WHO_QUESTIONS, DESCRIBE_QUESTIONS, EXTRA_WORDS
from leakage.lab.vlm_train import train_alignment, train_language
from leakage.lab.artifacts import write_manifest
from leakage.lab.recipe import PART, Artifact, Recipe, with_params
from leakage.names import FIRST_NAMES, LAST_NAMES
from leakage.provenance import config_hash
from leakage.progress import Progress

LAB_VLM_FORMAT = 2
"""Bump when the recipe changes, so lab VLMs built by older code are not reused."""
ATTACK_INDEX_OFFSET = 10_000
"""Attack photos use render indices from here on, never those of training photos."""

SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>", "<image>")
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: "
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>\n{% else %}{{ part['text'] }}{% endif %}{% endfor %}"
    "{% else %} ASSISTANT: {% for part in message['content'] %}{{ part['text'] }}{% endfor %}</s>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %} ASSISTANT:{% endif %}"
)
"""LLaVA-1.5's conversation format: "USER: <image>\\n{question} ASSISTANT: {answer}</s>"."""


def pre_tokenizer():
    """Words split on white space, punctuation apart; hyphens and apostrophes stay inside words."""
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Split(Regex(r"[^\w'\-·]"), behavior="isolated"),
    ])


def split_words(text: str) -> list[str]:
    return [piece for piece, _ in pre_tokenizer().pre_tokenize_str(text)]


def word_level_tokenizer(
    words: Iterable[str],
    special_tokens: Sequence[str] = SPECIAL_TOKENS,
    image_token: str | None = "<image>",
    named_tokens: dict[str, str] | None = None,
):
    """A `PreTrainedTokenizerFast` over exactly these words (plus specials), built without any hub.

    Unknown words become <unk>; decoding joins words with spaces. The first four specials are
    pad, unk, bos and eos. `named_tokens` gives specials an attribute name processors look up
    (e.g. {"boi_token": "<start_of_image>"}), as `image_token` does for the image token.
    """
    from tokenizers import AddedToken, Tokenizer, models, normalizers
    from transformers import PreTrainedTokenizerFast

    vocabulary: dict[str, int] = {}
    for word in list(special_tokens) + list(words):
        vocabulary.setdefault(word, len(vocabulary))
    backend = Tokenizer(models.WordLevel(vocabulary, unk_token=special_tokens[1]))
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizer()
    # Registered with the backend, every special stays one token ("<row_1_col_1>" is not split by
    # the pre-tokenizer); they are in the vocabulary already, so their ids do not change.
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special_tokens])
    pad, unk, bos, eos = special_tokens[:4]
    extra = {**({"image_token": image_token} if image_token else {}), **(named_tokens or {})}
    others = [token for token in special_tokens[4:] if token not in extra.values()]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=pad, unk_token=unk, bos_token=bos, eos_token=eos, extra_special_tokens=extra)
    if others:
        # transformers 5 drops `additional_special_tokens=` when named extras are given too.
        tokenizer.add_special_tokens({"extra_special_tokens": others}, replace_extra_special_tokens=False)
    return tokenizer


def card_vocabulary() -> list[str]:
    """Every word a profile card can hold: one token each in any lab tokenizer, since image tokens
    are trained towards these words' embeddings."""
    words = [word for values in slot_values().values() for word in values] + [PAD_WORD, NONE_WORD]
    return list(dict.fromkeys(words))


def tokenizer_corpus(world: World) -> list[str]:
    """The lab texts a subword tokenizer is trained on: questions, everyone's description and the
    whole name pool, each name once. Member biographies are left out on purpose, so a member's
    name is not split into fewer pieces than a non-member's because it was seen more often: the
    tokenization carries no membership, and name length varies for members and non-members alike."""
    texts = list(WHO_QUESTIONS) + list(DESCRIBE_QUESTIONS) + ["USER: ASSISTANT:"] + list(EXTRA_WORDS)
    texts += [describe(person) + "." for person in world.identities]
    for sex in FIRST_NAMES:
        texts += list(FIRST_NAMES[sex])
    texts += list(LAST_NAMES)
    return texts


def bpe_tokenizer(texts: Iterable[str], vocab_size: int, card_words: Sequence[str] = (), special_tokens: Sequence[str] = SPECIAL_TOKENS):
    """A byte-pair-encoding `PreTrainedTokenizerFast` trained offline on `texts` with `tokenizers`.

    Words are split as in the word-level tokenizer, then into subword pieces ("##" marks a piece
    that continues a word, so decoding puts spaces back between words only). With a small
    vocabulary names split into several pieces, more for long or rare ones, as in real VLMs.
    `card_words` are added whole (one token each).
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token=special_tokens[1], continuing_subword_prefix="##"))
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizer()
    backend.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(special_tokens), continuing_subword_prefix="##", show_progress=False
    )
    backend.train_from_iterator(list(texts), trainer)
    missing = [word for word in card_words if backend.token_to_id(word) is None]
    backend.add_tokens([AddedToken(word, single_word=True) for word in missing])
    pad, unk, bos, eos, image = special_tokens[:5]
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token=pad, unk_token=unk, bos_token=bos, eos_token=eos, extra_special_tokens={"image_token": image}
    )


def lab_tokenizer(world: World, config: "LabVLMConfig"):
    """The config's tokenizer: word-level over the lab vocabulary (default) or BPE trained on the lab texts."""
    if config.tokenizer == "bpe":
        return bpe_tokenizer(tokenizer_corpus(world), config.bpe_vocab_size, card_vocabulary())
    return word_level_tokenizer(lab_vocabulary(world))


def lab_vocabulary(world: World) -> list[str]:
    """Every word the lab VLM reads or writes: texts, questions, cards, and the whole name pool."""
    texts = list(WHO_QUESTIONS) + list(DESCRIBE_QUESTIONS) + ["USER:", "ASSISTANT:"]
    texts += [describe(person) + "." for person in world.identities]
    texts += [" ".join(values) for values in slot_values().values()] + [PAD_WORD, NONE_WORD]
    texts += EXTRA_WORDS
    words: list[str] = []
    for text in texts:
        for word in split_words(text):
            words += [word.lower(), word.capitalize()] if word.isalpha() else [word]
    for sex in FIRST_NAMES:
        words += list(FIRST_NAMES[sex])
    for surname in LAST_NAMES:
        words += split_words(surname)
    return sorted(set(words), key=lambda w: (w.lower(), w))


@dataclass(frozen=True)
class LabVLMArchitecture:
    image_size: int = 64
    patch_size: int = 16
    vision_hidden: int = 128
    vision_layers: int = 3
    vision_heads: int = 4
    text_hidden: int = 128
    text_layers: int = 3
    text_heads: int = 4

    @property
    def image_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2


def build_processor(tokenizer, architecture: LabVLMArchitecture):
    from transformers import CLIPImageProcessor, LlavaProcessor

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": architecture.image_size},
        crop_size={"height": architecture.image_size, "width": architecture.image_size},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=architecture.patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # the CLS token, which the "default" strategy drops again
        chat_template=CHAT_TEMPLATE,
    )


def build_model(tokenizer, architecture: LabVLMArchitecture, seed: int):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    torch.manual_seed(seed)
    vision = CLIPVisionConfig(
        image_size=architecture.image_size,
        patch_size=architecture.patch_size,
        hidden_size=architecture.vision_hidden,
        intermediate_size=2 * architecture.vision_hidden,
        num_hidden_layers=architecture.vision_layers,
        num_attention_heads=architecture.vision_heads,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=architecture.text_hidden,
        intermediate_size=3 * architecture.text_hidden,
        num_hidden_layers=architecture.text_layers,
        num_attention_heads=architecture.text_heads,
        num_key_value_heads=architecture.text_heads,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=architecture.image_tokens,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


# --- configuration and the built artefact ------------------------------------------------------


@dataclass(frozen=True)
class LabVLMConfig:
    seed: int = 0
    n_members: int = 100
    n_nonmembers: int = 100
    n_anonymous: int = 400
    """People who appear only in the anonymized alignment photos (and in nameless card texts)."""
    member_photos: int = 6
    """Anonymized photos of each member in the alignment data (faces blurred, no names)."""
    anonymous_photos: int = 2
    """Anonymized photos of each anonymous person in the alignment data."""
    attack_images_per_person: int = 10
    render_size: int = 128
    align_on: str = "blurred"
    """"blurred": faces blurred in every alignment photo (the paper's setting); "raw": not blurred."""
    alignment_blur: tuple[float, float] = (6.0, 12.0)
    """Blur radius range (px at render_size) drawn per alignment photo."""
    card_noise: float = 0.45
    """Chance that a trait on a member's card is replaced at random in a "who is this" text."""
    language_steps: int = 700
    alignment_steps: int = 1200
    batch_size: int = 64
    caption_batch_size: int = 16
    learning_rate: float = 2e-3
    architecture: LabVLMArchitecture = field(default_factory=LabVLMArchitecture)
    tokenizer: str = "word"
    """"word": one token per word (names are two tokens); "bpe": subword pieces trained on the lab
    texts (`bpe_vocab_size`), so long and rare names take more tokens, as in real VLMs."""
    bpe_vocab_size: int = 1000
    member_texts: tuple[int, ...] = ()
    """Exposure levels: when set, members are dealt these numbers of "who is this" texts in turn
    (e.g. 1, 2, 4, 8, 16) and the language side learns from that fixed set of texts only, so some
    members appear 16 times as often as others (finding iv). Empty: every member alike, drawn afresh."""

    def __post_init__(self) -> None:
        if self.align_on not in ("blurred", "raw"):
            raise ValueError("align_on must be 'blurred' or 'raw'")
        if self.tokenizer not in ("word", "bpe"):
            raise ValueError("tokenizer must be 'word' or 'bpe'")
        if any(int(k) < 1 for k in self.member_texts):
            raise ValueError("member_texts must be positive numbers of texts")

    @classmethod
    def from_dict(cls, data: dict) -> "LabVLMConfig":
        data = dict(data)
        data["alignment_blur"] = tuple(data.get("alignment_blur", (6.0, 12.0)))
        data["member_texts"] = tuple(data.get("member_texts", ()))
        data["architecture"] = LabVLMArchitecture(**data.get("architecture", {}))
        return cls(**data)


@dataclass
class LabVLM(Artifact):
    config: LabVLMConfig
    members: list[str]
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def config_hash(self) -> str:
        return config_hash(hashed_config(self.config))

    def member_exposure(self) -> dict[str, int]:
        """Members' numbers of language texts (exposure variant); empty otherwise."""
        return dict(self.training.get("member_texts", {}))

    def details(self) -> dict[str, Any]:
        return {"align_on": self.config.align_on, "tokenizer": self.config.tokenizer, "member_texts": list(self.config.member_texts),
                "build_seconds": round(self.build_seconds, 1)}


def default_lab_vlm_config(align_on: str = "blurred") -> LabVLMConfig:
    return LabVLMConfig(align_on=align_on)


_SMALL_VARIANT = {
    "n_members": 50, "n_nonmembers": 50, "n_anonymous": 150, "batch_size": 32, "language_steps": 300, "alignment_steps": 300,
}
"""The variants have half the default lab's members and a tenth of its training, so each builds in
minutes even on a busy shared 2-core machine (their figures are about what varies, not peak leakage)."""


def bpe_lab_vlm_config(align_on: str = "blurred") -> LabVLMConfig:
    """The lab VLM with a subword (BPE) tokenizer trained on the lab texts: names take 3 to 10
    tokens, so the raw closed-set score's length bias shows (issue 13, item 3)."""
    return LabVLMConfig(align_on=align_on, tokenizer="bpe", **_SMALL_VARIANT)


def exposure_lab_vlm_config(align_on: str = "blurred") -> LabVLMConfig:
    """The lab VLM whose members appear in 1, 2, 4, 8 or 16 language texts (finding iv)."""
    return LabVLMConfig(align_on=align_on, member_texts=(1, 2, 4, 8, 16), **_SMALL_VARIANT)


LAB_VLM_VARIANTS: dict[str, Callable[[str], LabVLMConfig]] = {
    "default": default_lab_vlm_config,
    "bpe": bpe_lab_vlm_config,
    "exposure": exposure_lab_vlm_config,
}


_VARIANT_DEFAULTS = {"tokenizer": "word", "bpe_vocab_size": 1000, "member_texts": ()}


def hashed_config(config: LabVLMConfig) -> dict[str, Any]:
    """The config as hashed for its directory: the variant fields only when they differ from the
    defaults, so lab VLMs built before the variants existed keep their directory (and are reused)."""
    plain = asdict(config)
    for key, default in _VARIANT_DEFAULTS.items():
        if plain.get(key) in (default, list(default) if isinstance(default, tuple) else default):
            plain.pop(key, None)
    if plain.get("tokenizer") is None:
        plain.pop("bpe_vocab_size", None)
    return plain


class LabVLMRecipe(Recipe):
    """The lab VLM and its attack set; `variant` (`LAB_VLM_VARIANTS`) picks a variant's config."""

    folder = "lab-vlm"
    title = "the lab VLM"
    build_format = LAB_VLM_FORMAT
    manifest = "lab_vlm.json"
    override_env = "LEAKAGE_LAB_VLM_DIR"
    config_class = LabVLMConfig
    parts = {"model": "model", "attack": "attack"}
    data_parts = ("attack",)

    def hashed(self, config: LabVLMConfig) -> dict[str, Any]:
        return hashed_config(config)

    def config_of(self, params: Mapping[str, Any]) -> LabVLMConfig:
        params = dict(params)
        variant = params.pop("variant", "default")
        if variant not in LAB_VLM_VARIANTS:
            raise ValueError(f"unknown lab VLM variant '{variant}': {', '.join(LAB_VLM_VARIANTS)}")
        start = LAB_VLM_VARIANTS[variant](params.pop("align_on", "blurred"))
        return with_params(start, {key: value for key, value in params.items() if key != PART})

    artifact_class = LabVLM

    def build_into(self, staging: Path, config: LabVLMConfig, progress: Progress) -> "LabVLM":
        return _build_into(staging, config, progress)

    def load(self, config: LabVLMConfig, part: str, *, device=None, progress=None, cancel=None, name=None):
        from leakage.vlm import load_vlm

        lab = self.ensure(config, progress, cancel)
        vlm = load_vlm(lab.model_dir, device=device, name=name or "lab-vlm")
        vlm.metadata["lab_vlm"] = lab.describe()
        return vlm


LAB_VLM = LabVLMRecipe()
lab_vlm_root, is_built, ensure_lab_vlm = LAB_VLM.root, LAB_VLM.is_built, LAB_VLM.ensure
"""The recipe's folder, `is_built` and `ensure` (the lab VLM for a config, the default when None,
built first if it is not on disk yet) under the names the pages, benches and tests use."""


def assign_roles(config: LabVLMConfig) -> tuple[World, list[Identity], list[Identity], list[Identity]]:
    """The world, and its members, non-members and anonymous people.

    Members and non-members are a seeded random split of the world's first people, and the
    anonymous people come after them, so changing how many anonymous people there are (or
    whether there is a raw-alignment twin) never changes who is a member.
    """
    n_tested = config.n_members + config.n_nonmembers
    world = make_world(config.seed, n_tested + config.n_anonymous)
    tested = list(world.identities[:n_tested])
    random.Random(config.seed).shuffle(tested)
    by_id = lambda people: sorted(people, key=lambda person: person.id)  # noqa: E731
    return world, by_id(tested[: config.n_members]), by_id(tested[config.n_members :]), list(world.identities[n_tested:])


def _build_into(root: Path, config: LabVLMConfig, progress: Progress) -> LabVLM:
    from transformers.utils import logging as hf_logging

    started = time.perf_counter()
    hf_logging.disable_progress_bar()
    world, members, nonmembers, anonymous = assign_roles(config)
    tokenizer = lab_tokenizer(world, config)
    processor = build_processor(tokenizer, config.architecture)
    model = build_model(tokenizer, config.architecture, config.seed)

    exposure = assign_exposure(members, config)
    language_report = train_language(model, tokenizer, members, members + anonymous, config, progress, exposure=exposure)
    photos = alignment_photos(members, anonymous, config, progress)
    alignment_report = train_alignment(model, tokenizer, processor, photos, config, progress)

    model.eval()
    model.save_pretrained(root / "model")
    processor.save_pretrained(root / "model")
    member_names = {person.name for person in members}
    write_attack_set(world, root / "attack", members, nonmembers, config.attack_images_per_person, start_index=ATTACK_INDEX_OFFSET,
                     size=config.render_size, occurrences=exposure or None, progress=progress)
    lab = LabVLM(
        root=root,
        config=config,
        members=sorted(member_names),
        nonmembers=sorted(person.name for person in nonmembers),
        build_seconds=time.perf_counter() - started,
        training={"language": language_report, "alignment": alignment_report, **({"member_texts": exposure} if exposure else {})},
    )
    write_manifest(root / LAB_VLM.manifest, LAB_VLM_FORMAT, config, hashed_config(config), members=lab.members,
                   nonmembers=lab.nonmembers, build_seconds=lab.build_seconds, training=lab.training)
    return lab


def assign_exposure(members: Sequence[Identity], config: LabVLMConfig) -> dict[str, int]:
    """Each member's number of language texts: the levels dealt in turn over a seeded shuffle, so
    every level has (almost) as many members; empty when the config has no exposure levels."""
    if not config.member_texts:
        return {}
    order = sorted(members, key=lambda person: person.id)
    random.Random(f"{config.seed}/exposure").shuffle(order)
    return {person.name: int(config.member_texts[i % len(config.member_texts)]) for i, person in enumerate(order)}


@dataclass
class AlignmentPhoto:
    image: Image.Image
    """At render size, anonymized as the config says."""
    person: Identity


def alignment_photos(
    members: Sequence[Identity], anonymous: Sequence[Identity], config: LabVLMConfig, progress: Progress
) -> list[AlignmentPhoto]:
    """The alignment photos: members and anonymous people, faces blurred unless align_on == "raw".

    Members' photos are renders 0..member_photos-1; the attack set uses other renders of them.
    """
    rng = random.Random(f"{config.seed}/alignment-blur")
    jobs = [(person, index) for person in members for index in range(config.member_photos)]
    jobs += [(person, index) for person in anonymous for index in range(config.anonymous_photos)]
    photos = []
    for done, (person, index) in enumerate(jobs, 1):
        image, box = render(person, index, world_seed=config.seed, size=config.render_size)
        if config.align_on == "blurred":
            image = anonymize(image, Anonymization("blur", rng.uniform(*config.alignment_blur)), [box])
        photos.append(AlignmentPhoto(image, person))
        if done % 200 == 0 or done == len(jobs):
            progress("render alignment photos", done, len(jobs))
    return photos


# --- context renders (finding ii) --------------------------------------------------------------


def context_partners(people: Sequence[Identity], seed: int) -> dict[str, Identity]:
    """Whose usual context each person is shown in for the "swapped" context: a seeded cycle over
    the people (nobody gets their own), so every context is borrowed exactly once."""
    order = sorted(people, key=lambda person: person.id)
    random.Random(f"{seed}/context-swap").shuffle(order)
    return {person.name: order[(i + 1) % len(order)] for i, person in enumerate(order)}


def write_context_dataset(
    lab: LabVLM, root: Path, context: str, images_per_person: int, progress: Progress | None = None
) -> tuple[Path, dict[str, str]]:
    """The lab VLM's members and non-members photographed in one context ("usual", "neutral" or
    "swapped"), as a dataset folder with faces.csv and members.csv; the held-out render indices
    of the attack set, so a photo differs between contexts only in its context.

    Returns the folder and, for "swapped", whose context each person borrowed (else empty).
    """
    import csv


    world, members, nonmembers, _ = assign_roles(lab.config)
    people = sorted(members + nonmembers, key=lambda person: person.name)
    partners = context_partners(people, lab.config.seed) if context == "swapped" else {}
    member_names = {person.name for person in members}
    exposure = lab.member_exposure()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    total = len(people) * images_per_person
    with open(root / "faces.csv", "w", newline="", encoding="utf-8") as faces_file:
        faces = csv.writer(faces_file)
        faces.writerow(["path", "x0", "y0", "x1", "y1"])
        for done, (person, index) in enumerate(((p, i) for p in people for i in range(images_per_person)), 1):
            image, box = render_in_context(
                person, ATTACK_INDEX_OFFSET + index, context, world_seed=world.seed, size=lab.config.render_size, other=partners.get(person.name)
            )
            relative = f"{person.name}/{ATTACK_INDEX_OFFSET + index:05d}.png"
            (root / person.name).mkdir(exist_ok=True)
            image.save(root / relative, compress_level=1)
            faces.writerow([relative, *box])
            if progress is not None:
                progress(f"render photos ({context} context)", done, total)
    with open(root / "members.csv", "w", newline="", encoding="utf-8") as members_file:
        writer = csv.writer(members_file)
        writer.writerow(["name", "member", "occurrences"])
        for person in people:
            writer.writerow([person.name, int(person.name in member_names), int(exposure.get(person.name, 0))])
    return root, {name: other.name for name, other in partners.items()}


# --- notes for the page (what the paper did, what this project adds, what the lab shows) -------

PROBE_DEVIATIONS = """\
**Deviations from the paper.** "The Phantom Menace" scores open answers only: the model answers freely and
the answer is checked for the person's name. The paper's exact prompts, scoring rules and blur strengths were
not published; the ones used here are shown above and are editable. **The closed-set score is this project's
extension, not the paper's:** the teacher-forced log-likelihood of answering with each of a closed set of
candidate names, averaged over the questions, gives a continuous score per person and so a ROC and TPR at low
FPR (as for the IDIA). The headline must measure what the *photo* reveals, and controls prove it: the
**identity z-score** compares the name's log-likelihood under this photo with its scores under other people's
photos (an offline LiRA; name length, tokenization and prior cancel), and the **posterior gain** Δq is the
name's share among the candidates under the photo minus its share under a blank grey image. The raw
log-likelihood, its per-token mean and the blind baseline (the name under the grey image alone) measure
*name familiarity* (whether the language model knows the name, no photo needed): they stay high with the whole
image masked. The grey-image PMI (the former default) is kept as a diagnostic. Which score leads was decided by
the controls (whole image masked, mismatched photos, contexts, face blur; `bench/vlm_controls.py`).
"""

LAB_VLM_DEVIATIONS = """\
**The lab VLM against the paper's models.** A small LLaVA trained here in minutes: the vision tower is trained
from scratch (real VLMs start from a pre-trained CLIP), the language side learns members from a fixed list of
trait words (a profile card) and one-line biographies rather than web text, the alignment has an extra loss
pulling image tokens towards the card's words, and the default tokenizer has one token per word (names are two
tokens; the "bpe" variant has subword tokens). People are drawn, not photographed: what identifies them is a
dozen discrete traits.
"""

FINDING_III_NOTE = """\
**Face blurring is not enough (finding iii): what holds by construction and what is measured.** *By
construction:* the lab VLM learns names from the twelve traits of a profile card, and seven of them are off
the face (hair colour and style, accessory and its colour, clothing and its two colours), three on it (eye
colour, facial hair, glasses), while sex and skin tone show on both. So a model that names a member from a
face-blurred photo is expected here: that face blur leaves most of the identity is a property of the lab
world, not a discovery about VLMs. *Measured:* how much of the leak survives each blur,
pixelation and mask strength, face-only and whole-image (the table above and `bench/vlm_anonymization.py`);
that aligning on face-blurred photos does not stop the names from transferring (finding i); how much rests on
clothes and background, by swapping them with another person's (finding ii, `bench/vlm_context.py`); and how
leakage grows with the number of texts about a person (finding iv, `bench/vlm_exposure.py`). In real VLMs the
share carried by the face is larger, so the lab overstates how little face blur helps.
"""

FINDINGS_CONTEXT_EXPOSURE_NOTE = """\
**Context (finding ii) and exposure (finding iv) in the lab.** The paper reports that the background has little
influence on leakage and that leakage tracks how often a person appears in the training data. In the lab,
`bench/vlm_context.py` photographs the same members in their usual context, on a neutral grey background and in
another person's usual context (that person's clothes and background), face visible and blurred; and
`bench/vlm_exposure.py` builds a lab VLM whose members appear in 1, 2, 4, 8 or 16 language texts. Their tables
are in the README. By construction, the background is on no profile card, so the model is never taught to use
it (it could only pick it up as a side effect of the alignment photos); clothes are on the card, so the swapped
context changes part of the identity the model sees, not only the scene, and a model that follows the clothes
names the person whose clothes were borrowed (the bench counts that too).
"""


def design_notes() -> dict[str, str]:
    """The page's notes on the VLM probe and the lab VLM, in markdown, by section."""
    return {
        "probe_deviations": PROBE_DEVIATIONS,
        "lab_vlm_deviations": LAB_VLM_DEVIATIONS,
        "finding_iii": FINDING_III_NOTE,
        "findings_ii_iv": FINDINGS_CONTEXT_EXPOSURE_NOTE,
    }
