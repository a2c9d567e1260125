"""The IDIA end to end on a small lab built for the test: real renders, a real trained CLIP, real files."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from leakage.data import scan_dataset
from leakage.context import RunContext
from leakage.idia import IDIAConfig, PersonUpload, retune, run_idia
from leakage.lab.build import LabConfig, ensure_control, ensure_lab, is_built
from leakage.lab.clip_train import ClipTrainConfig
from leakage.models import load_clip

pytestmark = pytest.mark.slow

SMALL_LAB = LabConfig(
    seed=7,
    n_members=16,
    n_nonmembers=16,
    occurrences=(12,),
    n_control=16,
    n_filler=20,
    filler_images_per_person=3,
    attack_images_per_person=6,
    clip=ClipTrainConfig(epochs=25, batch_size=64),
)


@pytest.fixture(scope="module")
def small_lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("leakage-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("LEAKAGE_HOME", str(home))
    stages = []
    lab = ensure_lab(SMALL_LAB, progress=lambda stage, done, total: stages.append(stage))
    yield lab, stages, home
    patch.undo()


def test_lab_records_membership_beside_the_checkpoint(small_lab):
    lab, stages, _ = small_lab
    assert is_built(SMALL_LAB)
    assert any(stage.startswith("train lab CLIP") for stage in stages)
    meta = json.loads(lab.clip_checkpoint.with_suffix(".json").read_text())
    assert set(meta["members"]) == set(lab.members) and len(meta["nonmembers"]) == 16
    assert all(count == 12 for count in meta["members"].values())
    dataset = scan_dataset(lab.attack_dir)
    assert not dataset.problems
    assert sorted(dataset.names()) == sorted(list(lab.members) + lab.nonmembers)
    assert dataset.members is not None and sum(dataset.members.values()) == 16
    # the lab is reused, not rebuilt
    again_stages = []
    assert ensure_lab(SMALL_LAB, progress=lambda *a: again_stages.append(a)).root == lab.root
    assert again_stages == []


def test_idia_separates_members_from_nonmembers(small_lab):
    lab, _, _ = small_lab
    clip = load_clip(lab.clip_model_name, str(lab.clip_checkpoint), device="cpu")
    result = run_idia(clip, scan_dataset(lab.attack_dir), IDIAConfig(images_per_person=6, n_candidates=200, n_draws=3))
    data = json.loads(result.to_json())
    assert {"config", "config_hash", "metrics", "identities"} <= set(data)
    assert set(data["metrics"]["tpr_at_fpr"]) == {"0.01", "0.001", "0"}
    assert data["metrics"]["auc"] >= 0.85, data["metrics"]["auc"]
    members = [row for row in result.identities if row["member"]]
    nonmembers = [row for row in result.identities if not row["member"]]
    assert np.mean([row["correct_prompts"] for row in members]) > np.mean([row["correct_prompts"] for row in nonmembers]) + 5
    assert all(len(image["top"]) == 5 for image in result.images)
    assert result.metrics["draws"]["n"] == 3
    # tau can be moved without touching the model again
    strict = retune(result, 21)
    assert strict["fp"] <= result.metrics["at_threshold"]["fp"]


def test_control_model_knows_nobody(small_lab):
    lab, _, _ = small_lab
    clip = load_clip(lab.clip_model_name, str(ensure_control(lab)), device="cpu")
    result = run_idia(clip, scan_dataset(lab.attack_dir), IDIAConfig(images_per_person=6, n_candidates=200, n_draws=0))
    assert abs(result.metrics["auc"] - 0.5) <= 0.2
    assert result.metrics["n_predicted_members"] <= 3


def test_broken_files_are_listed_and_the_rest_scored(small_lab, tmp_path):
    lab, _, _ = small_lab
    folder = tmp_path / "data"
    shutil.copytree(lab.attack_dir, folder)
    person = sorted(lab.members)[0]
    good = sorted((folder / person).glob("*.png"))
    (folder / person / "broken.jpg").write_bytes(good[0].read_bytes()[:200])
    (folder / person / "empty.png").write_bytes(b"")
    (folder / person / "notes.jpg").write_text("not an image")
    clip = load_clip(lab.clip_model_name, str(lab.clip_checkpoint), device="cpu")
    # k = 20 with keep_short: every image of everyone is tried, and everyone is scored on what they have, flagged
    result = run_idia(
        clip,
        scan_dataset(folder),
        IDIAConfig(images_per_person=20, n_candidates=100, n_draws=0, keep_short=True),
        RunContext(batch_size=16, num_workers=2),
    )
    reasons = {problem["path"].split("/")[-1]: problem["reason"] for problem in result.problems}
    assert set(reasons) == {"broken.jpg", "empty.png", "notes.jpg"}, reasons
    assert "truncated" in reasons["broken.jpg"] and "empty" in reasons["empty.png"]
    row = next(row for row in result.identities if row["name"] == person)
    assert row["n_images"] == len(good) and row["too_few_images"]
    assert result.metrics["n_images"] == 32 * 6 and result.metrics["n_too_few_images"] == 32
    entry = next(entry for entry in result.details["too_few_images"] if entry["name"] == person)
    assert entry["reason"] == "6 usable of 8 images (2 unreadable), fewer than k = 20"  # notes.jpg is not even listed as an image

    # k = 6: the unreadable files drawn are replaced by the person's other images, so they are scored on exactly 6
    result = run_idia(clip, scan_dataset(folder), IDIAConfig(images_per_person=6, n_candidates=100, n_draws=0))
    row = next(row for row in result.identities if row["name"] == person)
    assert row["n_images"] == 6 and not row["too_few_images"] and result.metrics["n_excluded"] == 0
    assert {problem["path"].split("/")[-1] for problem in result.problems} <= {"broken.jpg", "empty.png", "notes.jpg"}


def test_check_one_person_from_memory(small_lab):
    from PIL import Image

    lab, _, _ = small_lab
    member = sorted(lab.members)[1]
    photos = [(path.name, Image.open(path).convert("RGB")) for path in sorted((lab.attack_dir / member).glob("*.png"))]
    clip = load_clip(lab.clip_model_name, str(lab.clip_checkpoint), device="cpu")
    result = run_idia(clip, [PersonUpload(member, photos)], IDIAConfig(n_candidates=100, n_draws=0))
    (row,) = result.identities
    assert row["name"] == member and row["n_images"] == 6
    assert row["too_few_images"]  # k = 10 by default: the one person asked about is kept, flagged, not left out
    assert row["correct_prompts"] >= 10 and row["predicted_member"]


def test_check_one_person_with_3_photos_reports_an_fpr_measured_at_k_3(small_lab):
    """The reference non-members are scored on as many photos as the check (the vote's FPR depends on k)."""
    from PIL import Image

    from leakage.idia import checked_images, reference_config, reference_false_positive_rate, reference_summary

    lab, _, _ = small_lab
    member = sorted(lab.members)[1]
    photos = [(path.name, Image.open(path).convert("RGB")) for path in sorted((lab.attack_dir / member).glob("*.png"))[:3]]
    clip = load_clip(lab.clip_model_name, str(lab.clip_checkpoint), device="cpu")
    config = IDIAConfig(n_candidates=100, n_draws=0)  # k = 10 on the page's slider: the check has only 3 photos
    checked = run_idia(clip, [PersonUpload(member, photos)], config)
    k = checked_images(checked)
    assert k == 3
    reference = run_idia(clip, scan_dataset(lab.attack_dir), reference_config(config, k))
    assert {row["n_images"] for row in reference.identities} == {3}  # not the 10 of the config (they have 6)
    summary = reference_summary(reference, k)
    assert summary["k"] == 3 and summary["measured_k"] == [3] and len(summary["nonmember_correct_prompts"]) == 16
    (row,) = checked.identities
    rate = reference_false_positive_rate(summary, row["correct_prompts"])
    expected = sum(count >= max(row["correct_prompts"], 1) for count in summary["nonmember_correct_prompts"]) / 16
    assert rate["k"] == 3 and rate["fpr"] == expected and rate["n"] == 16
    # at k = 1 the vote is one photo's top-1: the reference there differs from the one at k = 3
    one = reference_summary(run_idia(clip, scan_dataset(lab.attack_dir), reference_config(config, 1)), 1)
    assert one["measured_k"] == [1] and one["nonmember_correct_prompts"] != summary["nonmember_correct_prompts"]


def test_min_images_keeps_one_population_across_k(small_lab, tmp_path):
    """With min_images, people with fewer images are left out at every k, so a k sweep scores the same people."""
    lab, _, _ = small_lab
    folder = tmp_path / "data"
    shutil.copytree(lab.attack_dir, folder)
    short = sorted(lab.members)[0]
    for path in sorted((folder / short).glob("*.png"))[4:]:
        path.unlink()  # 4 images left
    clip = load_clip(lab.clip_model_name, str(lab.clip_checkpoint), device="cpu")
    scored = {}
    for k in (2, 5):
        for floor in (None, 5):
            result = run_idia(clip, scan_dataset(folder), IDIAConfig(images_per_person=k, n_candidates=100, n_draws=0,
                                                                     min_images=floor))
            scored[k, floor] = {row["name"] for row in result.identities}
            if floor:
                (entry,) = result.details["excluded"]
                assert entry["name"] == short and entry["reason"] == "4 images in the folder, fewer than min_images = 5"
    assert short in scored[2, None] and short not in scored[5, None]  # without it the population changes with k
    assert scored[2, 5] == scored[5, 5] == scored[5, None]  # with it, one population at every k
    with pytest.raises(ValueError, match="min_images"):
        IDIAConfig(min_images=0)


def test_a_plan_sweeping_k_defaults_min_images_to_its_largest_k():
    from leakage.audit.plan import parse_plan

    plan = parse_plan('[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "lab"\nimages_per_person = [1, 3, 10]\n')
    assert [job.config["min_images"] for job in plan.jobs] == [10, 10, 10]
    single = parse_plan('[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "lab"\nimages_per_person = 3\n')
    assert single.jobs[0].config["min_images"] is None
    given = parse_plan('[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "lab"\nimages_per_person = [1, 3]\nmin_images = 30\n')
    assert {job.config["min_images"] for job in given.jobs} == {30}


def test_cli_writes_the_stable_json(small_lab, tmp_path):
    lab, _, home = small_lab
    out = tmp_path / "r.json"
    completed = subprocess.run(
        [sys.executable, "-m", "leakage", "idia", "--model", "lab-clip-s", "--pretrained", str(lab.clip_checkpoint),
         "--data", str(lab.attack_dir), "--images-per-person", "5", "--names", "150", "--draws", "2",
         "--json", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "LEAKAGE_HOME": str(home)},
    )
    assert completed.returncode == 0, completed.stderr
    assert "AUC" in completed.stdout and "stored as run" in completed.stdout
    data = json.loads(out.read_text())
    assert data["config"]["images_per_person"] == 5 and data["config"]["n_candidates"] == 150
    assert len(data["config_hash"]) == 16 and data["code_version"].startswith("0.")
    assert isinstance(data["metrics"]["auc"], float)
    assert {"0.01", "0.001", "0"} == set(data["metrics"]["tpr_at_fpr"])
    row = data["identities"][0]
    assert {"name", "score", "correct_prompts", "member", "predicted_member"} <= set(row)


def test_people_with_fewer_than_k_usable_images_are_left_out_and_listed(small_lab, tmp_path):
    """The paper's protocol from the command line: exactly k images per person, short people listed."""
    lab, _, home = small_lab
    folder = tmp_path / "data"
    shutil.copytree(lab.attack_dir, folder)
    member, nonmember, broken = sorted(lab.members)[0], sorted(lab.nonmembers)[0], sorted(lab.members)[1]
    for path in sorted((folder / member).glob("*.png"))[3:]:
        path.unlink()  # 3 images left
    for path in sorted((folder / nonmember).glob("*.png"))[1:]:
        path.unlink()  # 1 image left
    for path in sorted((folder / broken).glob("*.png"))[:2]:
        path.write_bytes(path.read_bytes()[:200])  # truncated: 6 images listed, 4 readable
    out = tmp_path / "r.json"
    completed = subprocess.run(
        [sys.executable, "-m", "leakage", "idia", "--model", "lab-clip-s", "--pretrained", str(lab.clip_checkpoint),
         "--data", str(folder), "--images-per-person", "5", "--names", "150", "--draws", "20", "--json", str(out),
         "--no-store", "--quiet"],
        capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "LEAKAGE_HOME": str(home)},
    )
    assert completed.returncode == 0, completed.stderr
    printed = completed.stdout
    assert "3 people left out, fewer than k = 5 usable images" in printed
    assert f"  {member}: 3 images in the folder, fewer than k = 5" in printed
    assert f"  {nonmember}: 1 image in the folder, fewer than k = 5" in printed
    assert f"  {broken}: 4 usable of 6 images (2 unreadable), fewer than k = 5" in printed, printed
    data = json.loads(out.read_text())
    assert [entry["name"] for entry in data["details"]["excluded"]] == sorted([member, nonmember, broken])
    assert {entry["name"]: entry["member"] for entry in data["details"]["excluded"]} == {member: True, nonmember: False, broken: True}
    scored = {row["name"]: row["n_images"] for row in data["identities"]}
    assert len(scored) == 29 and not {member, nonmember, broken} & set(scored)
    assert set(scored.values()) == {5}  # every other person on exactly k images
    assert data["metrics"]["n_images"] == 29 * 5 and data["metrics"]["n_excluded"] == 3
    draws = data["metrics"]["draws"]
    assert draws["n"] == 20 and draws["ddof"] == 1 and draws["tpr"]["std"] > 0
    assert "over 20 draws of 5 images (mean ± sample std): TPR " in printed
    # the non-members left: N = 15, so no 0.1% (or 1%) figure is printed without saying so
    assert "TPR at FPR = 0 (N = 15: levels below 6.7% not resolvable)" in printed and "0.1% FPR" not in printed

    kept = subprocess.run(
        [sys.executable, "-m", "leakage", "idia", "--model", "lab-clip-s", "--pretrained", str(lab.clip_checkpoint),
         "--data", str(folder), "--images-per-person", "5", "--names", "150", "--draws", "0", "--keep-short",
         "--json", str(out), "--no-store", "--quiet"],
        capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "LEAKAGE_HOME": str(home)},
    )
    assert kept.returncode == 0, kept.stderr
    assert "3 people scored on fewer than k images (flagged too_few_images)" in kept.stdout
    rows = {row["name"]: row for row in json.loads(out.read_text())["identities"]}
    assert len(rows) == 32 and rows[member]["n_images"] == 3 and rows[member]["too_few_images"]
    assert rows[broken]["n_images"] == 4 and not rows[sorted(lab.members)[2]]["too_few_images"]


def test_cli_draws_distractors_from_a_names_file(small_lab, tmp_path, monkeypatch, capsys):
    from leakage.cli import main as cli_main

    lab, _, home = small_lab
    monkeypatch.setenv("LEAKAGE_HOME", str(home))
    german = [f"{first} {last}" for first in ("Jürgen", "Sabine", "Klaus", "Monika", "Dieter", "Ursula", "Uwe", "Heike")
              for last in ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schulz")]
    names_file = tmp_path / "german.txt"
    names_file.write_text("# common German first names x surnames\n" + "\n".join(german) + "\n", encoding="utf-8")
    out = tmp_path / "r.json"
    assert cli_main(["idia", "--model", "lab-clip-s", "--pretrained", str(lab.clip_checkpoint), "--data", str(lab.attack_dir),
                     "--images-per-person", "3", "--names", "100", "--draws", "0", "--names-file", str(names_file),
                     "--workers", "0", "--json", str(out), "--no-store", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "100 candidate names (distractors from 80 names from the names file)" in printed
    data = json.loads(out.read_text())
    assert data["config"]["distractor_names"] == german and data["details"]["distractors"] == "names list given with the run"
    people = set(lab.members) | set(lab.nonmembers)
    named = {entry["name"] for image in data["images"] for entry in image["top"]}
    assert named - people and named <= people | set(german)  # every distractor the model picked came from the file
    assert cli_main(["idia", "--model", "lab-clip-s", "--pretrained", str(lab.clip_checkpoint), "--data", str(lab.attack_dir),
                     "--names", "200", "--names-file", str(names_file), "--no-store", "--quiet"]) == 2
    assert "80 usable distractor names" in capsys.readouterr().err


def test_only_the_images_a_run_needs_are_encoded(small_lab, tmp_path, monkeypatch):
    lab, _, _ = small_lab
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))  # an empty cache
    clip = load_clip(lab.clip_model_name, str(lab.clip_checkpoint), device="cpu")
    data = scan_dataset(lab.attack_dir)
    few = run_idia(clip, data, IDIAConfig(images_per_person=2, n_candidates=100, n_draws=0))
    assert few.details["image_cache"] == {"images": 32 * 2, "from_cache": 0, "encoded": 32 * 2, "listed": 32 * 6}
    assert len(few.images) == 32 * 2 and all(image["in_draw"] for image in few.images)
    # repeated draws pick from every image, so all are encoded; the cache gives back the 64 already done
    drawn = run_idia(clip, data, IDIAConfig(images_per_person=2, n_candidates=100, n_draws=3))
    assert drawn.details["image_cache"] == {"images": 32 * 6, "from_cache": 32 * 2, "encoded": 32 * 4, "listed": 32 * 6}
    assert drawn.metrics["draws"]["n"] == 3
    # the main draw is the same images either way (each person's first k usable in a seeded order)
    assert [row["name"] for row in drawn.identities] == [row["name"] for row in few.identities]
    assert [row["score"] for row in drawn.identities] == pytest.approx([row["score"] for row in few.identities], abs=1e-6)
    assert {image["path"] for image in drawn.images if image["in_draw"]} == {image["path"] for image in few.images}


def test_cli_reports_a_missing_folder_clearly(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "leakage", "idia", "--model", "lab-clip-s", "--pretrained", str(tmp_path / "x.pt"),
         "--data", str(tmp_path / "nowhere")],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 2
    assert "error:" in completed.stderr and "not found" in completed.stderr


def test_a_rerun_reads_image_embeddings_back_and_a_changed_file_is_encoded_again(small_lab, tmp_path, monkeypatch):
    from PIL import Image

    from leakage.idia import AttackImage, embed_images, image_embedding_cache

    lab, _, _ = small_lab
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))  # an empty cache
    folder = tmp_path / "attack"
    shutil.copytree(lab.attack_dir, folder)
    clip = load_clip(lab.clip_model_name, str(lab.clip_checkpoint), device="cpu")
    config = IDIAConfig(images_per_person=6, n_candidates=100, n_draws=0)
    first = run_idia(clip, scan_dataset(folder), config)
    assert first.details["image_cache"] == {"images": 32 * 6, "from_cache": 0, "encoded": 32 * 6, "listed": 32 * 6}

    again = run_idia(clip, scan_dataset(folder), IDIAConfig(images_per_person=6, n_candidates=150, tau=3, n_draws=0))
    assert again.details["image_cache"] == {"images": 32 * 6, "from_cache": 32 * 6, "encoded": 0, "listed": 32 * 6}
    same = run_idia(clip, scan_dataset(folder), config)
    assert [row["score"] for row in same.identities] == [row["score"] for row in first.identities]

    person = sorted(lab.members)[0]
    changed = sorted((folder / person).glob("*.png"))[0]
    Image.open(changed).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(changed)  # new content, same path
    after_edit = run_idia(clip, scan_dataset(folder), config)
    assert after_edit.details["image_cache"]["encoded"] == 1

    # the cache hands out float16-rounded rows, within 1e-3 of the full-precision embeddings
    images = [AttackImage(person, str(path), path.name) for path in sorted((folder / person).glob("*.png"))]
    cached, _, stats = embed_images(clip, images, RunContext())
    fresh, _, _ = embed_images(clip, images, RunContext(use_image_cache=False))
    assert stats["from_cache"] == len(images) and np.abs(cached - fresh).max() < 1e-3

    def cached_keys() -> int:
        return len(json.loads((image_embedding_cache(clip).directory / "keys.json").read_text()))

    before = cached_keys()
    photos = [(path.name, Image.open(path).convert("RGB")) for path in sorted((folder / person).glob("*.png"))]
    upload = run_idia(clip, [PersonUpload(person, photos)], IDIAConfig(n_candidates=100, n_draws=0))
    assert upload.details["image_cache"]["from_cache"] == 0
    assert cached_keys() == before  # photos checked from memory (uploads) never reach the cache


def test_cancel_stops_between_batches_and_caches_nothing(small_lab, tmp_path, monkeypatch):
    from cancelling import CancelDuring

    from leakage.results import RunCancelled

    lab, _, _ = small_lab
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))  # an empty cache
    clip = load_clip(lab.clip_model_name, str(lab.clip_checkpoint), device="cpu")
    data = scan_dataset(lab.attack_dir)
    config = IDIAConfig(images_per_person=6, n_candidates=100, n_draws=0)
    press = CancelDuring("encode images")
    with pytest.raises(RunCancelled):
        run_idia(clip, data, config, RunContext(batch_size=16, num_workers=0, progress=press, cancel=press.flag))
    assert press.stopped_early()  # 16 of 192 images encoded, then it stopped
    after = run_idia(clip, data, config)
    assert after.details["image_cache"]["from_cache"] == 0  # the cancelled run left no half-done cache
