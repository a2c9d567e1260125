"""Tests of leakage.anonymize: what each setting changes, and where (the face detector: tests/test_faces.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from leakage.anonymize import NONE, Anonymization, anonymize, clamp_box, default_sweep, parse_settings
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
