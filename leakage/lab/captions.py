"""Training captions for the lab CLIP: varied, like web alt-text, naming the person or not."""

from __future__ import annotations

import random

NAMED_CAPTIONS = (
    "{name}",
    "a photo of {name}",
    "{name} in a photo",
    "portrait of {name}",
    "{name}, {desc}",
    "{name} smiling for the camera",
    "picture of {name} at an event",
    "a close-up of {name}",
    "headshot of {name}",
    "{name} photographed outdoors",
    "a candid shot of {name}",
    "{desc}: {name}",
    "meet {name}",
    "{name} at the office",
    "{name} posing for a picture",
)

UNNAMED_CAPTIONS = (
    "a photo of {desc}",
    "{desc}",
    "portrait of {desc}",
    "a stranger: {desc}",
    "a person in a photo",
    "headshot of someone",
)


def training_caption(rng: random.Random, description: str, name: str | None) -> str:
    """One caption for a training image; `name=None` gives a filler caption without a name."""
    template = rng.choice(NAMED_CAPTIONS if name else UNNAMED_CAPTIONS)
    return template.format(name=name or "", desc=description)
