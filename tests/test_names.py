"""Tests of leakage.names: the pool, and sampling that is unique, balanced, seeded and prefix-stable."""

from __future__ import annotations

from collections import Counter

import pytest

from leakage.names import FIRST_NAMES, LAST_NAMES, sample_distractors, sample_names


def folded(names) -> list[str]:
    return [name.casefold() for name in names]


def test_pool_sizes_and_no_duplicates():
    assert set(FIRST_NAMES) == {"female", "male"}
    for sex, names in FIRST_NAMES.items():
        assert len(names) >= 150, sex
        assert len(set(folded(names))) == len(names), f"duplicate {sex} first name"
        assert all(name == name.strip() and " " not in name for name in names)
    assert len(LAST_NAMES) >= 250
    assert len(set(folded(LAST_NAMES))) == len(LAST_NAMES), "duplicate surname"


def test_no_first_name_is_listed_for_both_sexes():
    # Otherwise the same full name could be drawn once as a woman and once as a man.
    assert not set(folded(FIRST_NAMES["female"])) & set(folded(FIRST_NAMES["male"]))


def test_sample_names_unique_balanced_and_well_formed():
    names = sample_names(2001, seed=3)
    assert len(names) == 2001
    assert len({name.casefold() for name, _ in names}) == 2001
    assert Counter(sex for _, sex in names) == {"female": 1001, "male": 1000}
    assert [sex for _, sex in names[:4]] == ["female", "male", "female", "male"]
    female_first = set(FIRST_NAMES["female"])
    for name, sex in names[:200]:
        first, last = name.split(" ", 1)
        assert last in LAST_NAMES
        assert (first in female_first) == (sex == "female")


def test_sample_names_deterministic_and_seed_dependent():
    assert sample_names(300, seed=7) == sample_names(300, seed=7)
    assert sample_names(300, seed=7) != sample_names(300, seed=8)


def test_sample_names_prefix_stable():
    assert sample_names(500, seed=1)[:123] == sample_names(123, seed=1)


def test_sample_names_one_sex():
    names = sample_names(50, seed=0, sexes=("male",))
    assert {sex for _, sex in names} == {"male"}
    with pytest.raises(ValueError, match="unknown sex"):
        sample_names(5, seed=0, sexes=("robot",))


def test_exclude_is_case_insensitive():
    first = sample_names(40, seed=5)
    excluded = [name.upper() for name, _ in first[:20]]
    again = sample_names(40, seed=5, exclude=excluded)
    assert not {name.casefold() for name, _ in again} & set(folded(excluded))
    assert len({name for name, _ in again}) == 40


def test_can_give_at_least_20000_names():
    names = sample_names(20_000, seed=0)
    assert len({name for name, _ in names}) == 20_000


def test_too_many_names_is_a_clear_error():
    capacity = sum(len(first) * len(LAST_NAMES) for first in FIRST_NAMES.values())
    with pytest.raises(ValueError, match="cannot draw"):
        sample_names(capacity + 1, seed=0)
    # Excluding names shrinks what is left: a full one-sex pool minus one name is one too few.
    male_capacity = len(FIRST_NAMES["male"]) * len(LAST_NAMES)
    with pytest.raises(ValueError, match="cannot draw"):
        sample_names(male_capacity, seed=0, sexes=("male",), exclude=[f"{FIRST_NAMES['male'][0]} {LAST_NAMES[0]}"])


def test_negative_n_is_an_error():
    with pytest.raises(ValueError):
        sample_names(-1, seed=0)


def test_distractors_unique_balanced_and_excluding_people():
    people = [name for name, _ in sample_names(100, seed=0)]
    distractors = sample_distractors(900, seed=0, exclude=people)
    assert len(distractors) == len(set(distractors)) == 900
    assert not set(folded(distractors)) & set(folded(people))
    female_first = set(FIRST_NAMES["female"])
    assert sum(name.split(" ", 1)[0] in female_first for name in distractors) == 450
    assert sample_distractors(900, seed=0, exclude=people) == distractors
    # A separate stream from the world's names: distractors are not the lab people in order.
    assert distractors[:10] != [name for name, _ in sample_names(10, seed=0)]
