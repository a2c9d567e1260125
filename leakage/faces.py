"""Finding faces offline, so that face-only anonymization works on photos without face boxes.

The detector is MTCNN (Zhang et al., 2016: three small CNNs in a cascade; background.md §11) as
facenet-pytorch ships it: its weights (`facenet_pytorch/data/{pnet,rnet,onet}.pt`, 2 MB) are
inside the wheel, so nothing is downloaded. facenet-pytorch's metadata pins an old torch, numpy
and Pillow; it is installed without its dependencies (requirements-nodeps.txt, see the Makefile)
and used here only through its three network classes and its `detect_face` pipeline, which run on
this project's torch. The weights are read with `torch.load(weights_only=True)`: tensors only.

Where the boxes come from, for each image:

* the dataset's own `faces.csv`, used exactly as written (it lists the regions to anonymize, one
  row per face; a row with empty coordinates says "no face here");
* else the detector: every face above `min_confidence`, each box widened by `margin` (a fraction
  of its width and height on each side, see README "Face boxes"), largest first.

`FaceSettings` (leakage.face_settings) is the one place that chooses the detector and how its
boxes are used, and `detector()` the one that loads it; every VLM result records the settings
with the detector's version and thresholds (`faces_record`). Detections are computed once per
image file and detector and kept on disk (`FaceBoxCache`), like image embeddings; the margin, the
confidence and largest-only are applied after the cache, so changing them detects nothing again.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from leakage.anonymize import clamp_box
from leakage.embedding_cache import replace_file
from leakage.face_settings import CACHE_FLOOR, DETECTORS, FaceDetectorUnavailable, FaceSettings
from leakage.locks import file_lock
from leakage.progress import Progress
from leakage.provenance import data_home

Box = tuple[int, int, int, int]
Detection = tuple[float, float, float, float, float]
"""(x0, y0, x1, y1, confidence) in the image's pixels, as the detector gave it."""

@dataclass(frozen=True)
class Face:
    box: Box
    """The region a face-only setting changes: the detector's box widened by the margin, or the
    faces.csv box as written; clipped to the image."""
    confidence: float | None = None
    """The detector's; None for a faces.csv box."""
    detected: Box | None = None
    """The detector's own box, before the margin."""


@dataclass(frozen=True)
class FaceBoxes:
    """The faces of one image and who found them ("faces.csv", a detector's name, or "not needed")."""

    faces: tuple[Face, ...]
    source: str
    error: str | None = None
    """Why the detector could not look at this image (it then counts as no face found)."""

    @property
    def boxes(self) -> tuple[Box, ...]:
        return tuple(face.box for face in self.faces)

    @property
    def found(self) -> bool:
        return bool(self.faces)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "boxes": [list(face.box) for face in self.faces],
            "confidences": [face.confidence for face in self.faces],
            "detected": [list(face.detected) if face.detected else None for face in self.faces],
            **({"error": self.error} if self.error else {}),
        }


NOT_NEEDED = FaceBoxes((), "not needed")


# --------------------------------------------------------------------------------------------
# MTCNN
# --------------------------------------------------------------------------------------------


class MTCNNDetector:
    """facenet-pytorch's MTCNN, batched: images of one working size go through the cascade together."""

    name = "mtcnn"
    package = "facenet-pytorch"
    stage_thresholds = (0.6, 0.7, CACHE_FLOOR)
    min_face_px = 20
    """The smallest face looked for, in pixels of the working image."""
    scale_factor = 0.709
    working_side = 1024
    """Larger images are shrunk to this long side first (their faces smaller than 20 px there are missed)."""
    pixel_budget = 4_000_000
    """Pixels per batch, so that a batch of large photos does not take all the memory."""

    def __init__(self, device: str = "cpu") -> None:
        try:
            from facenet_pytorch.models.mtcnn import ONet, PNet, RNet
            from facenet_pytorch.models.utils.detect_face import detect_face
        except ImportError as error:
            raise FaceDetectorUnavailable(
                "the MTCNN face detector needs facenet-pytorch 2.6.0, installed without its pinned dependencies: "
                "`.venv/bin/pip install --no-deps -r requirements-nodeps.txt` (make run and make test do it)"
            ) from error
        self._detect_face = detect_face
        self.device = torch.device(device)
        self.version = metadata.version(self.package)
        folder = resources.files("facenet_pytorch") / "data"
        digest = hashlib.sha256()
        self.nets = []
        for net_class, file in ((PNet, "pnet.pt"), (RNet, "rnet.pt"), (ONet, "onet.pt")):
            payload = (folder / file).read_bytes()
            digest.update(payload)
            net = net_class(pretrained=False)
            net.load_state_dict(torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True))
            self.nets.append(net.to(self.device).eval())
        self.weights_sha256 = digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "package": f"{self.package} {self.version}",
            "weights_sha256": self.weights_sha256[:16],
            "stage_thresholds": list(self.stage_thresholds),
            "min_face_px": self.min_face_px,
            "scale_factor": self.scale_factor,
            "working_side": self.working_side,
        }

    @property
    def fingerprint(self) -> str:
        """What decides the detections (not the device): the cache folder's name."""
        return f"{self.name}-" + hashlib.sha256(json.dumps(self.describe(), sort_keys=True).encode()).hexdigest()[:12]

    @torch.inference_mode()
    def detect(self, images: Sequence[Image.Image], batch_size: int = 16, progress: Progress | None = None) -> list[list[Detection]]:
        """Every face down to CACHE_FLOOR in each image, in the image's own pixels."""
        results: list[list[Detection]] = [[] for _ in images]
        groups: dict[tuple[int, int], list[int]] = {}
        scales = []
        for index, image in enumerate(images):
            scale = min(1.0, self.working_side / max(image.size))
            scales.append(scale)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            if min(size) >= self.min_face_px:  # a smaller image holds no face the cascade looks for
                groups.setdefault(size, []).append(index)
        done = len(images) - sum(len(members) for members in groups.values())
        for size, members in groups.items():
            step = max(1, min(batch_size, self.pixel_budget // (size[0] * size[1])))
            for start in range(0, len(members), step):
                chunk = members[start : start + step]
                pixels = np.stack([_working_pixels(images[i], size) for i in chunk])
                for i, found in zip(chunk, self._run(pixels)):
                    results[i] = [
                        (*(float(v) / scales[i] for v in row[:4]), float(row[4])) for row in found  # type: ignore[misc]
                    ]
                done += len(chunk)
                if progress:
                    progress("find faces", done, len(images))
        return results

    def _run(self, pixels: np.ndarray) -> list[np.ndarray]:
        pnet, rnet, onet = self.nets
        boxes, _ = self._detect_face(
            pixels, self.min_face_px, pnet, rnet, onet, list(self.stage_thresholds), self.scale_factor, self.device
        )
        return [np.asarray(found, dtype=np.float64).reshape(-1, 5) for found in boxes]


def _working_pixels(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    image = image.convert("RGB")
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


@functools.cache
def detector(name: str = "mtcnn", device: str | None = None) -> MTCNNDetector:
    """The detector called `name`, loaded once per process and device (None: the best device here)."""
    from leakage.devices import pick_device

    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}: use {', '.join(DETECTORS)}")
    return MTCNNDetector(pick_device(device).device)


# --------------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------------


class FaceBoxCache:
    """One detector's detections on disk: boxes.json, {image file key: [[x0, y0, x1, y1, confidence], ...]}.

    Keys are those of the image embedding cache (path, size, modification time): a changed file is
    looked at again. Writers merge under a file lock and replace the file atomically.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._file = directory / "boxes.json"

    @classmethod
    def for_detector(cls, found_by: MTCNNDetector) -> "FaceBoxCache":
        return cls(data_home() / "face_cache" / found_by.fingerprint)

    def _read(self) -> dict[str, list[list[float]]]:
        try:
            return json.loads(self._file.read_text())
        except (OSError, ValueError):  # none yet, or torn by a killed process: start over
            return {}

    def get(self, keys: Sequence[str | None]) -> dict[str, list[Detection]]:
        known = self._read()
        return {key: [tuple(row) for row in known[key]] for key in keys if key is not None and key in known}  # type: ignore[misc]

    def add(self, found: dict[str, list[Detection]]) -> None:
        if not found:
            return
        with file_lock(self.directory / ".lock"):
            known = self._read()
            known.update({key: [[round(v, 4) for v in row] for row in rows] for key, rows in found.items()})
            replace_file(self._file, lambda handle: handle.write(json.dumps(known).encode()))


# --------------------------------------------------------------------------------------------
# Boxes for a set of images
# --------------------------------------------------------------------------------------------


def faces_from_detections(detections: Sequence[Detection], size: tuple[int, int], settings: FaceSettings) -> tuple[Face, ...]:
    """The detector's faces above the confidence, largest first, widened by the margin (only the largest with largest_only)."""
    kept = [row for row in detections if row[4] >= settings.min_confidence]
    kept.sort(key=lambda row: (row[2] - row[0]) * (row[3] - row[1]), reverse=True)
    faces = []
    for row in kept[:1] if settings.largest_only else kept:
        region, tight = clamp_box(row[:4], size, settings.margin), clamp_box(row[:4], size)
        if region is not None:
            faces.append(Face(region, round(float(row[4]), 4), tight))
    return tuple(faces)


def faces_from_file(boxes: Sequence[Sequence[float]], size: tuple[int, int], settings: FaceSettings) -> tuple[Face, ...]:
    """A faces.csv's boxes, as written (clipped to the image), largest first; only the largest with largest_only."""
    regions = [box for box in (clamp_box(b, size) for b in boxes) if box is not None]
    regions.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return tuple(Face(box) for box in (regions[:1] if settings.largest_only else regions))


def find_faces(
    images: Sequence[Image.Image],
    settings: FaceSettings = FaceSettings(),
    *,
    given: Sequence[Sequence[Sequence[float]] | None] | None = None,
    keys: Sequence[str | None] | None = None,
    use_cache: bool = True,
    device: str | None = None,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> list[FaceBoxes]:
    """The faces of each image: its `given` boxes (a faces.csv's) where there are some, else the detector's.

    `keys` name image files for the cache (None for an image held only in memory, which is never
    cached). An image the detector fails on counts as no face found, with the reason.
    """
    given = list(given) if given is not None else [None] * len(images)
    keys = list(keys) if keys is not None else [None] * len(images)
    if not len(given) == len(keys) == len(images):
        raise ValueError("images, given boxes and keys differ in length")
    results: list[FaceBoxes | None] = [
        None if boxes is None else FaceBoxes(faces_from_file(boxes, image.size, settings), "faces.csv")
        for image, boxes in zip(images, given)
    ]
    todo = [i for i, result in enumerate(results) if result is None]
    if not todo:
        return results  # type: ignore[return-value]
    found_by = detector(settings.detector, device)
    cache = FaceBoxCache.for_detector(found_by) if use_cache else None
    detections: dict[int, list[Detection]] = {}
    if cache is not None:
        cached = cache.get([keys[i] for i in todo])
        detections = {i: cached[keys[i]] for i in todo if keys[i] in cached}  # type: ignore[index]
    missing = [i for i in todo if i not in detections]
    errors: dict[int, str] = {}
    if missing:
        fresh = _detect_each_if_needed(found_by, [images[i] for i in missing], batch_size, progress)
        for i, outcome in zip(missing, fresh):
            if isinstance(outcome, str):
                errors[i] = outcome
            else:
                detections[i] = outcome
        if cache is not None:
            cache.add({keys[i]: detections[i] for i in missing if keys[i] is not None and i in detections})  # type: ignore[misc]
    for i in todo:
        faces = () if i in errors else faces_from_detections(detections[i], images[i].size, settings)
        results[i] = FaceBoxes(faces, found_by.name, errors.get(i))
    return results  # type: ignore[return-value]


def _detect_each_if_needed(found_by: MTCNNDetector, images: Sequence[Image.Image], batch_size: int, progress: Progress | None):
    """Detections for all images in batches; when a batch fails, image by image, so one bad image costs only itself."""
    try:
        return found_by.detect(images, batch_size, progress)
    except (RuntimeError, ValueError, IndexError) as error:
        first_error = error
    outcomes: list[list[Detection] | str] = []
    for image in images:
        try:
            outcomes.append(found_by.detect([image], 1)[0])
        except (RuntimeError, ValueError, IndexError) as error:
            outcomes.append(f"the face detector failed on this image ({type(error).__name__}: {error})")
    if all(isinstance(outcome, str) for outcome in outcomes):
        raise first_error
    return outcomes


def faces_record(labels: Sequence[str], faces: Sequence[FaceBoxes], settings: FaceSettings) -> dict[str, Any]:
    """What a result keeps about its faces: the settings, the detector (when it ran), which images
    had no face found, and every image's boxes."""
    detected = any(found.source in DETECTORS for found in faces)
    record: dict[str, Any] = {
        "settings": asdict(settings),
        "detector": detector(settings.detector, "cpu").describe() if detected else None,  # describe() does not depend on the device
        "sources": {source: sum(found.source == source for found in faces) for source in sorted({f.source for f in faces})},
        "no_face": [label for label, found in zip(labels, faces) if not found.found],
        "images": [{"path": label, **found.to_dict()} for label, found in zip(labels, faces)],
    }
    return record


REGION_COLOUR = (255, 140, 0)
DETECTED_COLOUR = (255, 255, 255)


def draw_faces(image: Image.Image, found: FaceBoxes) -> Image.Image:
    """A copy of the image with each face's region (orange) and the detector's own box (white) drawn on it."""
    picture = image.convert("RGB")  # a new image even when it is RGB already: the caller's is never drawn on
    draw = ImageDraw.Draw(picture)
    width = max(2, round(max(picture.size) / 100))  # still 2 px or more once shown at half size
    for face in found.faces:
        if face.detected:
            draw.rectangle(face.detected, outline=DETECTED_COLOUR, width=max(1, width // 2))
        draw.rectangle(face.box, outline=REGION_COLOUR, width=width)
    return picture


def faces_text(name: str, found: FaceBoxes) -> str:
    """One plain line per photo: its faces' regions, detector boxes and confidences, or that none was found."""
    if not found.found:
        reason = f" ({found.error})" if found.error else ""
        return f"{name}: no face found by {found.source}{reason}"
    parts = []
    for number, face in enumerate(found.faces, 1):
        x0, y0, x1, y1 = face.box
        text = f"face {number}: region ({x0}, {y0})-({x1}, {y1})"
        if face.detected:
            dx0, dy0, dx1, dy1 = face.detected
            text += f", detected ({dx0}, {dy0})-({dx1}, {dy1}), confidence {face.confidence:.3f}"
        parts.append(text)
    count = f"{len(found.faces)} face{'s' if len(found.faces) > 1 else ''} from {found.source}"
    return f"{name}: {count}; " + "; ".join(parts)
