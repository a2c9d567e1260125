"""The IDIA's settings (what `leakage.idia` computes), apart from the engine so that the CLI, an
audit plan's check and a page's form read them without importing torch."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_TEMPLATES: tuple[str, ...] = (
    "{}",
    "an image of {}",
    "a photo of {}",
    "{} on a photo",
    "a photo of a person named {}",
    "a person named {}",
    "a man named {}",
    "a woman named {}",
    "the name of the person is {}",
    "a photo of a person with the name {}",
    "{} at a gala",
    "a photo of the celebrity {}",
    "actor {}",
    "actress {}",
    "a colored photo of {}",
    "a black and white photo of {}",
    "a cool photo of {}",
    "a cropped photo of {}",
    "a cropped image of {}",
    "{} in a suit",
    "{} in a dress",
)


@dataclass(frozen=True)
class IDIAConfig:
    images_per_person: int = field(default=10, metadata={"min": 1, "max": 200})
    """Attack images per person (k); the paper sweeps 1..30 and needs at least 3 for a majority."""
    n_candidates: int = field(default=1000, metadata={"min": 2, "max": 20_000})
    templates: tuple[str, ...] = field(default=DEFAULT_TEMPLATES, metadata={"max_items": 100})
    tau: int = 1
    """Member when at least tau templates name the person correctly (a count out of len(templates))."""
    seed: int = 0
    """Seeds the draw of attack images, the distractor names and the candidate order."""
    n_draws: int = field(default=20, metadata={"min": 0, "max": 500})
    """Repeated random draws of k images per person for mean ± sample std, as in the paper (0 = skip)."""
    top_k: int = field(default=5, metadata={"min": 1, "max": 100})
    keep_short: bool = False
    """Keep people with fewer than k usable images (scored on what they have, flagged `too_few_images`);
    the paper leaves them out, and so does the default (they are listed in details["excluded"])."""
    distractor_names: tuple[str, ...] = field(default=(), metadata={"max_items": 1_000_000})
    """The list distractors are drawn from (e.g. a names file of the population under test);
    empty = the built-in pool of leakage.names."""
    min_images: int | None = field(default=None, metadata={
        "help": "leave out people with fewer images than this in their folder, whatever k (default: k; a plan "
                "that sweeps k defaults to its largest k, so every k scores the same people; the paper: 30)",
        "default_from_sweep_max": "images_per_person"})
    """People with fewer images in their folder are left out at every k, so a sweep over k keeps one
    population (the paper's notebooks use 30 for every k); None = k. Unreadable files count, as finding
    them out would mean decoding every image."""

    def __post_init__(self) -> None:
        if not isinstance(self.distractor_names, tuple):  # a list read back from JSON
            object.__setattr__(self, "distractor_names", tuple(self.distractor_names))
        if not isinstance(self.templates, tuple):
            object.__setattr__(self, "templates", tuple(self.templates))
        if self.images_per_person < 1:
            raise ValueError("images_per_person must be at least 1")
        if not self.templates or any("{}" not in template for template in self.templates):
            raise ValueError("every template must contain {} where the name goes")
        if not 0 <= self.tau <= len(self.templates):
            raise ValueError(f"tau must be a count between 0 and {len(self.templates)} templates")
        if self.min_images is not None and self.min_images < 1:
            raise ValueError("min_images must be at least 1 (or None: k)")
