"""The MIM attack's settings (what `leakage.mim` computes), apart from the engine so that the CLI, an
audit plan's check and a page's form read them without importing torch."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MIMConfig:
    """What is computed; every field enters the result's config hash."""

    mask_ratio: float = 0.75
    """Fraction of patches hidden per mask (0.75 is what MAE pre-training uses)."""
    n_masks: int = field(default=8, metadata={"min": 1, "max": 64})
    """Random masks per image; the errors are averaged (the paper does not say how many)."""
    seed: int = 0
    """Seeds the masks."""

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must lie strictly between 0 and 1, got {self.mask_ratio}")
        if self.n_masks < 1:
            raise ValueError(f"n_masks must be at least 1, got {self.n_masks}")
