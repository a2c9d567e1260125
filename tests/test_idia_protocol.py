"""The IDIA protocol's decision rules, checked on hand-made predictions."""

import numpy as np
import pytest

from leakage.idia import (
    DEFAULT_TEMPLATES,
    IDIAConfig,
    candidate_names,
    draw_images,
    exclusion_reason,
    image_order,
    person_scores,
    score_images,
    vote,
)
from leakage.names import load_names_file


def test_the_21_published_templates():
    assert len(DEFAULT_TEMPLATES) == 21
    assert DEFAULT_TEMPLATES[0] == "{}" and "a photo of a person with the name {}" in DEFAULT_TEMPLATES


def test_majority_vote_counts_correct_templates_and_skips_ties():
    # 3 templates x 4 images, candidate indices; the person is candidate 7
    top1 = np.array(
        [
            [7, 7, 7, 2],  # clear majority for the person -> correct
            [7, 7, 2, 2],  # tie between 7 and 2 -> skipped
            [2, 2, 7, 3],  # majority for someone else -> wrong
        ]
    )
    assert vote(top1, true_index=7) == (1, 1)


def test_single_image_votes_are_never_ties():
    assert vote(np.array([[4], [5], [4]]), true_index=4) == (2, 0)


def counted_over_all_candidates(top1: np.ndarray, true_index: int, n_candidates: int) -> tuple[int, int]:
    """The vote as the paper states it: count every candidate's votes per template."""
    correct = tied = 0
    for row in top1:
        counts = np.bincount(row, minlength=n_candidates)
        if (counts == counts.max()).sum() > 1:
            tied += 1
        elif counts.argmax() == true_index:
            correct += 1
    return correct, tied


@pytest.mark.parametrize("seed", range(40))
def test_vote_agrees_with_counting_over_all_candidates(seed):
    rng = np.random.default_rng(seed)
    n_candidates = int(rng.integers(2, 6))  # few candidates: many ties and many majorities
    top1 = rng.integers(0, n_candidates, size=(21, int(rng.integers(1, 12))))
    true_index = int(rng.integers(0, n_candidates))
    assert vote(top1, true_index) == counted_over_all_candidates(top1, true_index, n_candidates)


def test_candidates_hold_the_people_plus_distractors_shuffled_deterministically():
    people = ["Anna Adler", "Ben Brook"]
    names = candidate_names(people, 50, seed=3)
    assert len(names) == len(set(names)) == 50
    assert set(people) <= set(names)
    assert names == candidate_names(people, 50, seed=3)
    assert names != candidate_names(people, 50, seed=4)


def test_draws_are_deterministic_and_without_replacement():
    by_person = {"a": list(range(10)), "b": [20, 21]}
    draw = draw_images(by_person, 4, seed=1)
    assert draw == draw_images(by_person, 4, seed=1)
    assert len(set(draw["a"])) == 4 and set(draw["a"]) <= set(by_person["a"])
    assert draw["b"] == [20, 21]


def test_scoring_and_tie_break_stay_within_a_count():
    rng = np.random.default_rng(0)
    n_templates, n_candidates, dim = 3, 6, 8
    text = rng.normal(size=(n_templates, n_candidates, dim)).astype(np.float32)
    text /= np.linalg.norm(text, axis=-1, keepdims=True)
    # images equal to candidate 2's text embedding under template 0: every template should pick 2 often
    images = np.repeat(text[0, 2][None], 5, axis=0)
    truth = np.full(5, 2)
    predictions = score_images(images, text, truth, logit_scale=100.0, top_k=3)
    assert predictions["top1"].shape == (3, 5) and (predictions["top1"][0] == 2).all()
    assert predictions["topk_index"].shape == (5, 3)
    assert np.all(np.diff(predictions["topk_prob"], axis=1) <= 1e-6)
    scores = person_scores({"p": list(range(5))}, predictions, {"p": 2})
    row = scores["p"]
    assert row["correct_prompts"] >= 1
    assert row["correct_prompts"] <= row["score"] < row["correct_prompts"] + 1


def test_config_validation():
    with pytest.raises(ValueError, match="tau"):
        IDIAConfig(tau=22)
    with pytest.raises(ValueError, match=r"\{\}"):
        IDIAConfig(templates=("a photo of someone",))


def test_image_order_is_seeded_per_person_and_independent_of_other_people():
    order = image_order(range(10), "Anna Adler", seed=0)
    assert sorted(order) == list(range(10)) and order != list(range(10))
    assert order == image_order(range(10), "Anna Adler", seed=0)
    assert order != image_order(range(10), "Anna Adler", seed=1)
    assert order != image_order(range(10), "Ben Brook", seed=0)


def test_exclusion_reasons_say_why():
    assert exclusion_reason(3, 3, 10) == "3 images in the folder, fewer than k = 10"
    assert exclusion_reason(1, None, 10) == "1 image in the folder, fewer than k = 10"  # not even read
    assert exclusion_reason(12, 8, 10) == "8 usable of 12 images (4 unreadable), fewer than k = 10"
    assert exclusion_reason(2, 0, 10) == "no usable image (2 in the folder, none readable)"


def test_distractors_come_from_a_names_file_when_given(tmp_path):
    names_file = tmp_path / "german.txt"
    pool = [f"Vorname{i} Nachname{i}" for i in range(60)]
    names_file.write_text("# common German names\n" + "\n".join(pool + ["  vorname0   nachname0 ", "", "Anna Adler"]) + "\n",
                          encoding="utf-8")
    loaded = load_names_file(names_file)
    assert loaded == tuple(pool + ["Anna Adler"])  # comments, blanks and case-insensitive repeats dropped
    people = ["Anna Adler", "Ben Brook"]
    names = candidate_names(people, 50, seed=3, pool=loaded)
    assert len(names) == len(set(names)) == 50 and set(people) <= set(names)
    assert set(names) - set(people) <= set(pool)  # distractors only from the file, never a person under test
    assert names == candidate_names(people, 50, seed=3, pool=loaded)
    with pytest.raises(ValueError, match="60 usable distractor names .* 98 are needed"):
        candidate_names(people, 100, seed=3, pool=loaded)
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ValueError, match="holds no names"):
        load_names_file(tmp_path / "empty.txt")


def test_config_is_backwards_compatible_and_takes_lists_from_json():
    assert IDIAConfig().keep_short is False and IDIAConfig().distractor_names == ()
    config = IDIAConfig(distractor_names=["A B", "C D"], templates=["{}", "a photo of {}"])
    assert config.distractor_names == ("A B", "C D") and config.templates == ("{}", "a photo of {}")
