"""Image-text membership inference on CLIP (leakage/attacks/clip_mia.py): the score is the plain
cosine similarity, broken rows are reported and skipped, the lab pair set separates training pairs
from held-out pairs, and the CLI and the page generated from the registry run it."""

from __future__ import annotations

import csv
import json
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
from leakage.attacks.clip_mia import CLIPMIAConfig, build_lab_pairs, read_pairs
from leakage.catalog import resolve_model

pytestmark = pytest.mark.usefixtures("isolated_home")


@pytest.fixture(scope="module")
def lab_pairs(default_lab) -> Path:
    return build_lab_pairs()


@pytest.fixture(scope="module")
def lab_clip(default_lab):
    return resolve_model("lab", "clip", device="cpu")


def small_pair_set(source: Path, folder: Path, n: int = 12) -> Path:
    """The first n pairs of the lab pair set, half members and half held-out, in a folder of their own."""
    rows = list(csv.DictReader((source / "pairs.csv").open()))
    chosen = [row for row in rows if row["member"] == "1"][: n // 2] + [row for row in rows if row["member"] == "0"][: n // 2]
    folder.mkdir()
    for row in chosen:
        shutil.copy(source / row["image"], folder / row["image"])
    with (folder / "pairs.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "caption", "member"])
        writer.writeheader()
        writer.writerows(chosen)
    return folder


def test_the_score_is_the_plain_cosine_similarity_of_image_and_caption(lab_pairs, lab_clip, tmp_path):
    folder = small_pair_set(lab_pairs, tmp_path / "pairs")
    attack = get_attack("clip-mia")
    result = attack.execute(lab_clip, read_pairs(folder), CLIPMIAConfig(), RunContext(batch_size=4, num_workers=0))

    from PIL import Image

    with torch.no_grad():  # the reference: one pair at a time, straight through the model
        for row in result.identities:
            image = lab_clip.preprocess(Image.open(row["path"]).convert("RGB")).unsqueeze(0)
            image_embedding = torch.nn.functional.normalize(lab_clip.model.encode_image(image).float(), dim=-1)
            text_embedding = torch.nn.functional.normalize(lab_clip.model.encode_text(lab_clip.tokenizer([row["caption"]])).float(), dim=-1)
            assert row["score"] == pytest.approx(float((image_embedding * text_embedding).sum()), abs=1e-4)
    assert result.attack == "clip-mia" and result.metrics["n_pairs"] == 12
    assert {"auc", "tpr_at_fpr", "roc"} <= set(result.metrics)


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


def test_augmentations_average_the_similarity_and_change_the_scores(lab_pairs, lab_clip, tmp_path):
    folder = small_pair_set(lab_pairs, tmp_path / "pairs", n=6)
    attack, pairs = get_attack("clip-mia"), read_pairs(folder)
    plain = attack.execute(lab_clip, pairs, CLIPMIAConfig(), RunContext(num_workers=0))
    augmented = attack.execute(lab_clip, pairs, CLIPMIAConfig(augmentations=3), RunContext(num_workers=0))
    again = attack.execute(lab_clip, pairs, CLIPMIAConfig(augmentations=3), RunContext(num_workers=0))
    scores = lambda result: np.array([row["score"] for row in result.identities])  # noqa: E731
    assert not np.allclose(scores(plain), scores(augmented))
    assert np.allclose(scores(augmented), scores(again))  # seeded
    assert augmented.config_hash != plain.config_hash


def test_cli_on_the_lab_writes_the_stable_json_keys_and_separates_training_pairs(lab_pairs, tmp_path):
    out = tmp_path / "r.json"
    done = subprocess.run([sys.executable, "-m", "leakage", "clip-mia", "--model", "lab", "--data", "lab", "--json", str(out),
                           "--quiet"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["attack"] == "clip-mia" and result["config_hash"] and "augmentations" in result["config"]
    assert set(result["metrics"]["tpr_at_fpr"]) == {"0.01", "0.001", "0"}
    assert result["metrics"]["auc"] >= 0.7
    assert "stored as run" in done.stdout  # the run store picked it up like any attack


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
    started = time.monotonic()
    page.get_by_role("button", name="Run the attack").click()
    page.get_by_text("ROC, log-log axes").first.wait_for()
    page.get_by_text("Per pair").wait_for()
    page.get_by_role("button", name="Download result (JSON)").wait_for()
    assert time.monotonic() - started < 300
    assert "AUC" in page.content()
    assert_no_exception(page)


from test_e2e import browser, page, server  # noqa: E402,F401  # the browser test's fixtures
