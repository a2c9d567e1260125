"""Real photographs that scikit-image ships inside its wheel (`skimage.data`, no download), with
what a face detector must find on them, marked by hand for the face detector's tests and bench.

* two portraits: `astronaut` (a frontal studio portrait, 512 px) and `camera` (a man in profile
  behind a camera, grey, 512 px), each with its face box (hairline to chin, cheek to cheek, or
  ear to nose tip in profile) and the points a widened box must cover: hairline, ears, chin;
* photos with no person: a cat, a coffee cup, a rocket, a motorcycle (both stereo views), a horse's
  silhouette, coins, a page of text;
* `lfw_subset`: 100 real face crops from Labeled Faces in the Wild and 100 crops without a face,
  25 px, grey (the subset scikit-image ships for its face-detection example).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    return getattr(data, name)()


def _rgb(array: np.ndarray) -> Image.Image:
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        array = np.clip(np.rint(array * 255 if array.max() <= 1 else array), 0, 255).astype(np.uint8)
    return Image.fromarray(array).convert("RGB")


@dataclass(frozen=True)
class Portrait:
    name: str
    load: Callable[[], Image.Image]
    face: Box
    """The face, marked by hand: hairline to chin, cheek to cheek (in profile: ear to nose tip)."""
    head_points: dict[str, tuple[int, int]]
    """What an anonymized region must cover beyond the face itself (marked by hand)."""
    head: Box
    """The whole head with all its hair (marked by hand): what no margin short of ~0.8 covers in profile."""


PORTRAITS = (
    Portrait(
        "astronaut", lambda: _rgb(_skimage("astronaut")), face=(180, 72, 269, 177),
        head_points={"hairline": (222, 75), "left ear": (172, 125), "right ear": (275, 130), "chin": (225, 177)},
        head=(152, 15, 302, 188),
    ),
    Portrait(
        "camera", lambda: _rgb(_skimage("camera")), face=(197, 125, 256, 196),
        head_points={"hairline": (250, 131), "ear": (180, 140), "chin": (232, 196)},
        head=(155, 64, 256, 198),
    ),
)

NO_PERSON: dict[str, Callable[[], Image.Image]] = {
    "chelsea (cat)": lambda: _rgb(_skimage("chelsea")),
    "coffee": lambda: _rgb(_skimage("coffee")),
    "rocket": lambda: _rgb(_skimage("rocket")),
    "motorcycle (left view)": lambda: _rgb(_skimage("stereo_motorcycle")[0]),
    "motorcycle (right view)": lambda: _rgb(_skimage("stereo_motorcycle")[1]),
    "horse": lambda: _rgb(_skimage("horse")),
    "coins": lambda: _rgb(_skimage("coins")),
    "page": lambda: _rgb(_skimage("page")),
}


def lfw_crops() -> tuple[list[Image.Image], list[Image.Image]]:
    """(100 face crops, 100 crops without a face), 25 x 25 grey, as RGB images."""
    crops = [_rgb(array) for array in _skimage("lfw_subset")]
    return crops[:100], crops[100:]


def covers(box: Box, point: tuple[int, int]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def iou(a: Box, b: Box) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def margin_needed(detected: Box, point: tuple[int, int]) -> float:
    """The smallest margin (fraction of the box's width or height, each side) whose widened box holds the point."""
    x0, y0, x1, y1 = detected
    width, height = x1 - x0, y1 - y0
    return max(0.0, (x0 - point[0]) / width, (point[0] - x1) / width, (y0 - point[1]) / height, (point[1] - y1) / height)
