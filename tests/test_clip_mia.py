"""Image-text membership inference on CLIP (leakage/attacks/clip_mia.py): the score is the plain
cosine similarity (averaged over augmentations as the paper does), any threshold can be set, the
default one is calibrated on known non-members and says so, the weakly supervised mode runs, broken
rows are reported and skipped, the lab pair set's members carry the captions they were trained with,
and the CLI and the page generated from the registry run it."""

from __future__ import annotations

import csv
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from leakage.attacks import get_attack
from leakage.attacks.base import RunContext
from leakage.attacks.clip_mia import AUGMENTATION_SEED, CLIPMIAConfig, augment, build_lab_pairs, read_pairs
from leakage.catalog import resolve_model

pytestmark = pytest.mark.usefixtures("isolated_home")


@pytest.fixture(scope="module")
def lab_pairs(default_lab) -> Path:
    return build_lab_pairs()


@pytest.fixture(scope="module")
def lab_clip(default_lab):
    return resolve_model("lab", "clip", device="cpu")


def small_pair_set(source: Path, folder: Path, n: int = 12, known: int = 0) -> Path:
    """The first n pairs under test of the lab pair set, half members and half held-out, and `known` of its
    known non-member pairs, in a folder of their own."""
    rows = list(csv.DictReader((source / "pairs.csv").open()))
    target = [row for row in rows if row["split"] == "target"]
    chosen = [row for row in target if row["member"] == "1"][: n // 2] + [row for row in target if row["member"] == "0"][: n // 2]
    chosen += [row for row in rows if row["split"] == "known-nonmember"][:known]
    folder.mkdir()
    for row in chosen:
        shutil.copy(source / row["image"], folder / row["image"])
    with (folder / "pairs.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return folder


def reference_cosine(clip, image, caption: str) -> float:
    """One pair straight through the model."""
    with torch.no_grad():
        image_embedding = torch.nn.functional.normalize(clip.model.encode_image(clip.preprocess(image).unsqueeze(0)).float(), dim=-1)
        text_embedding = torch.nn.functional.normalize(clip.model.encode_text(clip.tokenizer([caption])).float(), dim=-1)
    return float((image_embedding * text_embedding).sum())


def test_the_score_is_the_plain_cosine_similarity_of_image_and_caption(lab_pairs, lab_clip, tmp_path):
    folder = small_pair_set(lab_pairs, tmp_path / "pairs")
    attack = get_attack("clip-mia")
    result = attack.execute(lab_clip, read_pairs(folder), CLIPMIAConfig(), RunContext(batch_size=4, num_workers=0))

    from PIL import Image

    for row in result.identities:  # the reference: one pair at a time, straight through the model
        assert row["score"] == pytest.approx(reference_cosine(lab_clip, Image.open(row["path"]).convert("RGB"), row["caption"]), abs=1e-4)
    assert result.attack == "clip-mia" and result.metrics["n_pairs"] == 12
    assert {"auc", "tpr_at_fpr", "roc"} <= set(result.metrics)
    # no threshold set and no known non-member to calibrate one: no decision, and the result says why
    assert result.metrics["threshold"] is None and "no threshold was set" in result.metrics["threshold_source"]
    assert all(row["predicted_member"] is None for row in result.identities)
    # rows name their person, so the intervals resample people (two member pairs per person here)
    assert all(row["person"] for row in result.identities)


def test_broken_rows_are_reported_and_the_other_pairs_scored(lab_pairs, lab_clip, tmp_path):
    folder = small_pair_set(lab_pairs, tmp_path / "pairs")
    with (folder / "pairs.csv").open("a", newline="") as handle:
        handle.write("missing.png,a photo of nobody,0\n")
        handle.write(f"{next(folder.glob('*.png')).name},,1\n")
    (folder / "broken.png").write_bytes(b"not an image")
    with (folder / "pairs.csv").open("a", newline="") as handle:
        handle.write("broken.png,a photo of someone,0\n")
    pairs = read_pairs(folder)
    result = get_attack("clip-mia").execute(lab_clip, pairs, CLIPMIAConfig(), RunContext(batch_size=4, num_workers=0))
    reasons = {problem["path"]: problem["reason"] for problem in result.problems}
    assert reasons["missing.png"] == "image file not found"
    assert any("caption" in reason for reason in reasons.values())
    assert str(folder / "broken.png") in reasons
    assert len(result.identities) == 12  # every good pair scored


def test_augmentations_average_the_cosine_similarities(lab_pairs, lab_clip, tmp_path):
    from leakage.data import load_image

    folder = small_pair_set(lab_pairs, tmp_path / "pairs", n=6)
    attack, pairs = get_attack("clip-mia"), read_pairs(folder)
    plain = attack.execute(lab_clip, pairs, CLIPMIAConfig(), RunContext(num_workers=0))
    config = CLIPMIAConfig(augmentations=3, seed=5)
    augmented = attack.execute(lab_clip, pairs, config, RunContext(num_workers=0))
    again = attack.execute(lab_clip, pairs, config, RunContext(num_workers=0))
    scores = lambda result: np.array([row["score"] for row in result.identities])  # noqa: E731
    assert not np.allclose(scores(plain), scores(augmented))
    assert np.allclose(scores(augmented), scores(again))  # seeded
    assert augmented.config_hash != plain.config_hash

    # the reference: the same augmented copies (same seed, same order), each copy's cosine with the caption, averaged
    rng = random.Random(config.seed * 1_000_003 + AUGMENTATION_SEED)
    cosines = [[reference_cosine(lab_clip, load_image(path), caption) for path, caption in zip(pairs.images, pairs.captions)]]
    for _ in range(config.augmentations):
        cosines.append([reference_cosine(lab_clip, augment(load_image(path), rng), caption)
                        for path, caption in zip(pairs.images, pairs.captions)])
    expected = np.mean(cosines, axis=0)
    assert scores(augmented) == pytest.approx(expected, abs=1e-4)


def test_any_threshold_can_be_set_and_the_default_is_calibrated_on_known_nonmembers(lab_pairs, lab_clip, tmp_path):
    from statistics import NormalDist

    from PIL import Image

    folder = small_pair_set(lab_pairs, tmp_path / "pairs", n=8, known=10)
    attack, pairs = get_attack("clip-mia"), read_pairs(folder)
    assert len(pairs.rows("known-nonmember")) == 10 and len(pairs.rows("target")) == 8

    zero = attack.execute(lab_clip, pairs, CLIPMIAConfig(threshold=0.0), RunContext(num_workers=0))
    assert zero.metrics["threshold"] == 0.0 and zero.metrics["threshold_source"] == "set in the config"
    assert all(row["predicted_member"] == (row["score"] >= 0.0) for row in zero.identities)
    assert zero.metrics["at_threshold"]["threshold"] == 0.0
    assert len(zero.identities) == 8  # the known non-members calibrate; they are not scored as pairs under test

    default = attack.execute(lab_clip, pairs, CLIPMIAConfig(), RunContext(num_workers=0))
    known = [reference_cosine(lab_clip, Image.open(pairs.images[i]).convert("RGB"), pairs.captions[i])
             for i in pairs.rows("known-nonmember")]
    assert default.metrics["threshold"] == pytest.approx(np.quantile(known, NormalDist().cdf(1.5)), abs=1e-4)
    assert "calibrated on 10 pairs known not to be in training" in default.metrics["threshold_source"]
    assert all(row["predicted_member"] == (row["score"] >= default.metrics["threshold"]) for row in default.identities)
    assert "calibrated on 10 pairs" in "\n".join(attack.call("summary_lines", default))


def test_the_weakly_supervised_mode_needs_known_nonmembers(lab_pairs, lab_clip, tmp_path):
    folder = small_pair_set(lab_pairs, tmp_path / "pairs", n=8)
    with pytest.raises(ValueError, match="known not to be in the training data"):
        get_attack("clip-mia").execute(lab_clip, read_pairs(folder), CLIPMIAConfig(mode="weakly-supervised"), RunContext(num_workers=0))
    with pytest.raises(ValueError, match="unknown mode"):
        CLIPMIAConfig(mode="strong")


def test_lab_member_pairs_carry_the_captions_they_were_trained_with(lab_pairs, default_lab):
    from leakage.lab.build import training_captions

    trained = training_captions(default_lab.config)
    assert all(len(captions) == default_lab.config.clip.epochs for captions in trained.values())
    rows = list(csv.DictReader((lab_pairs / "pairs.csv").open()))
    members = [row for row in rows if row["member"] == "1"]
    assert members and {row["split"] for row in members} == {"target", "pool"}
    for row in members:
        index = int(row["image"].split("-")[1].removesuffix(".png"))
        assert row["caption"] == trained[(row["person"], index)][-1]
    assert not any(row["member"] == "1" for row in rows if row["split"] == "known-nonmember")
    splits = [row["split"] for row in rows]
    assert splits.count("target") == 400 and splits.count("known-nonmember") == 200 and splits.count("pool") == 400


def test_cli_on_the_lab_writes_the_stable_json_keys_and_separates_training_pairs(lab_pairs, tmp_path):
    out = tmp_path / "r.json"
    done = subprocess.run([sys.executable, "-m", "leakage", "clip-mia", "--model", "lab", "--data", "lab", "--json", str(out),
                           "--quiet"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["attack"] == "clip-mia" and result["config_hash"] and "augmentations" in result["config"]
    assert set(result["metrics"]["tpr_at_fpr"]) == {"0.01", "0.001", "0"}
    assert result["metrics"]["auc"] >= 0.7
    assert result["metrics"]["bootstrap"]["unit"] == "cluster" and result["metrics"]["bootstrap"]["n_clusters"] == 200
    assert "stored as run" in done.stdout  # the run store picked it up like any attack

    done = subprocess.run([sys.executable, "-m", "leakage", "clip-mia", "--model", "lab", "--data", "lab", "--mode",
                           "weakly-supervised", "--json", str(out), "--quiet"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    weak = result["details"]["weak_supervision"]
    assert result["config"]["mode"] == "weakly-supervised" and weak["n_known_nonmembers"] == 200
    assert 0 < weak["n_pseudo_members"] <= weak["n_candidates"] == 400 and "pool" in weak["candidates"]
    assert all(0.0 <= row["score"] <= 1.0 for row in result["identities"])  # the attack model's membership probability
    assert result["metrics"]["auc"] > 0.55 and "weakly supervised" in done.stdout


def test_a_pair_set_needs_its_table():
    with pytest.raises(FileNotFoundError, match="pairs.csv"):
        read_pairs(Path(__file__).parent)


@pytest.mark.e2e
def test_the_generated_page_runs_cancels_and_shows_the_result(server, page):  # noqa: F811
    from test_e2e import assert_no_exception, settle

    page.goto(f"{server['url']}/clip-mia")
    page.get_by_role("heading", name="Image-text membership (CLIP)").wait_for()
    settle(page)
    sidebar = page.locator("section[data-testid='stSidebar']")
    sidebar.get_by_role("spinbutton", name="Augmentations").fill("16")  # a long run, to cancel it
    sidebar.get_by_role("spinbutton", name="Augmentations").press("Enter")
    settle(page)
    page.get_by_role("button", name="Run the attack").click()
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Run cancelled").wait_for()
    sidebar.get_by_role("spinbutton", name="Augmentations").fill("0")
    sidebar.get_by_role("spinbutton", name="Augmentations").press("Enter")
    settle(page)
    sidebar.locator("div[data-testid='stSelectbox']").filter(has_text="Mode").click()  # the config's mode, generated
    page.get_by_role("option", name="weakly-supervised").click()
    settle(page)
    started = time.monotonic()
    page.get_by_role("button", name="Run the attack").click()
    page.get_by_text("ROC, log-log axes").first.wait_for()
    page.get_by_text("Per pair").wait_for()
    page.get_by_role("button", name="Download result (JSON)").wait_for()
    page.get_by_text("Threshold and mode").wait_for()  # the attack's own section, after the standard view
    assert time.monotonic() - started < 300
    content = page.content()
    assert "AUC" in content and "Weakly supervised attack:" in content and "calibrated on 200 pairs" in content
    assert_no_exception(page)


def test_plans_and_the_cli_offer_the_mode_and_an_unset_threshold():
    import argparse

    from leakage.audit.plan import parse_plan
    from leakage.commands.attacks import add_config_arguments, config_from_arguments

    plan = parse_plan('[[job]]\nattack = "clip-mia"\nmodel = "lab"\ndata = "lab-pairs"\nmode = ["similarity", "weakly-supervised"]\n')
    assert [job.config["mode"] for job in plan.jobs] == ["similarity", "weakly-supervised"]
    assert all(job.config["threshold"] is None for job in plan.jobs)
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, CLIPMIAConfig)
    attack = get_attack("clip-mia")
    assert config_from_arguments(attack, parser.parse_args([])).threshold is None
    assert config_from_arguments(attack, parser.parse_args(["--threshold", "0"])).threshold == 0.0
    assert config_from_arguments(attack, parser.parse_args(["--mode", "weakly-supervised"])).mode == "weakly-supervised"


from test_e2e import browser, page, server  # noqa: E402,F401  # the browser test's fixtures
