"""Loading a model never runs code from it (issue 22, SECURITY.md §1): the open_clip folder of the
security review and a transformers folder with `auto_map` and custom code are refused with a clear
error on the CLI, on a page and in an audit plan, and the file they would run never runs (a marker
file it would write stays absent). A control proves the folders are live: loaded the unsafe way
(trust_remote_code=True, in a separate process) they do write the marker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from security_fixtures import evil_open_clip_folder, evil_transformers_folder

ROOT = Path(__file__).resolve().parent.parent
REFUSED = "never runs a model's own code"


@pytest.fixture(scope="module")
def people(tmp_path_factory):

    from leakage.lab.portraits import render
    from leakage.lab.world import make_world
    from test_vlm import write_people

    world = make_world(seed=0, n_identities=4)
    pictures = {person.name: [render(person, index, world_seed=0, size=48)[0] for index in range(2)] for person in world.identities}
    return write_people(tmp_path_factory.mktemp("people"), pictures, {name: True for name in pictures}), sorted(pictures)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "MARKER-model-code-ran"


@pytest.fixture
def open_clip_folder(tmp_path: Path, marker: Path) -> Path:
    return evil_open_clip_folder(tmp_path / "evil-open-clip", marker)


@pytest.fixture
def transformers_folder(tmp_path: Path, marker: Path, people) -> Path:
    return evil_transformers_folder(tmp_path / "evil-clip", marker, people[1])


def test_the_hostile_folders_do_run_code_when_loaded_the_unsafe_way(open_clip_folder, transformers_folder, marker):
    """The control: without the dashboard's guard, transformers imports each folder's file."""
    for loader, folder in (("AutoTokenizer", open_clip_folder), ("AutoModel", transformers_folder)):
        marker.unlink(missing_ok=True)
        code = (f"from transformers import {loader}\n"
                f"try:\n    {loader}.from_pretrained({str(folder)!r}, trust_remote_code=True, local_files_only=True)\n"
                "except Exception:\n    pass\n")
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=300, check=True, capture_output=True)
        assert marker.exists(), f"{folder.name} is not a live test: its code did not run even when trusted"
    marker.unlink()


def test_loaders_refuse_model_code_and_run_none(open_clip_folder, transformers_folder, marker, tmp_path):
    from leakage.mim import load_mae
    from leakage.models import load_clip
    from leakage.safe_load import ModelCodeRefused
    from leakage.vlm import load_vlm

    with pytest.raises(ModelCodeRefused, match=f"trust_remote_code.*{REFUSED}"):
        load_clip(f"local-dir:{open_clip_folder}", device="cpu")
    with pytest.raises(ModelCodeRefused, match=f"config.json: auto_map.*{REFUSED}"):
        load_clip(str(transformers_folder), device="cpu")
    # the tokenizer's auto_map alone (no trust flag in the open_clip config) is refused too
    config = json.loads((open_clip_folder / "open_clip_config.json").read_text())
    del config["model_cfg"]["text_cfg"]["tokenizer_kwargs"]
    (open_clip_folder / "open_clip_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelCodeRefused, match="tokenizer_config.json: auto_map"):
        load_clip(f"local-dir:{open_clip_folder}", device="cpu")
    # the MAE and VLM loaders take the same guard (a folder with every file they need, and an auto_map)
    for load, model_type in ((load_mae, "vit_mae"), (load_vlm, "llava")):
        folder = tmp_path / model_type
        folder.mkdir()
        for name in ("model.safetensors", "preprocessor_config.json", "tokenizer.json"):
            (folder / name).write_text("{}")
        (folder / "config.json").write_text(json.dumps({"model_type": model_type, "auto_map": {"AutoModel": "x.Y"}}))
        with pytest.raises(ModelCodeRefused, match="auto_map"):
            load(folder, device="cpu")
    assert not marker.exists()


def test_a_tokenizer_named_outside_the_model_folder_is_refused(tmp_path):
    import open_clip

    from leakage.models import load_clip
    from leakage.safe_load import ModelCodeRefused

    folder = tmp_path / "clip"
    folder.mkdir()
    config = open_clip.get_model_config("lab-clip-s")
    config["text_cfg"] = {**config["text_cfg"], "hf_tokenizer_name": str(tmp_path / "elsewhere")}
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": config}))
    with pytest.raises(ModelCodeRefused, match="path outside the model folder"):
        load_clip(f"local-dir:{folder}", device="cpu")


def test_transformers_code_loader_is_disabled_in_this_process(transformers_folder, marker):
    """The last line: even a caller that passes trust_remote_code=True gets no model code here once
    the dashboard has loaded a transformers model."""
    from transformers import AutoModel

    from leakage.safe_load import ModelCodeRefused, forbid_dynamic_modules

    forbid_dynamic_modules()
    with pytest.raises(ModelCodeRefused):
        AutoModel.from_pretrained(transformers_folder, trust_remote_code=True, local_files_only=True)
    assert not marker.exists()


def test_the_cli_refuses_both_folders_with_a_clear_error(open_clip_folder, transformers_folder, marker, people, capsys, tmp_path, monkeypatch):
    from leakage.cli import main

    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    for model in (f"local-dir:{open_clip_folder}", str(transformers_folder)):
        started = time.perf_counter()
        code = main(["idia", "--model", model, "--data", str(people[0]), "--names", "8", "--images-per-person", "1",
                     "--draws", "0", "--device", "cpu", "--no-store", "--quiet"])
        error = capsys.readouterr().err
        assert code == 2 and error.startswith("error: ") and REFUSED in error and "Traceback" not in error
        assert time.perf_counter() - started < 30
    assert not marker.exists()


def test_a_plan_refuses_both_folders_and_runs_the_other_jobs(open_clip_folder, transformers_folder, marker, people, isolated_home):
    from leakage.audit.backends import LocalBackend
    from leakage.audit.plan import parse_plan
    from leakage.audit.runner import run_plan

    plan = parse_plan("".join(
        f'[[job]]\nattack = "idia"\nmodel = "{model}"\ndata = "{people[0]}"\nimages_per_person = 1\nn_candidates = 8\nn_draws = 0\n'
        for model in (f"local-dir:{open_clip_folder}", transformers_folder, "lab")))
    summary = run_plan(plan, None, LocalBackend(device="cpu"))
    statuses = [(job["status"], job["error"] or "") for job in summary["jobs"]]
    assert [status for status, _ in statuses] == ["failed", "failed", "done"], statuses
    assert all(REFUSED in error for _, error in statuses[:2])
    assert not marker.exists()


def test_the_page_refuses_the_folder_and_runs_nothing(open_clip_folder, transformers_folder, marker, isolated_home, monkeypatch):
    """The identity page loads no model before the run; the run refuses the folder and says why."""
    from streamlit.testing.v1 import AppTest

    loads = []
    import leakage.models

    original = leakage.models.load_clip
    monkeypatch.setattr(leakage.models, "load_clip", lambda *a, **k: loads.append(a) or original(*a, **k))
    for model in (f"local-dir:{open_clip_folder}", str(transformers_folder)):
        loads.clear()
        app = AppTest.from_string('from ui.attack_page import render\nrender("idia")', default_timeout=120)
        app.run()
        app.sidebar.radio(key="idia-model-kind").set_value("Local folder (local-dir:) or hf-hub: id").run()
        app.sidebar.text_input(key="idia-folder").input(model).run()
        assert loads == [] and not app.error  # typed, not loaded: nothing is read before the run
        app.button(key="idia-run").click().run()
        deadline = time.monotonic() + 120
        while not app.error:
            assert time.monotonic() < deadline, "the run did not report"
            time.sleep(0.3)
            app.run()
        assert any("The run failed" in error.value and "never runs a model" in error.value for error in app.error)
    assert not marker.exists()
