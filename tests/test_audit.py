"""Audit plans without Ray: the grid, resume, a bad job among good ones, the data fingerprint, and
the path roots of a shared server (leakage.paths) on the pages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from leakage.audit.plan import PlanError, parse_plan
from leakage.audit.worker import data_fingerprint
from leakage.paths import PathNotAllowed, check_allowed

SMALL_IDIA = 'n_candidates = 100\nn_draws = 0\n'


def test_grid_expands_scalars_but_not_a_sequence_field() -> None:
    plan = parse_plan("""
[defaults]
n_candidates = 100
[[job]]
attack = "idia"
model = ["lab", "lab-control"]
data = "lab"
images_per_person = [2, 3]
seed = [0, 1]
templates = ["a photo of {}", "{}"]
[[job]]
attack = "idia"
model = "lab"
data = "lab"
templates = [["a photo of {}"], ["{}", "an image of {}"]]
[[job]]
attack = "mim"
model = "lab-mae"
data = "lab"
reference = "lab-mae-reference"
num_gpus = 0.25
""")
    grid, templates, mim = plan.jobs[:8], plan.jobs[8:10], plan.jobs[10]
    assert len(plan.jobs) == 11
    assert {(job.model, job.config["images_per_person"], job.config["seed"]) for job in grid} == {
        (model, k, seed) for model in ("lab", "lab-control") for k in (2, 3) for seed in (0, 1)}
    assert all(job.config["templates"] == ["a photo of {}", "{}"] for job in grid)  # one value, not two jobs
    assert all(job.config["n_candidates"] == 100 for job in grid + templates)
    assert [job.config["templates"] for job in templates] == [["a photo of {}"], ["{}", "an image of {}"]]
    assert "n_candidates" not in mim.config  # a default only where the attack has the setting
    assert mim.extra_models == {"reference": "lab-mae-reference"} and mim.num_gpus == 0.25
    assert len({job.key for job in plan.jobs}) == 11
    assert grid[0].name == "idia lab lab images_per_person=2 seed=0"


@pytest.mark.parametrize("text, message", [
    ('[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "lab"\nimages_per_persn = 3', "unknown key images_per_persn"),
    ('[[job]]\nattack = "nope"\nmodel = "lab"\ndata = "lab"', "unknown attack 'nope'"),
    ('[[job]]\nattack = "idia"\nmodel = "lab"', "missing 'data'"),
    ('[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "lab"\ntau = 99', "tau must be"),
    ('[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "lab"\n[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "lab"', "same job twice"),
    ('job = 3', "no [[job]]"),
])
def test_a_bad_plan_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(PlanError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_plan(text)


def test_data_fingerprint_follows_the_files(tmp_path: Path) -> None:
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "1.jpg").write_bytes(b"x")
    first = data_fingerprint(tmp_path)
    assert data_fingerprint(tmp_path) == first
    (tmp_path / "alice" / "2.jpg").write_bytes(b"y")
    second = data_fingerprint(tmp_path)
    assert second != first
    os.utime(tmp_path / "alice" / "2.jpg", ns=(1, 1))
    assert data_fingerprint(tmp_path) != second


def run_local(plan_text: str, out: Path):
    from leakage.audit.backends import LocalBackend
    from leakage.audit.plan import parse_plan
    from leakage.audit.runner import run_plan

    return run_plan(parse_plan(plan_text, source="test.toml"), out, LocalBackend())


def test_a_bad_job_is_reported_the_others_stored_and_a_rerun_runs_nothing(isolated_home: Path, tmp_path: Path) -> None:
    from leakage.store import RunStore

    plan = f"""
[[job]]
attack = "idia"
model = "lab"
data = "lab"
images_per_person = [2, 3]
{SMALL_IDIA}
[[job]]
attack = "idia"
model = "{tmp_path / 'no-such-model.pt'}"
data = "lab"
{SMALL_IDIA}
[[job]]
attack = "idia"
model = "lab"
data = "{tmp_path / 'no-such-folder'}"
{SMALL_IDIA}
"""
    summary = run_local(plan, tmp_path / "out")
    statuses = [job["status"] for job in summary["jobs"]]
    assert statuses == ["done", "done", "failed", "failed"]
    assert "no-such-model.pt" in summary["jobs"][2]["error"]
    assert summary["jobs"][3]["error"].startswith("unreadable data") and "no-such-folder" in summary["jobs"][3]["error"]
    with RunStore() as store:
        assert store.count() == 2  # nothing of the failed jobs reached the store
        stored = {store.get(job["run_id"]).config_hash for job in summary["jobs"][:2]}
    assert stored == {job["config_hash"] for job in summary["jobs"][:2]}
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [job["status"] for job in written["jobs"]] == statuses
    assert written["jobs"][0]["metrics"]["auc"] == summary["jobs"][0]["metrics"]["auc"]
    report = (tmp_path / "out" / "report.html").read_text()
    assert "no-such-model.pt" in report and "runs side by side" in report

    again = run_local(plan, tmp_path / "again")
    assert [job["status"] for job in again["jobs"]] == ["skipped", "skipped", "failed", "failed"]
    assert [job["run_id"] for job in again["jobs"][:2]] == [job["run_id"] for job in summary["jobs"][:2]]
    assert [job["metrics"] for job in again["jobs"][:2]] == [job["metrics"] for job in summary["jobs"][:2]]
    with RunStore() as store:
        assert store.count() == 2


def test_the_cli_runs_a_plan(isolated_home: Path, tmp_path: Path, capsys) -> None:
    from leakage.cli import main

    plan = tmp_path / "plan.toml"
    plan.write_text(f'[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "lab"\nimages_per_person = 2\n{SMALL_IDIA}')
    assert main(["audit", str(plan), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert "done" in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["counts"]["done"] == 1 and summary["jobs"][0]["metrics"]["auc"] > 0.9
    assert main(["audit", str(plan), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["counts"]["skipped"] == 1


# --------------------------------------------------------------------------- path roots


@pytest.fixture
def roots(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    data_root, model_root = tmp_path / "data-root", tmp_path / "model-root"
    (data_root / "people" / "alice").mkdir(parents=True)
    model_root.mkdir()
    (data_root / "escape").symlink_to("/etc")
    monkeypatch.setenv("LEAKAGE_DATA_ROOTS", str(data_root))
    monkeypatch.setenv("LEAKAGE_MODEL_ROOTS", str(model_root))
    return {"data": data_root, "model": model_root}


def test_paths_outside_the_roots_are_refused(roots: dict[str, Path], monkeypatch) -> None:
    check_allowed(str(roots["data"] / "people"), "data")
    check_allowed("lab", "data")
    check_allowed("lab-mae", "data")
    check_allowed("lab-control", "model")
    check_allowed("ViT-B-32", "model")  # an open_clip name, not a path
    for spec, kind in (("/etc", "data"), (str(roots["data"] / "escape"), "data"), (str(roots["data"] / "escape" / "passwd"), "data"),
                       ("/etc", "model"), (f"local-dir:{roots['data']}", "model"), (str(roots["data"] / ".." / "model-root" / ".."), "model")):
        with pytest.raises(PathNotAllowed, match="outside the folders this server may read"):
            check_allowed(spec, kind)
    with pytest.raises(PathNotAllowed) as refused:
        check_allowed(str(roots["data"] / "escape"), "data")
    assert "/etc" not in str(refused.value)  # never where a link leads: no oracle for the server's files
    monkeypatch.delenv("LEAKAGE_DATA_ROOTS")
    check_allowed("/etc", "data")  # unset: today's behaviour for one user


def read_spy(monkeypatch) -> list[str]:
    """Every data folder scanned and every model loaded from here on."""
    import leakage.catalog
    import leakage.data

    touched: list[str] = []
    original_scan, original_load = leakage.data.scan_dataset, leakage.catalog.resolve_model
    monkeypatch.setattr(leakage.data, "scan_dataset", lambda spec, *a, **k: touched.append(str(spec)) or original_scan(spec, *a, **k))
    monkeypatch.setattr(leakage.catalog, "resolve_model", lambda spec, *a, **k: touched.append(str(spec)) or original_load(spec, *a, **k))
    return touched


def test_pages_refuse_paths_outside_the_roots_and_read_nothing(roots: dict[str, Path], isolated_home: Path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    touched = read_spy(monkeypatch)
    escape = roots["data"] / "escape"
    # the generated pages, with their own sidebar (idia) or the standard one (clip-mia): a typed data
    # folder that is a symlink out of the root
    for name, (choice, folder), field in (("idia", ("idia-data-kind", "Dataset folder"), "idia-folder-path"),
                                          ("clip-mia", ("clip-mia-data-choice", "Folder"), "clip-mia-data-path")):
        app = AppTest.from_string(f'from ui.attack_page import render\nrender("{name}")', default_timeout=120)
        app.run()
        app.sidebar.radio(key=choice).set_value(folder).run()
        app.sidebar.text_input(key=field).input(str(escape)).run()
        assert any("outside the folders this server may read" in element.value and "/etc" not in element.value
                   for element in app.error), name
        assert app.button(key=f"{name}-run").disabled
    # any page that starts a run (the MIM, VLM and identity pages go through start_attack)
    app = AppTest.from_string(
        'from leakage.attacks import get_attack\nfrom ui.attack_runs import start_attack\n'
        f'start_attack("job", "mim", "/etc", "lab", get_attack("mim").make_config())\n'
        f'start_attack("job", "mim", "lab-mae", "{escape}", get_attack("mim").make_config())', default_timeout=60)
    app.run()
    refusals = [element.value for element in app.error]
    assert len(refusals) == 2 and all("Nothing was read" in text for text in refusals)
    assert "job" not in app.session_state
    # the Batch audits page
    app = AppTest.from_file(str(Path(__file__).parents[1] / "app_pages" / "audits.py"), default_timeout=60)
    app.run()
    app.text_area(key="plan-text").input('[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "/etc"\n').run()
    assert any("'/etc' is outside" in element.value for element in app.error)
    assert app.button(key="audit-launch").disabled
    assert touched == []


def test_the_batch_audits_page_runs_a_plan_on_this_server(isolated_home: Path, default_lab, tmp_path: Path) -> None:
    import time

    from streamlit.testing.v1 import AppTest

    from audit_fixtures import small_lab_folder

    people = small_lab_folder(str(default_lab.root), tmp_path / "people", people=12, images=3)
    app = AppTest.from_file(str(Path(__file__).parents[1] / "app_pages" / "audits.py"), default_timeout=60)
    app.run()
    plan = (f'[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "{people}"\nimages_per_person = [1, 2]\n{SMALL_IDIA}'
            f'[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "{tmp_path / "missing"}"\n{SMALL_IDIA}')
    app.text_area(key="plan-text").input(plan).run()
    assert "3 jobs" in " ".join(element.value for element in app.caption)
    app.button(key="audit-launch").click().run()
    deadline = time.monotonic() + 300
    while not any("Audit finished" in element.value for element in app.warning) and time.monotonic() < deadline:
        time.sleep(1)
        app.run()
    finished = [element.value for element in app.warning]
    assert any("Audit finished: 2 jobs run, 0 already stored, 1 failed" in text for text in finished), finished
    table = app.dataframe[0].value
    assert list(table["status"]) == ["done", "done", "failed"]
    assert "unreadable data" in table["error"][2]
    links = " ".join(element.value for element in app.markdown)
    assert "Open the 2 runs side by side on the Runs page](runs?run=" in links
