"""Roots on every file opened (issue 22, SECURITY.md §3): with LEAKAGE_DATA_ROOTS/LEAKAGE_MODEL_ROOTS
set, a link inside an allowed folder that leads out of it, `pairs.csv` rows with absolute or `../`
paths, a trigger image outside the roots and a plan on an outside folder are refused or skipped with
a reason, by the engine's readers themselves, so by the CLI, the pages, a plan and a Ray worker alike.
Nothing outside is read: an audit hook lists every file this process opens. Refusals never say
where a link leads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from security_fixtures import OpenedFiles, people_with_links_out

LINK_REFUSED = "leads outside its folder"


@pytest.fixture
def roots(tmp_path: Path, monkeypatch, isolated_home) -> dict[str, Path]:
    data_root, model_root, outside = tmp_path / "data-root", tmp_path / "model-root", tmp_path / "outside"
    model_root.mkdir()
    people = people_with_links_out(data_root / "people", outside)
    monkeypatch.setenv("LEAKAGE_DATA_ROOTS", str(data_root))
    monkeypatch.setenv("LEAKAGE_MODEL_ROOTS", str(model_root))
    return {"data": data_root, "model": model_root, "outside": outside, "people": people["root"]}


def no_outside_path_in(text: str, roots: dict[str, Path]) -> bool:
    return str(roots["outside"]) not in text and "Secret" not in text.replace("Linked Person", "")


def test_links_out_of_a_data_folder_are_skipped_with_a_reason_and_never_read(roots):
    from leakage.data import scan_dataset

    with OpenedFiles.recording() as opened:
        dataset = scan_dataset(roots["people"])
    assert dataset.names() == ["Ann Lee", "Bo Chan"] and dataset.n_images() == 4  # the linked image and person skipped
    reasons = {Path(problem.path).name: problem.reason for problem in dataset.problems}
    assert LINK_REFUSED in reasons["Linked Person"] and LINK_REFUSED in reasons["linked.png"]
    assert LINK_REFUSED in reasons["members.csv"] and dataset.members is None
    assert all(no_outside_path_in(f"{problem.path} {problem.reason}", roots) for problem in dataset.problems)
    assert opened.under(roots["outside"]) == []


def test_without_roots_links_are_followed_as_before(roots, monkeypatch):
    from leakage.data import scan_dataset

    monkeypatch.delenv("LEAKAGE_DATA_ROOTS")
    monkeypatch.delenv("LEAKAGE_MODEL_ROOTS")
    dataset = scan_dataset(roots["people"])
    assert "Linked Person" in dataset.names() and dataset.members == {"Ann Lee": True, "Bo Chan": False}


def test_an_image_outside_the_roots_is_a_reported_bad_image(roots):
    from leakage.data import ImageLoadError, load_image

    with OpenedFiles.recording() as opened, pytest.raises(ImageLoadError, match="outside the folders this server may read"):
        load_image(roots["outside"] / "Secret Person" / "0.png")
    assert opened.under(roots["outside"]) == []


def test_pairs_rows_that_leave_the_pair_folder_are_skipped(roots):
    from PIL import Image

    from leakage.attacks.clip_mia import read_pairs

    folder = roots["data"] / "pairs"
    folder.mkdir()
    Image.new("RGB", (16, 16)).save(folder / "a.png")
    (folder / "link.png").symlink_to(roots["outside"] / "Secret Person" / "1.png")
    secret = roots["outside"] / "Secret Person" / "0.png"
    (folder / "pairs.csv").write_text("image,caption,member\na.png,a photo,1\n"
                                      f"{secret},an absolute path,1\n../../outside/Secret Person/0.png,a relative escape,0\n"
                                      "link.png,a link out,0\n")
    with OpenedFiles.recording() as opened:
        pairs = read_pairs(folder)
    assert [Path(image).name for image in pairs.images] == ["a.png"]
    assert [problem["path"] for problem in pairs.problems] == ["pairs.csv:3", "pairs.csv:4", "pairs.csv:5"]
    assert all(LINK_REFUSED in problem["reason"] and no_outside_path_in(problem["reason"], roots) for problem in pairs.problems)
    assert opened.under(roots["outside"]) == []


def test_a_trigger_outside_the_roots_is_refused(roots):
    from leakage.backdoor import check_trigger
    from leakage.paths import PathNotAllowed

    inside = roots["people"] / "Ann Lee" / "0.png"
    check_trigger(str(inside))
    with OpenedFiles.recording() as opened:
        for trigger in (roots["outside"] / "Secret Person" / "0.png", roots["people"] / "Ann Lee" / "linked.png"):
            with pytest.raises(PathNotAllowed, match="outside the folders this server may read"):
                check_trigger(str(trigger))
    assert opened.under(roots["outside"]) == []


def test_model_files_outside_the_roots_are_refused(roots, tmp_path, monkeypatch):
    import open_clip
    import torch

    from leakage.catalog import resolve_model
    from leakage.models import load_clip
    from leakage.paths import PathNotAllowed

    weights = roots["outside"] / "weights.bin"
    torch.save(open_clip.create_model("lab-clip-s").state_dict(), weights)
    folder = roots["model"] / "clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": open_clip.get_model_config("lab-clip-s")}))
    (folder / "open_clip_pytorch_model.bin").symlink_to(weights)  # a model folder whose weights are a link out
    with OpenedFiles.recording() as opened:
        with pytest.raises(PathNotAllowed, match=f"open_clip_pytorch_model.bin {LINK_REFUSED}") as refused:
            load_clip(f"local-dir:{folder}", device="cpu")
        assert str(roots["outside"]) not in str(refused.value)
        with pytest.raises(PathNotAllowed, match="outside the folders this server may read"):
            load_clip("lab-clip-s", str(weights), device="cpu")  # a checkpoint outside the model roots
        with pytest.raises(PathNotAllowed, match="outside the folders"):
            resolve_model("lab-clip-s", "clip", pretrained=str(weights))
    assert opened.under(roots["outside"]) == []
    # hub ids are read from the Hugging Face cache: under the roots only when that cache is
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    for spec, kind in (("hf-hub:org/model", "clip"), ("facebook/vit-mae-base", "mae")):
        with pytest.raises(PathNotAllowed, match="Hugging Face cache"):
            resolve_model(spec, kind)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(roots["model"] / "hf"))
    from leakage.paths import check_allowed

    check_allowed("hf-hub:org/model", "model")  # a cache under the model roots is allowed


def test_the_cli_skips_links_out_and_refuses_an_outside_folder(roots, capsys, tmp_path):
    from leakage.cli import main

    out = tmp_path / "idia.json"
    with OpenedFiles.recording() as opened:
        code = main(["idia", "--model", "lab", "--data", str(roots["people"]), "--names", "8", "--images-per-person", "1",
                     "--draws", "0", "--device", "cpu", "--workers", "0", "--json", str(out), "--no-store", "--quiet"])
        assert code == 0, capsys.readouterr().err
        refused = main(["idia", "--model", "lab", "--data", str(roots["outside"]), "--device", "cpu", "--no-store", "--quiet"])
    assert refused == 2 and "outside the folders this server may read" in capsys.readouterr().err
    result = json.loads(out.read_text())
    assert sorted(row["name"] for row in result["identities"]) == ["Ann Lee", "Bo Chan"]
    assert sum(LINK_REFUSED in problem["reason"] for problem in result["problems"]) == 3
    assert opened.under(roots["outside"]) == []


PLAN = '[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "{data}"\nimages_per_person = 1\nn_candidates = 8\nn_draws = 0\n'


def test_a_plan_skips_links_out_and_refuses_an_outside_folder(roots, tmp_path):
    from leakage.cli import main

    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN.format(data=roots["people"]) + PLAN.format(data=roots["outside"]))
    with OpenedFiles.recording() as opened:
        code = main(["audit", str(plan), "--out", str(tmp_path / "out"), "--quiet"])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert code == 1 and [job["status"] for job in summary["jobs"]] == ["done", "failed"]
    assert "outside the folders this server may read" in summary["jobs"][1]["error"]
    assert opened.under(roots["outside"]) == []


def test_a_ray_worker_reads_only_under_the_roots(roots, tmp_path, monkeypatch):
    """A real local Ray cluster: the server's roots travel with the job to the worker, whose readers
    skip the links out (reported in the result) and refuse the outside folder."""
    pytest.importorskip("ray")
    from leakage.audit.backends import RayBackend
    from leakage.audit.plan import parse_plan
    from leakage.audit.runner import run_plan
    from leakage.results import AttackResult
    from leakage.store import RunStore

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    plan = parse_plan(PLAN.format(data=roots["people"]) + PLAN.format(data=roots["outside"]))
    backend = RayBackend(workers=1, num_cpus=2, device="cpu")
    assert backend.runtime_env()["env_vars"]["LEAKAGE_DATA_ROOTS"] == str(roots["data"])
    summary = run_plan(plan, None, backend)
    jobs = summary["jobs"]
    assert [job["status"] for job in jobs] == ["done", "failed"], [job["error"] for job in jobs]
    assert "outside the folders this server may read" in jobs[1]["error"]
    with RunStore() as store:
        result: AttackResult = store.get(jobs[0]["run_id"])
    assert result.details["audit"]["worker"] != f"local pid {os.getpid()}"  # run by a Ray worker process
    assert sorted(row["name"] for row in result.identities) == ["Ann Lee", "Bo Chan"]
    refusals = [problem for problem in result.problems if LINK_REFUSED in problem["reason"]]
    assert len(refusals) == 3 and all(no_outside_path_in(json.dumps(problem), roots) for problem in refusals)
