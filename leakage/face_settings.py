"""How faces are found and used for anonymization, and how a result says so; light to import (no
torch, no images), so the CLI and pages can offer the choices before any model loads. The
detector itself is `leakage.faces`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DETECTORS = ("mtcnn",)
DEFAULT_MARGIN = 0.4
"""Measured on the real portraits (bench/faces.py, README "Face boxes"): MTCNN's box stops short of the
cameraman's ear (0.345 of the box width away), the astronaut's ears (0.10) and both chins (0.055 at
most); 0.4 covers hairline, ears and chin on both."""
DEFAULT_MIN_CONFIDENCE = 0.95
"""MTCNN's last stage is 0.999 or more sure of both portraits and 0.957 or more of every one of the 100
real face crops; the one false face it finds on the photos without a person (a motorcycle part) is at
0.929 (bench/faces.py)."""
CACHE_FLOOR = 0.7
"""Detections down to this confidence (facenet-pytorch's own last-stage threshold) are cached, so any
`min_confidence` from here up reuses them."""


class FaceDetectorUnavailable(ValueError):
    """The detector's package is not installed."""


@dataclass(frozen=True)
class FaceSettings:
    """Which detector finds faces and how its boxes are used (all of it enters a result's config)."""

    detector: str = "mtcnn"
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    """Faces the detector is less sure of are not faces."""
    margin: float = DEFAULT_MARGIN
    """Each detected box grows by this fraction of its width (left and right) and height (top and
    bottom), so that hair, ears and chin are anonymized too. Not applied to faces.csv boxes."""
    largest_only: bool = False
    """Anonymize only the largest face of each photo (default: every face, bystanders too)."""

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"unknown face detector {self.detector!r}: use {', '.join(DETECTORS)}")
        if not CACHE_FLOOR <= self.min_confidence < 1:
            raise ValueError(f"the face detector's minimum confidence must be in [{CACHE_FLOOR}, 1), got {self.min_confidence}")
        if not 0 <= self.margin <= 2:
            raise ValueError(f"the face margin is a fraction of the box, between 0 and 2, got {self.margin}")

    def describe(self) -> str:
        faces = "the largest face" if self.largest_only else "every face"
        return (f"{self.detector.upper()}, confidence at least {self.min_confidence:g}, boxes widened by "
                f"{100 * self.margin:g}% on each side, {faces} of each photo")


def detector_line(record: dict[str, Any] | None) -> str:
    """One line on how a result's faces were found (record: `leakage.faces.faces_record`)."""
    if not record:
        return ""
    settings = FaceSettings(**record["settings"])
    sources = ", ".join(f"{count} from {source}" for source, count in record["sources"].items())
    found_by = record.get("detector")
    package = ""
    if found_by:
        thresholds = "/".join(f"{value:g}" for value in found_by["stage_thresholds"])
        package = f" ({found_by['package']}, stage thresholds {thresholds}, faces from {found_by['min_face_px']} px)"
    return f"faces: {settings.describe()}{package}; images: {sources}"


def no_face_lines(record: dict[str, Any] | None) -> list[str]:
    """The detector line and every image in which no face was found (left out of the face-only settings)."""
    if not record:
        return []
    lines = ["", detector_line(record)]
    missing = record.get("no_face", [])
    if missing:
        lines.append(f"no face found in {len(missing)} of {len(record['images'])} images (left out of every face-only setting):")
        lines += [f"  {path}" for path in missing]
    return lines
