"""Limits, escaping, what reaches the disk, run ownership, a loud run store, Ray only as configured
and the refusal to serve beyond loopback without sign-in (issue 22, SECURITY.md §2, §4-§8)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMALL_IDIA = {"images_per_person": 1, "n_candidates": 8, "n_draws": 0}


# --------------------------------------------------------------------------- §4 limits


def test_config_bounds_are_declared_and_enforced_by_cli_plan_and_every_run(capsys):
    from leakage.attacks import get_attack
    from leakage.attacks.base import RunContext
    from leakage.audit.plan import PlanError, parse_plan
    from leakage.cli import main
    from leakage.idia import IDIAConfig

    code = main(["idia", "--model", "lab", "--data", "lab", "--names", "5000000", "--no-store"])
    assert code == 2 and "n_candidates must be between 2 and 20000, got 5000000" in capsys.readouterr().err
    with pytest.raises(PlanError, match="job 1 \\(mim\\): n_masks must be between 1 and 64, got 1000"):
        parse_plan('[[job]]\nattack = "mim"\nmodel = "lab-mae"\ndata = "lab"\nn_masks = 1000\n')
    with pytest.raises(ValueError, match="templates may hold at most 100 entries"):  # a config made by hand (a page)
        get_attack("idia").execute(None, None, IDIAConfig(templates=tuple(f"{{}} {i}" for i in range(101))), RunContext())


def test_a_million_job_plan_is_refused_from_its_list_lengths_before_any_expansion(monkeypatch):
    import leakage.audit.plan as plan_module

    values = lambda n: ", ".join(str(i) for i in range(1, n + 1))  # noqa: E731
    text = (f'[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "lab"\nimages_per_person = [{values(100)}]\n'
            f'n_draws = [{values(100)}]\nseed = [{values(100)}]\n')
    assert len(text) < 1300  # about 1 KB
    monkeypatch.setattr(plan_module, "expand_job", lambda *a, **k: pytest.fail("expanded before counting"))
    with pytest.raises(plan_module.PlanError, match="more than 1,000 jobs \\(job 1 alone to 1,000,000\\)"):
        plan_module.parse_plan(text)
    monkeypatch.setenv(plan_module.MAX_JOBS_ENV, "10")
    with pytest.raises(plan_module.PlanError, match="more than 10 jobs"):
        plan_module.parse_plan('[[job]]\nattack = "mim"\nmodel = "lab-mae"\ndata = "lab"\nseed = [' + values(11) + "]\n")
    with pytest.raises(plan_module.PlanError, match="at most 1,000,000"):
        plan_module.parse_plan("#" * 1_000_001)


def test_the_run_queue_caps_concurrent_runs_and_tells_each_its_place():
    from leakage.results import RunCancelled
    from ui.run_queue import RunQueue

    queue = RunQueue(1)
    first_in, release = threading.Event(), threading.Event()
    positions: dict[str, list[int]] = {"second": [], "third": []}

    def hold() -> None:
        with queue.slot("first", threading.Event()):
            first_in.set()
            release.wait(10)

    def wait(name: str, cancel: threading.Event) -> None:
        try:
            with queue.slot(name, cancel, positions[name].append):
                pass
        except RunCancelled:
            positions[name].append(-1)

    holder = threading.Thread(target=hold)
    holder.start()
    first_in.wait(5)
    cancel_third = threading.Event()
    second = threading.Thread(target=wait, args=("second", threading.Event()))
    second.start()
    time.sleep(0.3)
    third = threading.Thread(target=wait, args=("third", cancel_third))
    third.start()
    time.sleep(0.5)
    assert queue.position("second") == 1 and queue.position("third") == 2 and queue.running == 1
    cancel_third.set()
    third.join(5)
    assert positions["third"][-1] == -1 and queue.position("third") is None  # a cancelled run leaves the queue
    release.set()
    holder.join(5)
    second.join(5)
    assert positions["second"][0] == 1 and queue.running == 0 and queue.waiting == []


def test_uploads_are_capped_in_count_and_pixels_and_decoded_once():
    from streamlit.testing.v1 import AppTest

    def page() -> None:
        import io

        import streamlit as st
        from PIL import Image

        import leakage.data
        import ui.uploads

        class Upload:
            def __init__(self, name: str, size: tuple[int, int]) -> None:
                buffer = io.BytesIO()
                Image.new("RGB", size).save(buffer, format="PNG")
                self.name, self.file_id, self.data = name, name, buffer.getvalue()
                self.size = len(self.data)

            def getvalue(self) -> bytes:
                return self.data

        calls = st.session_state.setdefault("decodes", [])
        original = leakage.data.load_image
        ui.uploads.load_image = lambda data, **kwargs: calls.append(1) or original(data, **kwargs)
        files = [Upload("huge.png", (6000, 5000))] + [Upload(f"{index}.png", (8, 8)) for index in range(ui.uploads.MAX_FILES + 1)]
        images, problems = ui.uploads.decoded_uploads(files, "test")
        st.session_state["outcome"] = (len(images), [(problem.path, problem.reason) for problem in problems])

    app = AppTest.from_function(page).run()
    app.run()  # a rerun decodes nothing again
    count, problems = app.session_state["outcome"]
    assert count == 29 and len(app.session_state["decodes"]) == 30
    assert [path for path, _ in problems] == ["huge.png", "29.png", "30.png"]
    assert "exceeds limit of 24,000,000" in problems[0][1] and "more than 30 photos" in problems[1][1]


# --------------------------------------------------------------------------- §5 escaping and CSV


def test_user_strings_are_escaped_for_markdown_and_csv_cells_cannot_be_formulas():
    from leakage.exports import identity_csv
    from ui.text import md

    assert md("[x](http://evil)") == "\\[x\\](http\\://evil)"
    assert md("<img src=x>") == "\\<img src=x\\>"
    assert md("![p](http://h/p.png) :red[x] $x$ # h") == "!\\[p\\](http\\://h/p.png) \\:red\\[x\\] \\$x\\$ # h"
    assert md("# heading\n- item") == "\\# heading - item"  # one line: only its start can open a block
    rows = [{"name": "=HYPERLINK(\"http://evil\",\"x\")", "caption": "+1", "note": "-2+3", "who": "@SUM(A1)", "score": -0.5},
            {"name": "Ann Lee", "caption": "a photo", "note": "", "who": "", "score": 0.25}]
    lines = identity_csv(rows).splitlines()
    assert lines[1] == "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",'+1,'-2+3,'@SUM(A1),-0.5"
    assert lines[2] == "Ann Lee,a photo,,,0.25"


# --------------------------------------------------------------------------- §6 nothing of an unkept check on disk


def test_a_check_from_memory_leaves_no_trace_of_the_name_on_disk(isolated_home, default_lab):
    from leakage.attacks import get_attack
    from leakage.attacks.base import RunContext
    from leakage.catalog import resolve_model
    from leakage.data import load_image
    from leakage.idia import PersonUpload

    name = "Zyxwvut Qponmlk"  # checked from memory, not kept
    person = sorted(default_lab.members)[0]
    photos = [("upload.png", load_image(path)) for path in sorted((default_lab.attack_dir / person).glob("*.png"))[:2]]
    attack = get_attack("idia")
    result = attack.execute(resolve_model("lab", "clip"), [PersonUpload(name, photos)], attack.make_config(SMALL_IDIA), RunContext())
    assert result.identities[0]["name"] == name
    files = [path for path in isolated_home.rglob("*") if path.is_file()]
    assert any("text_cache" in str(path) for path in files)  # the other candidates' prompts were cached: the grep means something
    for path in files:
        content = path.read_bytes()
        assert name.encode() not in content and name.encode("utf-16-le") not in content, path
        assert name not in str(path)


# --------------------------------------------------------------------------- §7 owners in the store


def test_each_run_has_an_owner_who_alone_sees_changes_and_deletes_it(tmp_path):
    from leakage.store import ANYONE, RunStore
    from test_store import synthetic_result

    with RunStore(f"sqlite:///{tmp_path / 'runs.sqlite'}") as store:
        alice = store.save(synthetic_result(seed=1), label="alice's", owner="alice@example.org")
        bob = store.save(synthetic_result(seed=2), label="bob's", owner="bob@example.org")
        cli = store.save(synthetic_result(seed=3))  # from the command line: no owner
        assert [row.id for row in store.list(owner="alice@example.org")] == [alice]
        assert [row.id for row in store.list(owner=ANYONE)] == [cli, bob, alice]  # an admin
        assert store.count(owner="bob@example.org") == 1
        with pytest.raises(KeyError):
            store.get(bob, owner="alice@example.org")
        with pytest.raises(KeyError):
            store.update_label(bob, label="mine now", owner="alice@example.org")
        assert not store.delete(bob, owner="alice@example.org") and store.summary(bob).label == "bob's"
        assert store.delete(alice, owner="alice@example.org")
        assert store.summary(cli).owner is None


# --------------------------------------------------------------------------- §8 a run store that fails loudly


def corrupt(path: Path) -> None:
    path.write_bytes(b"this is not an SQLite database, it was damaged" * 100)


def test_a_corrupt_or_full_store_fails_loudly_on_the_cli_and_keeps_the_result(tmp_path, monkeypatch, capsys, default_lab):
    from audit_fixtures import small_lab_folder
    from leakage.cli import main
    from leakage.store import RunStore, RunStoreError
    from test_store import synthetic_result

    people = small_lab_folder(str(default_lab.root), tmp_path / "people", people=4, images=1)
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEAKAGE_LAB_DIR", str(default_lab.root))
    database = tmp_path / "runs.sqlite"
    corrupt(database)
    monkeypatch.setenv("LEAKAGE_DB_URL", f"sqlite:///{database}")
    monkeypatch.chdir(tmp_path)
    code = main(["idia", "--model", "lab", "--data", str(people), "--names", "8", "--images-per-person", "1", "--draws", "0",
                 "--device", "cpu", "--quiet"])
    error = capsys.readouterr().err
    assert code == 3 and "computed but not stored" in error and "damaged" in error and "Traceback" not in error
    (kept,) = tmp_path.glob("leakage-unsaved-idia-*.json")
    assert json.loads(kept.read_text())["metrics"]["n_identities"] == 4
    assert main(["runs", "list"]) == 3 and "could not be opened" in capsys.readouterr().err

    full = RunStore(f"sqlite:///{tmp_path / 'full.sqlite'}")
    import sqlalchemy as sa

    full.engine.dispose()

    @sa.event.listens_for(full.engine, "connect")
    def no_more_pages(connection, _record) -> None:  # real SQLite refusing to grow the file: SQLITE_FULL
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(RunStoreError, match="could not save the run: database or disk is full.*free some space"):
        full.save(synthetic_result(seed=5))


def test_a_corrupt_store_fails_loudly_on_the_page_and_the_result_stays_downloadable(tmp_path, monkeypatch, isolated_home, default_lab):
    from streamlit.testing.v1 import AppTest

    from audit_fixtures import small_lab_folder

    people = small_lab_folder(str(default_lab.root), tmp_path / "people", people=4, images=1)
    database = tmp_path / "runs.sqlite"
    corrupt(database)
    monkeypatch.setenv("LEAKAGE_DB_URL", f"sqlite:///{database}")
    script = ("from leakage.attacks import get_attack\nfrom ui.attack_runs import finished_result, start_attack\n"
              "from ui.page_parts import show_sections\nimport streamlit as st\n"
              "if st.button('Run', key='run'):\n"
              f"    start_attack('job', 'idia', 'lab', {str(people)!r}, get_attack('idia').make_config({SMALL_IDIA!r}))\n"
              "result = finished_result('job')\nif result is not None:\n    show_sections(result, 'r')\n")
    app = AppTest.from_string(script, default_timeout=120).run()
    app.button(key="run").click().run()
    deadline = time.monotonic() + 300
    while not app.get("download_button"):
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.5)
        app.run()
    assert any("finished but was not stored" in error.value and "damaged" in error.value for error in app.error)
    labels = [button.label for button in app.get("download_button")]
    assert "Download result (JSON)" in labels and any("CSV" in label for label in labels)
    app = AppTest.from_file(str(ROOT / "app_pages" / "runs.py"), default_timeout=60).run()
    assert any("could not be opened" in error.value for error in app.error)


# --------------------------------------------------------------------------- §2 Ray only as configured


def test_no_page_takes_a_ray_address_and_pages_show_the_configured_cluster_by_name(monkeypatch, isolated_home):
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    app = AppTest.from_string('from ui.run_backend import backend_picker\nbackend_picker()\nfrom ui.attack_page import render\n'
                              'render("mim")', default_timeout=60).run()
    assert all(radio.key != "run-backend-choice" for radio in app.sidebar.radio)  # nothing configured: no Ray choice
    assert all("Ray" not in text_input.label for text_input in app.sidebar.text_input)
    app = AppTest.from_file(str(ROOT / "app_pages" / "audits.py"), default_timeout=60).run()
    assert all("Ray" not in text_input.label for text_input in app.text_input)
    assert all(radio.key != "audit-backend" for radio in app.radio)  # nothing configured: no Ray at all

    monkeypatch.setenv("RAY_ADDRESS", "ray://head.internal:10001")
    monkeypatch.setenv("LEAKAGE_RAY_NAME", "the lab's GPU cluster")
    app = AppTest.from_string('from ui.run_backend import backend_picker, ray_address\nimport streamlit as st\n'
                              'backend_picker()\nst.session_state["address"] = ray_address()', default_timeout=60).run()
    choice = app.sidebar.radio(key="run-backend-choice")
    assert choice.options == ["This server", "the lab's GPU cluster"]
    assert "head.internal" not in " ".join(str(element.value) for element in app.sidebar.radio)
    choice.set_value("the lab's GPU cluster").run()
    assert app.session_state["address"] == "ray://head.internal:10001"
    app = AppTest.from_file(str(ROOT / "app_pages" / "audits.py"), default_timeout=60).run()
    assert app.radio(key="audit-backend").options == ["This server", "the lab's GPU cluster"]
    assert all("Ray address" not in text_input.label for text_input in app.text_input)


def test_one_ray_connection_per_process_is_shared_and_closed_by_its_last_user(monkeypatch):
    from leakage.audit import backends

    state = {"initialized": False, "inits": 0, "shutdowns": 0}

    class FakeRay:  # the connection bookkeeping only; the real cluster is in test_security_roots and test_audit_ray
        @staticmethod
        def is_initialized():
            return state["initialized"]

        @staticmethod
        def init(**kwargs):
            state.update(initialized=True, inits=state["inits"] + 1)

        @staticmethod
        def shutdown():
            state.update(initialized=False, shutdowns=state["shutdowns"] + 1)

    import sys

    monkeypatch.setitem(sys.modules, "ray", FakeRay)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    first, second = backends.RayBackend(), backends.RayBackend()
    first.connect()
    second.connect()
    with pytest.raises(RuntimeError, match="one Ray connection per process"):
        backends.RayBackend(address="ray://elsewhere:10001").connect()
    first.shutdown()
    assert state == {"initialized": True, "inits": 1, "shutdowns": 0}  # the other backend still uses it
    second.shutdown()
    assert state["shutdowns"] == 1 and backends._CONNECTION.users == 0


# --------------------------------------------------------------------------- §7 no open server beyond loopback


def test_without_sign_in_the_app_serves_nothing_beyond_loopback(monkeypatch, isolated_home):
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    from ui.auth import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("") and not is_loopback("192.168.1.4")
    monkeypatch.delenv("LEAKAGE_ALLOW_UNAUTHENTICATED", raising=False)
    original = config.get_option("server.address")
    try:
        config.set_option("server.address", "0.0.0.0")
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        assert any("no sign-in configured" in error.value for error in app.error) and not app.title
        monkeypatch.setenv("LEAKAGE_ALLOW_UNAUTHENTICATED", "1")  # the operator said so explicitly
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        assert not app.error and "How much do models leak about people?" in app.title[0].value
    finally:
        config.set_option("server.address", original)
