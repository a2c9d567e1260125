"""What the lab VLM learns to say: the profile card of a person (slot words for face, hair,
clothes, ...), one-line biographies, and the questions of its training and probing.

Shared by the lab VLM's recipe (`leakage.lab.vlm`) and its training loops
(`leakage.lab.vlm_train`), which import it; it imports neither.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from leakage.lab.world import ACCESSORIES, CLOTHING, COLOURS, EYE_COLOURS, FACIAL_HAIR, GLASSES, HAIR_COLOURS, HAIR_STYLES, SKIN_TONE_RAMP, Identity, describe, nearest_colour

# --- the profile card --------------------------------------------------------------------------

SKIN_WORDS = ("pale", "fair", "light", "medium", "tan", "brown", "dark")
"""One word per step of the world's skin-tone ramp."""
NONE_WORD = "none"
PAD_WORD = "·"
"""Fills the card up to the number of image tokens."""

SLOTS: tuple[str, ...] = (
    "sex", "skin", "eyes", "hair colour", "hair style", "facial hair", "glasses",
    "accessory", "accessory colour", "clothing", "clothing colour", "clothing accent",
)
_ACCENTED_CLOTHING = {"striped sweater", "suit and tie", "collared shirt", "hoodie"}
_COLOURED_ACCESSORIES = {"beanie", "cap", "scarf", "headband"}


def _token(phrase: str) -> str:
    """A trait value as one word ("dark brown" -> "dark-brown")."""
    return phrase.replace(" ", "-")


def _skin_word(rgb: Sequence[int]) -> str:
    distances = [sum((a - b) ** 2 for a, b in zip(rgb, tone)) for tone in SKIN_TONE_RAMP]
    return SKIN_WORDS[int(np.argmin(distances))]


def slot_values() -> dict[str, list[str]]:
    """Every word each card slot can hold."""
    colours = [_token(name) for name in COLOURS]
    return {
        "sex": ["man", "woman"],
        "skin": list(SKIN_WORDS),
        "eyes": [_token(name) for name in EYE_COLOURS],
        "hair colour": [_token(name) for name in HAIR_COLOURS],
        "hair style": [_token(style) for style in HAIR_STYLES],
        "facial hair": list(FACIAL_HAIR),
        "glasses": list(GLASSES),
        "accessory": list(ACCESSORIES),
        "accessory colour": [NONE_WORD] + colours,
        "clothing": [_token(style) for style in CLOTHING],
        "clothing colour": colours,
        "clothing accent": [NONE_WORD] + colours,
    }


def profile(person: Identity) -> list[str]:
    """The person's card: one word per slot, in SLOTS order."""
    accessory_colour = _token(nearest_colour(person.accessory_rgb, COLOURS)) if person.accessory in _COLOURED_ACCESSORIES else NONE_WORD
    accent = _token(nearest_colour(person.clothing_accent_rgb, COLOURS)) if person.clothing_style in _ACCENTED_CLOTHING else NONE_WORD
    return [
        "woman" if person.sex == "female" else "man",
        _skin_word(person.skin_rgb),
        _token(nearest_colour(person.eye_rgb, EYE_COLOURS)),
        _token(nearest_colour(person.hair_rgb, HAIR_COLOURS)),
        _token(person.hair_style),
        person.facial_hair,
        person.glasses,
        person.accessory,
        accessory_colour,
        _token(person.clothing_style),
        _token(nearest_colour(person.clothing_rgb, COLOURS)),
        accent,
    ]


# --- questions and texts -----------------------------------------------------------------------

WHO_QUESTIONS: tuple[str, ...] = (
    "Who is this person?",
    "What is the name of the person in this image?",
    "This photo was taken at a gala. Who is the person in it?",
    "Tell me the name of this person.",
    "Who is this?",
    "Who is in this picture?",
    "Who is the person in this photo?",
    "Can you tell me who this is?",
    "Do you know who this person is?",
    "What is this person's name?",
    "Name the person in the image.",
    "Identify the person in this image.",
    "Who is shown here?",
    "Whose photo is this?",
    "This picture was taken at a party. Who is the person in it?",
    "This photo was taken at a conference. Who is in it?",
)
"""Phrasings the lab VLM learns to answer with a name (the probe's defaults are the first four)."""

DESCRIBE_QUESTIONS: tuple[str, ...] = (
    "Describe this person.",
    "What does this person look like?",
    "Describe the person in the image.",
    "What do you see in this picture?",
)

EXTRA_WORDS = """
a an the this that these those is are was were be been who whom whose what which where when why how
name names named called person people man woman men women boy girl image picture photo photograph
here there in on at of to from with and or for it its me my you your i we they he she his her him
tell say show shown identify recognise recognize know knows do does did can could would please
look looks like see describe description face portrait someone somebody anyone unknown sorry not
gala party conference event taken wedding beach office street meeting stage concert
""".split()
"""Everyday words users type into questions, so edited questions mostly stay in the vocabulary."""


def biography(person: Identity) -> str:
    return f"{person.name} is {describe(person)}."


# --- tokenizer, processor, model -----------------------------------------------------------------
