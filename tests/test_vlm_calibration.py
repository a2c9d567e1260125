"""Tests of the calibrated closed-set score (issue 13, item 3) and of the lab VLM variants behind the
Phantom Menace findings (ii) context and (iv) exposure: the BPE tokenizer, exposure levels, context renders."""

from __future__ import annotations

import csv
from dataclasses import asdict, replace

import numpy as np
import pytest
from test_vlm import portraits, probe_data, tiny_llava, trained  # noqa: F401  (fixtures)

from leakage.lab.vlm import (
    LabVLMArchitecture,
    LabVLMConfig,
    assign_exposure,
    assign_roles,
    bpe_lab_vlm_config,
    bpe_tokenizer,
    card_vocabulary,
    context_partners,
    default_lab_vlm_config,
    ensure_lab_vlm,
    exposure_lab_vlm_config,
    lab_vlm_root,
    tokenizer_corpus,
    write_context_dataset,
)
from leakage.lab.world import make_world
from leakage.lab.portraits import NEUTRAL_BACKGROUND, render, render_in_context
from leakage.vlm import (
    VLMProbeConfig,
    answer_logprobs,
    answer_token_ids,
    build_prompt,
    load_vlm,
    run_vlm_probe,
)
from leakage.vlm_calibration import (
    DEFAULT_SCORE_KIND,
    IMAGE_CONDITIONAL,
    NOISE,
    SCORE_KINDS,
    SD_FLOOR,
    ClosedSetScorer,
    ImageScores,
    closed_set_entry,
    fewest_reference_photos,
    identity_z,
    name_references,
    per_question_scores,
    reference_image,
    spearman,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# --------------------------------------------------------------------------- the score


def test_calibration_cancels_a_length_prior_that_the_raw_score_keeps():
    # Each name's log-likelihood = a prior of -2 per token (the grey image gets it too) + what the
    # image adds, which here supports only the true name, a long one.
    names = ["Bo Li", "Ann Lee", "Maximiliana Oyelaran-Castellanos", "Jo Ng"]
    tokens = np.array([2, 2, 9, 2], dtype=float)
    evidence = np.array([0.0, 0.0, 3.0, 0.0])
    reference = -2.0 * tokens
    raw = reference + evidence
    entry = closed_set_entry({"raw": raw[None], "calibrated": (raw - reference)[None], "per_token": (raw / tokens)[None]},
                             names, "Maximiliana Oyelaran-Castellanos", headline="raw")
    assert entry["scores"]["raw"]["rank"] == 4  # the prior buries the true long name
    assert entry["scores"]["calibrated"]["rank"] == 1 and entry["scores"]["calibrated"]["top"] == names[2]
    assert closed_set_entry({"calibrated": (raw - reference)[None]}, names, names[2], headline="calibrated")["rank"] == 1
    assert entry["scores"]["calibrated"]["true_score"] == pytest.approx(3.0)
    assert entry["scores"]["calibrated"]["true_log_posterior"] > entry["scores"]["raw"]["true_log_posterior"]
    assert closed_set_entry({"raw": raw[None]}, names, names[2], headline="raw")["rank"] == 4


def test_scorer_subtracts_the_grey_reference_and_divides_by_tokens(tmp_path, portraits):  # noqa: F811
    vlm = load_vlm(tiny_llava(tmp_path), device="cpu")
    image = portraits[0][1]
    answers = ["Irina Williams", "Alexander Reed", "Colton O'Brien and Camila Wagner"]
    questions = ("Who is this person?", "What is the name of the person in this image?")
    scorer = ClosedSetScorer(vlm, questions)
    scores = scorer.scores(image, answers)
    grey = reference_image(image)
    assert grey.size == image.size and grey.getpixel((0, 0)) == (128, 128, 128)
    for q, question in enumerate(questions):
        raw = answer_logprobs(vlm, image, question, answers)
        np.testing.assert_allclose(scores["raw"][q], raw, rtol=1e-5)
        np.testing.assert_allclose(scores["calibrated"][q], raw - answer_logprobs(vlm, grey, question, answers), rtol=1e-4, atol=1e-4)
        lengths = [len(answer_token_ids(vlm.tokenizer, build_prompt(vlm.processor, question), a)) for a in answers]
        assert lengths[2] > lengths[0]
        np.testing.assert_allclose(scores["per_token"][q], raw / np.array(lengths), rtol=1e-5)
    # The reference does not depend on the image: a second image reuses it.
    other = scorer.scores(portraits[3][1], answers)
    np.testing.assert_allclose(other["raw"] - other["calibrated"], scores["raw"] - scores["calibrated"], rtol=1e-5)


def test_probe_leads_with_the_chosen_score_and_keeps_every_kind(trained, probe_data):  # noqa: F811
    from leakage.data import scan_dataset

    vlm = load_vlm(trained[0], device="cpu")
    questions = ("Who is this person?", "Tell me the name of this person.")
    base = VLMProbeConfig(questions=questions, images_per_person=3, n_candidates=4, max_new_tokens=4)
    result = run_vlm_probe(vlm, scan_dataset(probe_data), base)
    metrics = result.metrics
    assert metrics["closed_set_score"] == DEFAULT_SCORE_KIND in IMAGE_CONDITIONAL
    assert set(metrics["by_score"]) == set(SCORE_KINDS)
    assert metrics["auc"] == metrics["by_score"][DEFAULT_SCORE_KIND]["auc"] and metrics["by_score"][DEFAULT_SCORE_KIND]["headline"]
    assert metrics["raw"]["auc"] == metrics["by_score"]["raw"]["auc"]
    assert {kind: entry["group"] for kind, entry in metrics["by_score"].items()}["raw"] == "name familiarity (no photo needed)"
    assert metrics["n_closed_set_questions"] == 2  # every question scored, not the first only
    image = next(row for row in result.images if "closed_set" in row)
    assert image["closed_set"]["scores"]["raw"]["rank"] >= 1 and image["closed_set"]["scores"]["raw"]["true_log_posterior"] <= 0
    assert -1 <= image["closed_set"]["scores"]["posterior_gain"]["value"] <= 1
    for row in result.identities:
        assert row["score"] == pytest.approx(row["scores"][DEFAULT_SCORE_KIND])
    raw = run_vlm_probe(vlm, scan_dataset(probe_data), replace(base, closed_set_score="raw"))
    assert raw.metrics["auc"] == metrics["raw"]["auc"] and raw.config_hash != result.config_hash
    assert {row["name"]: row["score"] for row in raw.identities} == pytest.approx({row["name"]: row["scores"]["raw"] for row in result.identities})
    with pytest.raises(ValueError, match="closed-set score"):
        VLMProbeConfig(closed_set_score="mean")


def test_scores_are_averaged_over_every_question(trained, portraits):  # noqa: F811
    vlm = load_vlm(trained[0], device="cpu")
    questions = ("Who is this person?", "Tell me the name of this person.")
    names = ["Irina Williams", "Alexander Reed", "Camila Wagner"]
    scorer = ClosedSetScorer(vlm, questions)
    both = scorer.score(portraits[0][1], names, "Irina Williams")
    entry = closed_set_entry({"raw": both.raw, **{k: v for k, v in per_question_scores(both).items() if k != "raw"}}, names, names[0], "raw")
    one = [closed_set_entry({"raw": both.raw[q][None]}, names, names[0], "raw")["scores"]["raw"]["value"] for q in range(2)]
    assert entry["scores"]["raw"]["value"] == pytest.approx(np.mean(one))
    gains = [(np.exp(both.raw[q] - np.logaddexp.reduce(both.raw[q])) - np.exp(both.reference[q] - np.logaddexp.reduce(both.reference[q])))[0]
             for q in range(2)]
    assert entry["scores"]["posterior_gain"]["value"] == pytest.approx(np.mean(gains))


# --------------------------------------------------------------------------- the identity z-score


def _image(person, names, raw):
    raw = np.atleast_2d(np.asarray(raw, dtype=float))
    return ImageScores(person, list(names), raw, np.zeros_like(raw), np.ones_like(raw))


def test_identity_z_is_the_name_against_other_peoples_photos():
    names = ["Ann", "Bo", "Cy"]
    rng = np.random.default_rng(0)
    images = []
    for person in names:
        for _ in range(30):
            # Every name's prior differs (-5, -20, -40: length, frequency); the model raises Ann's name on Ann's photos only.
            raw = np.array([-5.0, -20.0, -40.0]) + rng.normal(0, 1, 3) + np.array([4.0 if person == "Ann" else 0.0, 0, 0]) * (np.array(names) == person)
            images.append(_image(person, names, raw))
    references = name_references(images)
    assert references["Ann"].count == 60  # Bo's and Cy's photos, never Ann's own
    z = np.array([identity_z(image, references)[0, names.index(image.person)] for image in images])
    people = np.array([image.person for image in images])
    assert z[people == "Ann"].mean() > 3  # the photo raises the name: far out of its reference
    assert abs(z[people == "Cy"].mean()) < 0.6 and 0.6 < z[people == "Cy"].std() < 1.5  # a name the photo does not raise: about N(0, 1)
    # The prior cancels: the raw log-likelihood ranks Cy last whatever the photo, z does not.
    assert all(image.raw[0, 2] < image.raw[0, 0] for image in images)
    # Identical images (the whole image masked): no spread, z = 0 for every name.
    masked = [_image(person, names, [-5.0, -20.0, -40.0]) for person in names for _ in range(3)]
    assert not identity_z(masked[0], name_references(masked)).any()
    assert fewest_reference_photos(masked) == 6


def test_identity_z_equals_a_plain_recomputation_from_the_model(trained, probe_data, monkeypatch):  # noqa: F811
    """The probe's z-score = (log p(name | photo) - mean over other people's photos) / their sd, each
    log-likelihood from `answer_logprobs` on one image at a time."""
    from leakage import vlm as engine
    from leakage.data import load_image, scan_dataset

    monkeypatch.setattr(engine, "MIN_REFERENCE_PHOTOS", 1)  # four people: use the run itself as the reference
    model = load_vlm(trained[0], device="cpu")
    question = "Who is this person?"
    result = run_vlm_probe(model, scan_dataset(probe_data), VLMProbeConfig(questions=(question,), images_per_person=3, n_candidates=4,
                                                                          max_new_tokens=2))
    assert result.metrics["identity_reference"]["source"] == "run"
    rows = [row for row in result.images if "closed_set" in row]
    names = sorted({row["person"] for row in rows})
    plain = {row["path"]: dict(zip(names, answer_logprobs(model, load_image(row["path"]), question, names))) for row in rows}
    for row in rows:
        person = row["person"]
        others = [plain[other["path"]][person] for other in rows if other["person"] != person]
        difference = plain[row["path"]][person] - np.mean(others)
        expected = (0.0 if abs(difference) < NOISE else difference) / max(np.std(others, ddof=1), SD_FLOOR)
        assert row["closed_set"]["scores"]["identity_z"]["value"] == pytest.approx(expected, abs=1e-3)


def test_controls_bring_the_image_conditional_scores_to_chance(trained, probe_data):  # noqa: F811
    from leakage.data import scan_dataset

    model = load_vlm(trained[0], device="cpu")
    config = VLMProbeConfig(questions=("Who is this person?",), images_per_person=3, n_candidates=4, max_new_tokens=3, controls=True)
    result = run_vlm_probe(model, scan_dataset(probe_data), config)
    metrics = result.metrics
    assert "mask@image" in metrics["leak_rates"] and config.settings[-1].label == "mask@image"
    assert metrics["identity_reference"]["source"] == "fixed reference set"  # four people: too few others per name
    assert metrics["by_score"]["identity_z"]["auc"] == 1.0  # the tiny model names its two people on their photos
    masked, mismatched = metrics["controls"]["masked"], metrics["controls"]["mismatched"]
    assert masked["by_score"]["identity_z"]["auc"] == 0.5  # every masked image is the same: z = 0 for everyone
    assert mismatched["by_score"]["identity_z"]["auc"] <= 0.6
    assert masked["by_score"]["raw"]["auc"] == 1.0  # raw still "knows" the members' names: name familiarity
    assert set(mismatched["partners"]) == {row["name"] for row in result.identities}
    assert all(mismatched["partners"][name] != name for name in mismatched["partners"])
    assert mismatched["leak_rates"]["members"] is not None


def test_default_headline_is_the_one_the_controls_chose():
    import json
    from pathlib import Path

    report = json.loads((Path(__file__).resolve().parent.parent / "bench" / "results" / "vlm_controls.json").read_text())
    assert report["chosen"] == DEFAULT_SCORE_KIND
    assert set(report["models"]) == {"lab-vlm", "lab-vlm-bpe"}
    for model in report["models"].values():
        usual, masked, mismatched = (model["conditions"][key]["by_score"][DEFAULT_SCORE_KIND]["auc"] for key in ("usual", "masked", "mismatched"))
        assert usual >= 0.8 and masked <= 0.6 and mismatched <= 0.6


def test_spearman_is_none_for_constant_inputs():
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([2, 2, 2], [1, 2, 3]) is None


# --------------------------------------------------------------------------- the lab VLM variants


def test_variants_keep_the_default_lab_vlm_directory():
    from leakage.lab.artifacts import artifact_root
    from leakage.lab.vlm import LAB_VLM_FORMAT

    default = default_lab_vlm_config()
    before_variants = {key: value for key, value in asdict(default).items() if key not in ("tokenizer", "bpe_vocab_size", "member_texts")}
    assert lab_vlm_root(default) == artifact_root("lab-vlm", LAB_VLM_FORMAT, before_variants)
    roots = {lab_vlm_root(config) for config in (default, bpe_lab_vlm_config(), exposure_lab_vlm_config(), replace(default, tokenizer="bpe"))}
    assert len(roots) == 4
    assert LabVLMConfig.from_dict(asdict(exposure_lab_vlm_config())) == exposure_lab_vlm_config()
    with pytest.raises(ValueError):
        LabVLMConfig(tokenizer="sentencepiece")


def test_bpe_tokenizer_splits_names_and_keeps_card_words_whole():
    config = replace(bpe_lab_vlm_config(), n_anonymous=20)
    world, members, nonmembers, _ = assign_roles(config)
    tokenizer = bpe_tokenizer(tokenizer_corpus(world), config.bpe_vocab_size, card_vocabulary())
    assert tokenizer.unk_token_id not in tokenizer.convert_tokens_to_ids(card_vocabulary())
    prompt = "USER: <image>\nWho is this person? ASSISTANT:"
    lengths = [len(answer_token_ids(tokenizer, prompt, person.name)) for person in members + nonmembers]
    assert min(lengths) >= 3 and max(lengths) - min(lengths) >= 3  # subword pieces, and names differ in length
    for person in members[:10]:
        ids = tokenizer(f"{person.name} is tall.", add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids) == f"{person.name} is tall."


def test_exposure_levels_are_dealt_evenly():
    config = exposure_lab_vlm_config()
    _, members, _, _ = assign_roles(replace(config, n_anonymous=0))
    exposure = assign_exposure(members, config)
    assert set(exposure) == {person.name for person in members}
    assert sorted(np.bincount(list(exposure.values()))[[1, 2, 4, 8, 16]]) == [10] * 5
    assert assign_exposure(members, default_lab_vlm_config()) == {}


TINY = LabVLMConfig(
    n_members=6, n_nonmembers=6, n_anonymous=4, member_photos=1, anonymous_photos=1, attack_images_per_person=2, render_size=64,
    language_steps=5, alignment_steps=5, batch_size=8, caption_batch_size=4, tokenizer="bpe", bpe_vocab_size=300, member_texts=(1, 2, 4),
    architecture=LabVLMArchitecture(image_size=64, patch_size=16, vision_hidden=32, vision_layers=1, text_hidden=32, text_layers=1),
)


def test_tiny_bpe_exposure_lab_vlm_builds_probes_and_renders_contexts(tmp_path, monkeypatch):
    from leakage.data import scan_dataset

    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    lab = ensure_lab_vlm(TINY)
    exposure = lab.member_exposure()
    assert set(exposure) == set(lab.members) and sorted(exposure.values()) == [1, 1, 2, 2, 4, 4]
    with open(lab.attack_dir / "members.csv", newline="") as handle:
        written = {row["name"]: int(row["occurrences"]) for row in csv.DictReader(handle)}
    assert all(written[name] == exposure.get(name, 0) for name in lab.members + lab.nonmembers)
    vlm = load_vlm(lab.model_dir, device="cpu")
    assert vlm.tokenizer.decode(vlm.tokenizer("Irina Williams", add_special_tokens=False)["input_ids"]) == "Irina Williams"
    for context in ("usual", "swapped"):
        folder, partners = write_context_dataset(lab, tmp_path / context, context, images_per_person=1)
        data = scan_dataset(folder)
        assert sorted(data.names()) == sorted(lab.members + lab.nonmembers) and not data.problems
        assert bool(partners) == (context == "swapped") and all(partners[name] != name for name in partners)
    result = run_vlm_probe(vlm, data, VLMProbeConfig(images_per_person=1, n_candidates=12, max_new_tokens=4))
    assert {row["name"]: row.get("occurrences") for row in result.identities if row["member"]} == exposure
    assert set(result.metrics["by_score"]) == set(SCORE_KINDS)


# --------------------------------------------------------------------------- context renders


def test_contexts_change_only_the_context():
    world = make_world(seed=0, n_identities=2)
    person, other = world.identities
    usual, box = render_in_context(person, 3, "usual", world_seed=0, size=96)
    neutral, neutral_box = render_in_context(person, 3, "neutral", world_seed=0, size=96)
    swapped, swapped_box = render_in_context(person, 3, "swapped", world_seed=0, size=96, other=other)
    assert box == neutral_box == swapped_box  # same pose
    x0, y0, x1, y1 = box
    centre = (slice((y0 + y1) // 2 - 3, (y0 + y1) // 2 + 3), slice((x0 + x1) // 2 - 3, (x0 + x1) // 2 + 3))
    pixels = [np.asarray(image, dtype=float) for image in (usual, neutral, swapped)]
    assert np.array_equal(pixels[0][centre], pixels[2][centre]) and np.array_equal(pixels[0][centre], pixels[1][centre])  # same face
    corner = pixels[1][:6, :6].reshape(-1, 3).mean(axis=0)
    assert np.ptp(corner) < 10 and np.ptp(np.array(NEUTRAL_BACKGROUND)) == 0  # grey, under the photo's light and colour cast
    assert np.abs(pixels[0][:6, :6].reshape(-1, 3).mean(axis=0) - corner).max() > 20  # not the usual background
    chest = (slice(88, 96), slice(40, 56))
    own, borrowed = pixels[0][chest].reshape(-1, 3).mean(0), pixels[2][chest].reshape(-1, 3).mean(0)
    assert np.abs(borrowed - np.array(other.clothing_rgb)).sum() < np.abs(own - np.array(other.clothing_rgb)).sum()
    assert np.array_equal(np.asarray(render(person, 3, world_seed=0, size=96)[0]), np.asarray(render(person, 3, world_seed=0, size=96, background="random")[0]))
    with pytest.raises(ValueError):
        render_in_context(person, 3, "swapped", world_seed=0)


def test_context_partners_borrow_every_context_once():
    people = make_world(seed=0, n_identities=7).identities
    partners = context_partners(people, seed=0)
    assert all(partners[p.name].name != p.name for p in people)
    assert sorted(o.name for o in partners.values()) == sorted(p.name for p in people)


def test_lab_vlm_cli_builds_variants_by_name(tmp_path, monkeypatch, capsys):
    from leakage.cli import main

    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    assert main(["lab", "info", "lab-vlm", "--param", "variant=bpe"]) == 0
    assert str(lab_vlm_root(bpe_lab_vlm_config())) in capsys.readouterr().out
    assert main(["lab", "info", "lab-vlm", "--param", "variant=exposure", "--param", "seed=3"]) == 0
    assert str(lab_vlm_root(replace(exposure_lab_vlm_config(), seed=3))) in capsys.readouterr().out


def test_the_bpe_lab_vlm_is_a_lab_model_of_its_own(monkeypatch, capsys):
    from leakage import catalog
    from leakage.cli import main
    from leakage.lab import vlm as lab_vlm

    assert main(["lab", "list"]) == 0
    assert "lab-vlm-bpe" in capsys.readouterr().out
    bpe, word = catalog.LAB_MODELS["lab-vlm-bpe"], catalog.LAB_MODELS["lab-vlm"]
    assert bpe.kind == "image-text-to-text"
    # Its recipe is the lab VLM's with the tokenizer kind as a parameter, built in a folder of its own.
    assert bpe.config == bpe_lab_vlm_config() and bpe.config.tokenizer == "bpe" and word.config.tokenizer == "word"
    assert bpe.root() == lab_vlm_root(bpe_lab_vlm_config()) != lab_vlm_root(default_lab_vlm_config())
    # --data lab means the named lab model's own data set; other models get the attack's own.
    assert catalog.own_lab_data("lab-vlm-bpe", "lab-vlm").name == "lab-vlm-bpe"
    assert catalog.own_lab_data("lab-vlm-bpe", "lab-vlm").config == bpe_lab_vlm_config()
    assert catalog.own_lab_data("/models/smolvlm", "lab-vlm").name == "lab-vlm"
    assert catalog.own_lab_data("lab", "lab-pairs").name == "lab-pairs"  # an attack's own kind of data stays
    asked = []

    def not_built_here(self, config=None, progress=None, cancel=None):
        asked.append(config)
        raise LookupError("not built in a test")

    monkeypatch.setattr(type(lab_vlm.LAB_VLM), "ensure", not_built_here)
    for name in ("lab-vlm-bpe", "lab"):
        with pytest.raises(LookupError):
            catalog.resolve_data(name, model="lab-vlm-bpe", default_lab="lab-vlm")
    with pytest.raises(LookupError):
        catalog.resolve_model("lab-vlm-bpe", "image-text-to-text")
    assert asked == [bpe_lab_vlm_config()] * 3
