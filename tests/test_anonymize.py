"""Tests of leakage.anonymize (what each setting changes, and where) and leakage.faces (offline detectors)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from leakage.anonymize import NONE, Anonymization, anonymize, clamp_box, default_sweep, parse_settings
from leakage.faces import FaceBoxes, available_detectors, detect_faces, detect_skin, detector_note, face_boxes, haar_available
from leakage.lab.world import make_world
from leakage.lab.portraits import render


@pytest.fixture(scope="module")
def portraits() -> list[tuple[Image.Image, tuple[int, int, int, int]]]:
    world = make_world(seed=0, n_identities=40)
    return [render(person, 10_000, world_seed=0) for person in world.identities]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def outside(box, shape) -> np.ndarray:
    mask = np.ones(shape[:2], dtype=bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = False
    return mask


def test_parse_labels_round_trip():
    for text in ("none", "blur:8", "blur:2.5", "pixelate:12", "mask", "blur:16@image", "pixelate:4@image", "mask@image"):
        assert Anonymization.parse(text).label == text
    assert Anonymization.parse(" Blur:8 @ face ") == Anonymization("blur", 8, "face")
    assert Anonymization.parse("mask:3") == Anonymization.parse("mask")
    assert parse_settings("blur:8,pixelate:12,mask,blur:8") == [
        NONE, Anonymization("blur", 8), Anonymization("pixelate", 12), Anonymization("mask")
    ]
    assert parse_settings("", include_none=False) == []
    assert len(set(default_sweep())) == len(default_sweep())


@pytest.mark.parametrize("text", ["blur", "blur:0", "blur:x", "pixelate:2.5", "smudge:3", "blur:8@body"])
def test_bad_settings_say_what_is_wrong(text):
    with pytest.raises(ValueError):
        Anonymization.parse(text)


@pytest.mark.parametrize("setting", ["blur:4", "blur:16", "pixelate:8", "mask"])
def test_face_settings_change_only_the_face_box(portraits, setting):
    image, box = portraits[0]
    result = anonymize(image, Anonymization.parse(setting), [box])
    before, after = pixels(image), pixels(result)
    keep = outside(box, before.shape)
    assert result.size == image.size and result.mode == "RGB"
    assert np.array_equal(before[keep], after[keep])
    changed = np.abs(before[~keep] - after[~keep]).sum(axis=-1) > 0
    assert changed.mean() > 0.5
    if setting == "mask":
        assert (after[~keep] == 0).all()


def test_stronger_blur_removes_more_detail_from_the_face(portraits):
    image, box = portraits[1]
    x0, y0, x1, y1 = box

    def detail(picture: Image.Image) -> float:
        face = pixels(picture)[y0:y1, x0:x1].astype(float)
        return float(np.abs(np.diff(face, axis=0)).mean() + np.abs(np.diff(face, axis=1)).mean())

    values = [detail(anonymize(image, Anonymization("blur", radius), [box])) for radius in (1, 4, 16)]
    assert detail(image) > values[0] > values[1] > values[2]


def test_pixelation_blocks_follow_the_box(portraits):
    image, box = portraits[2]
    result = pixels(anonymize(image, Anonymization("pixelate", 8), [box]))
    x0, y0 = box[:2]
    block = result[y0 : y0 + 8, x0 : x0 + 8].reshape(-1, 3)
    assert (block == block[0]).all()


@pytest.mark.parametrize("setting", ["blur:8@image", "pixelate:8@image", "mask@image"])
def test_whole_image_settings_change_everything(portraits, setting):
    image, box = portraits[3]
    before = pixels(image)
    after = pixels(anonymize(image, Anonymization.parse(setting), [box]))
    keep = outside(box, before.shape)
    assert (np.abs(before - after).sum(axis=-1)[keep] > 0).mean() > 0.5


def test_face_setting_without_a_box_leaves_the_image_alone(portraits):
    image, _ = portraits[4]
    result = anonymize(image, Anonymization("blur", 8), [])
    assert result is not image and np.array_equal(pixels(result), pixels(image))
    assert np.array_equal(pixels(anonymize(image, NONE, [(0, 0, 10, 10)])), pixels(image))


def test_boxes_are_clipped_to_the_image():
    assert clamp_box((-5, -5, 20, 300), (100, 100)) == (0, 0, 20, 100)
    assert clamp_box((50, 50, 50, 60), (100, 100)) is None
    assert clamp_box((10, 10, 20, 20), (100, 100), margin=0.5) == (5, 5, 25, 25)
    image = Image.new("RGB", (32, 32), (200, 100, 50))
    assert pixels(anonymize(image, Anonymization("mask"), [(-10, -10, 8, 8)]))[:8, :8].sum() == 0


def iou(a, b) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_skin_detector_finds_faces_on_renders(portraits):
    hits = []
    for image, box in portraits:
        found = detect_skin(image)
        hits.append(bool(found) and max(iou(candidate, box) for candidate in found) > 0.4)
    # A crude detector: it must find most rendered faces where they are, and never invent many.
    assert np.mean(hits) >= 0.4


def test_detectors_report_no_face_on_noise_and_flat_colour():
    rng = np.random.default_rng(0)
    for _ in range(10):
        noise = Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
        assert not detect_faces(noise).found
    skin_coloured = Image.new("RGB", (128, 128), (222, 182, 142))
    assert face_boxes(skin_coloured) == FaceBoxes((), "none")


def test_face_boxes_prefer_the_dataset_box(portraits):
    image, box = portraits[5]
    assert face_boxes(image, box) == FaceBoxes((box,), "dataset")


def test_detector_availability_is_reported():
    assert available_detectors()[-1] == "skin"
    assert ("Haar" in detector_note()) and (haar_available() == ("haar" in available_detectors()))
