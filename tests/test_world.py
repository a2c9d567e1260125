"""Tests of leakage.lab.world: identities, rendering, the dataset on disk, and that people are learnable."""

from __future__ import annotations

import csv
import json
import random
from dataclasses import asdict

import numpy as np
import pytest
from PIL import Image
from sklearn.neighbors import NearestCentroid

from leakage.lab.world import Identity, World, describe, make_world

from leakage.lab.portraits import render, write_dataset


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(seed=4, n_identities=40)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


def test_make_world_is_deterministic_and_prefix_stable(world):
    assert make_world(4, 40).identities == world.identities
    assert make_world(4, 15).identities == world.identities[:15]
    assert make_world(5, 40).identities != world.identities
    assert [person.id for person in world.identities] == list(range(40))
    assert len({person.name for person in world.identities}) == 40


def test_identities_are_plain_data(world):
    person = world.identities[0]
    data = asdict(person)
    json.dumps(data)  # only ints, floats, strings and tuples of them
    assert Identity(**{key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}) == person


def test_sexes_alternate_and_traits_follow_sex(world):
    assert [person.sex for person in world.identities[:4]] == ["female", "male", "female", "male"]
    big = make_world(0, 400).identities
    assert all(person.facial_hair == "none" for person in big if person.sex == "female")
    assert any(person.facial_hair != "none" for person in big if person.sex == "male")


def test_many_people_have_distinct_looks():
    people = make_world(1, 2000).identities
    looks = {(p.skin_rgb, p.hair_rgb, p.clothing_rgb, p.background_rgb) for p in people}
    assert len(looks) == len(people)
    assert len({p.hair_style for p in people}) >= 10
    assert len({p.clothing_style for p in people}) >= 7


def test_by_name(world):
    person = world.identities[7]
    assert world.by_name(person.name) is person
    with pytest.raises(KeyError):
        world.by_name("Nobody Here")


def test_describe_is_plain_language_without_the_name(world):
    for person in world.identities:
        text = describe(person)
        assert text.startswith("a woman with " if person.sex == "female" else "a man with ")
        assert person.name.split()[0] not in text and person.name.split()[-1] not in text
        assert " a a" not in text and " a o" not in text and " a e" not in text


def test_render_is_deterministic_and_leaves_global_rng_alone(world):
    person = world.identities[3]
    np.random.seed(123)
    random.seed(123)
    before = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    image, box = render(person, 5, world_seed=world.seed, size=96)
    assert (np.random.random(), random.random()) == before
    again, again_box = render(person, 5, world_seed=world.seed, size=96)
    assert image.mode == "RGB" and image.size == (96, 96)
    assert np.array_equal(pixels(image), pixels(again)) and box == again_box


def test_photos_of_one_person_vary(world):
    person = world.identities[2]
    images = [pixels(render(person, index, world_seed=world.seed, size=64)[0]) for index in range(4)]
    for a in range(4):
        for b in range(a + 1, 4):
            assert np.abs(images[a] - images[b]).mean() > 3


def test_different_people_look_different(world):
    first, second = world.identities[0], world.identities[1]
    a = pixels(render(first, 0, world_seed=world.seed, size=64)[0])
    b = pixels(render(second, 0, world_seed=world.seed, size=64)[0])
    assert np.abs(a - b).mean() > 10


def test_world_seed_changes_the_photo(world):
    person = world.identities[0]
    a = pixels(render(person, 0, world_seed=world.seed, size=64)[0])
    b = pixels(render(person, 0, world_seed=world.seed + 1, size=64)[0])
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("size", [32, 128])
def test_face_box_is_inside_and_plausible(world, size):
    for person in world.identities[:20]:
        for index in (0, 1, 10_000):
            image, (x0, y0, x1, y1) = render(person, index, world_seed=world.seed, size=size)
            assert 0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size
            width, height = x1 - x0, y1 - y0
            assert 0.2 * size < width < 0.6 * size and 0.25 * size < height < 0.7 * size
            assert height > width  # faces are taller than wide
            if size < 64:
                continue  # at 32 px beards and glasses blur over most of the little skin there is
            # The box holds the face: between the eyes and the mouth it is mostly skin (up to lighting).
            inner = pixels(image)[y0 + height * 4 // 10 : y1 - height // 4, x0 + width // 4 : x1 - width // 4]
            assert np.abs(np.median(inner.reshape(-1, 3), axis=0) - person.skin_rgb).max() < 60


def test_write_dataset(tmp_path, world):
    people = world.identities[:3]
    members = {people[0].name: True, people[1].name: False, people[2].name: True}
    occurrences = {people[0].name: 20, people[2].name: 5}
    calls = []
    root = write_dataset(
        world, tmp_path / "attack", people, 2, start_index=10_000, size=48,
        members=members, occurrences=occurrences, progress=lambda done, total: calls.append((done, total)),
    )
    assert root == tmp_path / "attack"
    assert calls == [(k, 6) for k in range(1, 7)]
    for person in people:
        assert sorted(p.name for p in (root / person.name).iterdir()) == ["10000.png", "10001.png"]
    with open(root / "faces.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["path", "x0", "y0", "x1", "y1"]
    assert len(rows) == 7
    path, *box = rows[1]
    assert path == f"{people[0].name}/10000.png"
    image = Image.open(root / path)
    assert image.size == (48, 48) and image.mode == "RGB"
    expected_image, expected_box = render(people[0], 10_000, world_seed=world.seed, size=48)
    assert np.array_equal(pixels(image), pixels(expected_image))  # PNG is lossless
    assert tuple(int(v) for v in box) == expected_box
    with open(root / "members.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["name", "member", "occurrences"],
        [people[0].name, "1", "20"],
        [people[1].name, "0", "0"],
        [people[2].name, "1", "5"],
    ]


def test_write_dataset_without_members_writes_no_ground_truth(tmp_path, world):
    root = write_dataset(world, tmp_path, world.identities[:1], 1, size=32)
    assert (root / "faces.csv").is_file() and not (root / "members.csv").exists()
    assert (root / world.identities[0].name / "0000.png").is_file()


def test_people_are_learnable_from_their_photos():
    """The lab's purpose: a person must be recognisable across photos, from the face alone too.

    A nearest-centroid classifier on raw pixels, trained on 8 photos of each of 30 people,
    must name the person in held-out photos far above chance (1/30).
    """
    world = make_world(seed=11, n_identities=30)
    whole, faces, labels, indices = [], [], [], []
    for person in world.identities:
        for index in range(12):
            image, box = render(person, index, world_seed=world.seed, size=32)
            whole.append(pixels(image).ravel() / 255)
            faces.append(pixels(image.crop(box).resize((12, 12))).ravel() / 255)
            labels.append(person.id)
            indices.append(index)
    labels, indices = np.array(labels), np.array(indices)
    train, test = indices < 8, indices >= 8
    for features in (np.array(whole), np.array(faces)):
        accuracy = NearestCentroid().fit(features[train], labels[train]).score(features[test], labels[test])
        assert accuracy > 0.6
