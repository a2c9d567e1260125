"""Finding faces offline, so that face-only anonymization also works on datasets without face boxes.

Two detectors, both without downloads:

* OpenCV's Haar cascade (Viola-Jones), when the installed OpenCV has it. OpenCV 4.x wheels ship
  `CascadeClassifier` and the cascade files under `cv2.data.haarcascades`; OpenCV 5 moved the
  cascades out of the main package, and then this detector is reported as unavailable.
* A skin-colour detector, always available: skin pixels in YCrCb (Chai & Ngan's ranges), cleaned
  with morphology, and kept only where a blob is face-shaped (compact, taller than wide) and has
  holes where eyes and mouth are. It is much cruder than a learned detector; it finds frontal,
  evenly lit faces and says "no face" rather than guessing on anything else.

`face_boxes` picks the best available source: the dataset's own boxes, then Haar, then skin colour.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]

HAAR_CASCADE = "haarcascade_frontalface_default.xml"
WORKING_SIDE = 256
"""Images are examined at most this large: enough for faces, and fast on a CPU."""


@dataclass(frozen=True)
class FaceBoxes:
    """Where the faces in one image are, and who said so ("dataset", "haar", "skin" or "none")."""

    boxes: tuple[Box, ...]
    source: str

    @property
    def found(self) -> bool:
        return bool(self.boxes)


@functools.cache
def _haar_classifier():
    """The frontal-face Haar cascade, or None when this OpenCV build has no cascades."""
    try:
        import cv2
    except ImportError:
        return None
    classifier_class = getattr(cv2, "CascadeClassifier", None)
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if classifier_class is None or not folder:
        return None
    path = os.path.join(folder, HAAR_CASCADE)
    if not os.path.isfile(path):
        return None
    classifier = classifier_class(path)
    return None if classifier.empty() else classifier


def haar_available() -> bool:
    return _haar_classifier() is not None


def available_detectors() -> list[str]:
    """The detectors this installation can run, best first."""
    return (["haar"] if haar_available() else []) + ["skin"]


def detector_note() -> str:
    """One sentence for the UI on which detector runs here and why."""
    if haar_available():
        return "Faces without boxes in the dataset are found with OpenCV's Haar cascade (frontal faces)."
    return (
        "Faces without boxes in the dataset are found with a simple skin-colour detector: this OpenCV "
        "build ships no Haar cascades (OpenCV 5 moved them out; opencv-python-headless 4.x has them)."
    )


def _working_copy(image: Image.Image, upscale: bool = False) -> tuple[np.ndarray, float]:
    """RGB pixels at most WORKING_SIDE on the long side (exactly, with upscale), and the factor back."""
    image = image.convert("RGB")
    scale = WORKING_SIDE / max(image.size)
    if not upscale:
        scale = min(1.0, scale)
    if scale != 1.0:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR)
    return np.asarray(image), scale


def _to_original(box: Sequence[float], scale: float, size: tuple[int, int]) -> Box:
    x0, y0, x1, y1 = (v / scale for v in box)
    return (max(0, int(x0)), max(0, int(y0)), min(size[0], int(np.ceil(x1))), min(size[1], int(np.ceil(y1))))


def detect_haar(image: Image.Image, min_size_fraction: float = 0.08) -> list[Box]:
    """Frontal faces by OpenCV's Haar cascade; raises RuntimeError when OpenCV has none."""
    import cv2

    classifier = _haar_classifier()
    if classifier is None:
        raise RuntimeError("this OpenCV build has no Haar cascades")
    # The cascade's smallest window is 24 px: small images are enlarged so small faces are seen.
    pixels, scale = _working_copy(image, upscale=True)
    grey = cv2.equalizeHist(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY))
    side = max(12, int(min(grey.shape) * min_size_fraction))
    found = classifier.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(side, side))
    return [_to_original((x, y, x + w, y + h), scale, image.size) for x, y, w, h in np.asarray(found).reshape(-1, 4)]


def skin_mask(pixels: np.ndarray) -> np.ndarray:
    """Boolean mask of skin-coloured pixels (Chai & Ngan's YCrCb box, minus near-black)."""
    import cv2

    ycrcb = cv2.cvtColor(pixels, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    return (cr >= 135) & (cr <= 175) & (cb >= 80) & (cb <= 130) & (y >= 35)


def _trim_neck(component: np.ndarray) -> int:
    """The row where the face ends: below the widest row, where the blob narrows to a neck."""
    widths = component.sum(axis=1)
    rows = np.flatnonzero(widths)
    top, bottom = rows[0], rows[-1]
    # The widest row in the upper part of the blob: the cheeks, not the shoulders below.
    upper = top + max(1, int((bottom - top + 1) * 0.6))
    widest = top + int(np.argmax(widths[top:upper]))
    for row in range(widest, bottom + 1):
        if widths[row] < 0.5 * widths[widest]:
            return row
    return bottom + 1


def detect_skin(image: Image.Image, min_size_fraction: float = 0.1) -> list[Box]:
    """Face-shaped skin blobs with eye/mouth holes; see the module docstring."""
    import cv2

    pixels, scale = _working_copy(image)
    height, width = pixels.shape[:2]
    mask = skin_mask(pixels).astype(np.uint8)
    radius = max(1, round(min(height, width) * 0.012))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_side = min(height, width) * min_size_fraction
    boxes = []
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        if w < min_side or h < min_side or area > 0.6 * height * width:
            continue
        component = labels == label
        cut = _trim_neck(component[y : y + h, x : x + w]) + y
        face = component.copy()
        face[cut:] = False
        rows, cols = np.nonzero(face)
        if rows.size == 0:
            continue
        fy0, fy1, fx0, fx1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        fw, fh = fx1 - fx0, fy1 - fy0
        if fw < min_side or not 0.45 <= fh / fw <= 2.2:
            continue
        region = face[fy0:fy1, fx0:fx1].astype(np.uint8)
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        filled = np.zeros_like(region)
        cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
        fill = region.sum() / max(1, fw * fh)
        holes = (filled > 0) & (region == 0)
        # Eyes: separate holes in the upper two thirds, left and right of the middle.
        n_holes, hole_labels, hole_stats, centroids = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=8)
        eyes = [
            centroids[i]
            for i in range(1, n_holes)
            if hole_stats[i][4] >= max(2, 0.002 * fw * fh) and centroids[i][1] < 0.7 * fh
        ]
        has_pair = any(a[0] < 0.5 * fw < b[0] or b[0] < 0.5 * fw < a[0] for a in eyes for b in eyes)
        if fill < 0.45 or not has_pair:
            continue
        # Hair usually hides the forehead, so the skin ends below the top of the face: faces are
        # about 1.25 times as tall as wide, and the missing part is above.
        top = max(0, min(fy0, fy1 - 1.25 * fw))
        boxes.append(_to_original((fx0, top, fx1, fy1), scale, image.size))
    return boxes


def detect_faces(image: Image.Image, method: str = "auto") -> FaceBoxes:
    """Faces found by `method`: "haar", "skin", or "auto" (Haar when available, skin where it finds none)."""
    if method == "auto":
        if haar_available():
            found = detect_faces(image, "haar")
            if found.found:
                return found
        method = "skin"
    if method == "haar":
        return FaceBoxes(tuple(detect_haar(image)), "haar")
    if method == "skin":
        return FaceBoxes(tuple(detect_skin(image)), "skin")
    raise ValueError(f"unknown face detector {method!r}: use auto, haar or skin")


def face_boxes(image: Image.Image, dataset_box: Sequence[int] | None = None, method: str = "auto") -> FaceBoxes:
    """The dataset's box when it has one, else what the detector finds (source "none" when nothing)."""
    if dataset_box is not None:
        return FaceBoxes((tuple(int(v) for v in dataset_box),), "dataset")  # type: ignore[arg-type]
    found = detect_faces(image, method)
    return found if found.found else FaceBoxes((), "none")
