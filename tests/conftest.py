"""Shared fixtures. The first lines run before any test imports torch."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see leakage/__init__.py: idle threads sleep on a shared CPU
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on this 2-core machine: one torch thread each (and in the servers and CLIs
    # they start), so two trainings share the cores instead of four threads taking turns on two
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest


@pytest.fixture(scope="session")
def default_lab():
    """The default lab, built once (minutes on a fresh machine), then reused from the data home."""
    from leakage.lab.build import ensure_lab

    return ensure_lab()


@pytest.fixture
def isolated_home(tmp_path, monkeypatch, default_lab):
    """A fresh data home (run store, caches) that still uses the already-built default lab."""
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEAKAGE_LAB_DIR", str(default_lab.root))
    monkeypatch.delenv("LEAKAGE_DB_URL", raising=False)
    return tmp_path / "home"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can add diagnostics to a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def fail_on_streamlit_exceptions(monkeypatch, request):
    """Every AppTest of a page fails when the page shows a Streamlit exception, checked after the
    test's last run (not only after the first): a crash below the first chart must not pass."""
    from streamlit.testing.v1 import AppTest

    apps: list[AppTest] = []
    original_run = AppTest.run

    def run_and_remember(self, *args, **kwargs):
        if self not in apps:
            apps.append(self)
        return original_run(self, *args, **kwargs)

    monkeypatch.setattr(AppTest, "run", run_and_remember)
    yield
    if request.node.get_closest_marker("expects_streamlit_exception"):
        return
    for app in apps:
        boxes = [element.value for element in app.exception]
        assert not boxes, f"the page showed a Streamlit exception: {boxes}"


# The longest files first (measured with `pytest --durations`): `make test` hands whole files to its workers in
# collection order (--dist loadfile), and a long file handed out last keeps one worker busy while the other idles.
LONGEST_FIRST = ("test_audit_ray.py", "test_idia_lab.py", "test_lessons_e2e.py", "test_e2e.py", "test_mim_e2e.py",
                 "test_e2e_signin.py", "test_clip_mia.py", "test_audit_e2e.py", "test_backdoor_e2e.py", "test_vlm_e2e.py")


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: within a file, and for the rest
