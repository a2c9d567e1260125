"""The settings of the backdoor evaluation (`leakage.backdoor`), kept light so that the CLI and
the registry can read them without loading torch."""

from __future__ import annotations

from dataclasses import dataclass, field

TRIGGERS = ("checkerboard", "blended")
"""Built-in triggers; anything else is the path of a trigger image (pasted like the patch)."""
MODES = ("backdoor", "targeted")
DEFAULT_TEMPLATES = ("a photo of {}", "{}", "portrait of {}", "headshot of {}", "a close-up of {}")
TRIGGER_SIZE = 0.19
"""Side of a patch trigger as a fraction of the photo's side (9 pixels of the lab CLIP's 48)."""


@dataclass(frozen=True)
class BackdoorConfig:
    mode: str = field(default="backdoor", metadata={"choices": MODES, "help": "backdoor (a trigger on any photo) or targeted (one person's photos)"})
    target: str = field(default="", metadata={"help": "the name the attack wants; empty = the one the model or data was built for"})
    source: str = field(default="", metadata={"help": "targeted poisoning: the person whose photos should be named as the target"})
    trigger: str = field(default="", metadata={"help": "checkerboard | blended | the path of a trigger image; empty = the model's or data's"})
    trigger_size: float = field(default=TRIGGER_SIZE, metadata={"help": "side of a patch trigger as a fraction of the image side", "min": 0.01, "max": 1.0})
    top_k: int = field(default=5, metadata={"help": "k of the top-k ASR", "min": 1, "max": 100})
    images_per_person: int = field(default=10, metadata={"help": "test images per person (all of the source's in targeted mode)", "min": 1, "max": 500})
    templates: tuple[str, ...] = field(default=DEFAULT_TEMPLATES, metadata={"help": "prompts, {} for the name", "max_items": 100})
    n_examples: int = field(default=6, metadata={"help": "example images with their top-5 names kept in the result", "min": 0, "max": 50})
    seed: int = 0
