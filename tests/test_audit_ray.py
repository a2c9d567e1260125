"""The Ray backend on a local Ray cluster with this machine's 2 CPUs: the same plan gives the same
runs as the local backend, and a worker killed mid-job is restarted and its job sent again."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from audit_fixtures import small_lab_folder
from test_mim import tiny_lab  # noqa: F401  # a tiny lab MAE, really pre-trained (seconds)

ray = pytest.importorskip("ray")

PLAN = """
[[job]]
attack = "idia"
model = ["lab", "lab-control"]
data = "{people}"
images_per_person = [2, 3]
n_candidates = 100
n_draws = 0

[[job]]
attack = "mim"
model = "{mae}"
data = "{mae_data}"
n_masks = [1, 2]
"""


@pytest.fixture(scope="module")
def lab_dirs():
    """The lab and the control CLIP, built once in the shared data home (the MIM jobs use a tiny
    really pre-trained MAE of test_mim.py instead of the lab MAE, minutes to build on 2 cores)."""
    from leakage.lab.build import ensure_control, ensure_lab

    lab = ensure_lab()
    ensure_control(lab)
    return {"LEAKAGE_LAB_DIR": str(lab.root)}


@pytest.fixture(scope="module")
def people(lab_dirs, tmp_path_factory) -> Path:
    """24 people of the lab's attack set, 4 images each: the IDIA encodes every image of a data set,
    and the whole lab (4,000 images) per model and backend would cost minutes on 2 cores."""
    return small_lab_folder(lab_dirs["LEAKAGE_LAB_DIR"], tmp_path_factory.mktemp("people") / "people")


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster for the module (starting one costs seconds of this machine's 2 cores)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def home(tmp_path: Path, monkeypatch, lab_dirs):
    """A fresh data home (store and caches) per run, the labs shared; Ray workers get the same."""
    def fresh(name: str) -> Path:
        path = tmp_path / name
        monkeypatch.setenv("LEAKAGE_HOME", str(path))
        for key, value in lab_dirs.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("LEAKAGE_DB_URL", raising=False)
        return path

    return fresh


def comparable(summary: dict) -> list[tuple]:
    return [(job["name"], job["status"], job["config_hash"], job["job_key"], job["data_fingerprint"], job["metrics"])
            for job in summary["jobs"]]


def test_local_and_ray_give_the_same_runs(cluster, home, people, tiny_lab, tmp_path: Path) -> None:
    from leakage.audit.backends import LocalBackend, RayBackend
    from leakage.audit.plan import parse_plan
    from leakage.audit.runner import run_plan
    from leakage.store import RunStore

    plan = parse_plan(PLAN.format(people=people, mae=tiny_lab["lab"].model_dir, mae_data=tiny_lab["lab"].attack_dir), source="same.toml")
    assert len(plan.jobs) == 6
    home("local")  # separate caches: the Ray workers compute every embedding again
    local = run_plan(plan, tmp_path / "local-out", LocalBackend())
    home("ray")
    backend = RayBackend(workers=2)
    remote = run_plan(plan, tmp_path / "ray-out", backend)
    assert local["counts"]["done"] == 6, [(job["name"], job["status"], job["error"]) for job in local["jobs"]]
    assert remote["counts"]["done"] == 6, [(job["name"], job["status"], job["error"]) for job in remote["jobs"]]
    assert comparable(remote) == comparable(local)
    assert backend.workers_started == 2
    with RunStore() as store:  # the driver stored every run of the Ray backend
        assert store.count() == 6
        assert {store.get(job["run_id"]).details["audit"]["worker"].split(" pid ")[1] for job in remote["jobs"]} != {str(os.getpid())}


def test_a_worker_killed_mid_job_is_restarted_and_the_plan_completes(cluster, home, people, tiny_lab, tmp_path: Path) -> None:
    from leakage.audit.backends import LocalBackend, RayBackend
    from leakage.audit.plan import parse_plan
    from leakage.audit.runner import run_plan

    home("killed")
    plan = parse_plan(PLAN.format(people=people, mae=tiny_lab["lab"].model_dir, mae_data=tiny_lab["lab"].attack_dir).split("[[job]]\nattack = \"mim\"")[0].replace('["lab", "lab-control"]', '"lab"'),
                      source="kill.toml")
    killed: list[int] = []

    def kill_first_running_worker(state) -> None:
        job = state.jobs[0]
        # as soon as the job is on a known worker: waiting for a later stage raced a job that finished in a second
        if not killed and job.status == "running" and " pid " in job.worker:
            pid = int(job.worker.rsplit(" pid ", 1)[1])
            assert pid != os.getpid()
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    summary = run_plan(plan, tmp_path / "out", RayBackend(workers=1, max_retries=2), on_update=kill_first_running_worker)
    assert killed, "the worker was never seen running a job"
    first, second = summary["jobs"]
    assert [first["status"], second["status"]] == ["done", "done"]
    assert first["attempts"] == 2 and len(first["retries"]) == 1
    assert str(killed[0]) not in first["worker"]  # finished by the restarted worker
    home("killed-local")
    local = run_plan(plan, None, LocalBackend())
    assert comparable(summary) == comparable(local)  # the retried job's result is the one it would have had


def test_a_sharded_idia_job_gives_the_local_result(cluster, home, people, tmp_path: Path) -> None:
    from leakage.audit.backends import LocalBackend, RayBackend
    from leakage.audit.plan import parse_plan
    from leakage.audit.runner import run_plan
    from leakage.store import RunStore

    plan = parse_plan(f'[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "{people}"\nimages_per_person = 3\n'
                      f'n_candidates = 100\nn_draws = 0\nshards = 2\n', source="shard.toml")
    home("local")
    local = run_plan(plan, None, LocalBackend())
    home("ray")
    remote = run_plan(plan, None, RayBackend())
    assert remote["jobs"][0]["status"] == "done", remote["jobs"][0]["error"]
    assert comparable(remote) == comparable(local)
    assert remote["jobs"][0]["worker"] == "2 Ray Data workers"
    with RunStore() as store:
        details = store.get(remote["jobs"][0]["run_id"]).details
    # every image was encoded on the workers; the run took the k per person it needs from them
    assert details["image_cache"] == {"images": 72, "from_cache": 0, "encoded": 0, "listed": 96, "precomputed": 96}
    assert details["shards"] == {"workers": 2, "images": 96}  # both workers of the pool encoded images


def test_a_sharded_vlm_probe_gives_the_unsharded_result(cluster, home, tmp_path: Path) -> None:
    """Sharding is a hook any attack can implement (`Attack.shard`): the VLM probe's photos are asked
    about on two Ray Data workers, and the run is the one a single worker computes, to the last
    digit. (Both run on Ray workers: a worker runs torch on one thread, this process on two, and
    float32 sums taken in another order differ in the 7th digit, sharded or not.)"""
    import csv

    from vlm_family_models import tiny_llava

    from leakage.audit.backends import RayBackend
    from leakage.audit.plan import parse_plan
    from leakage.audit.runner import run_plan
    from leakage.lab.portraits import render
    from leakage.lab.world import make_world
    from leakage.store import RunStore

    model = tiny_llava(tmp_path / "vlm", seed=3)
    people = tmp_path / "people"  # names the tiny tokenizer knows, on lab portraits with their face boxes
    names = ["Irina Williams", "Alexander Reed", "Camila Wagner", "Colton O'Brien"]
    with open(tmp_path / "faces.csv", "w", newline="") as faces:
        writer = csv.writer(faces)
        writer.writerow(["path", "x0", "y0", "x1", "y1"])
        for name, person in zip(names, make_world(0, 4).identities):
            (people / name).mkdir(parents=True)
            for index in range(3):
                image, box = render(person, index, world_seed=0, size=48)
                image.save(people / name / f"{index}.png")
                writer.writerow([f"{name}/{index}.png", *box])
    (tmp_path / "faces.csv").rename(people / "faces.csv")
    (people / "members.csv").write_text("name,member\n" + "".join(f"{name},{int(rank < 2)}\n" for rank, name in enumerate(names)))
    job = (f'[[job]]\nattack = "vlm"\nmodel = "{model}"\ndata = "{people}"\n'
           'questions = ["Who is this person?", "Tell me the name of this person."]\nanonymizations = ["blur:4"]\n'
           'images_per_person = 2\nn_candidates = 4\nmax_new_tokens = 3\ncontrols = true\n')  # the controls' photos are sharded too
    home("whole")
    whole = run_plan(parse_plan(job, source="vlm.toml"), None, RayBackend(workers=1))
    assert whole["jobs"][0]["status"] == "done", whole["jobs"][0]["error"]
    with RunStore() as store:
        here = store.get(whole["jobs"][0]["run_id"])
    home("shards")
    remote = run_plan(parse_plan(job + "shards = 2\n", source="vlm.toml"), None, RayBackend())
    assert remote["jobs"][0]["status"] == "done", remote["jobs"][0]["error"]
    assert remote["jobs"][0]["worker"] == "2 Ray Data workers"
    with RunStore() as store:
        there = store.get(remote["jobs"][0]["run_id"])
    assert there.details["shards"] == {"workers": 2, "photos": 8}  # 4 people, 2 photos each, on both workers
    assert comparable(remote) == comparable(whole)  # same key, config hash, data and metrics
    assert there.identities == here.identities and there.images == here.images  # every answer and closed-set score
    assert {"masked", "mismatched"} <= set(there.metrics["controls"]) and there.metrics["controls"] == here.metrics["controls"]
    assert "shards" not in here.details


def test_on_ray_a_bad_job_is_reported_the_rest_stored_and_a_rerun_starts_no_worker(cluster, home, people, tmp_path: Path) -> None:
    from leakage.audit.backends import RayBackend
    from leakage.audit.plan import parse_plan
    from leakage.audit.runner import run_plan
    from leakage.store import RunStore

    home("bad")
    missing = tmp_path / "no-such-model.pt"
    plan = parse_plan(f'[[job]]\nattack = "idia"\nmodel = ["lab", "{missing}"]\ndata = "{people}"\nimages_per_person = 2\n'
                      'n_candidates = 100\nn_draws = 0\n', source="bad.toml")
    summary = run_plan(plan, tmp_path / "out", RayBackend(workers=1))
    good, bad = summary["jobs"]
    assert (good["status"], bad["status"]) == ("done", "failed")
    assert str(missing) in bad["error"] and bad["attempts"] == 1  # an error of the attack is final: no retry
    with RunStore() as store:
        assert store.count() == 1
    rerun = run_plan(plan, tmp_path / "again", RayBackend(workers=1))
    assert [job["status"] for job in rerun["jobs"]] == ["skipped", "failed"]  # only the failed job is tried again
    finished = RayBackend(workers=1)
    rerun = run_plan(parse_plan(plan_text_of(plan.jobs[:1])), tmp_path / "finished", finished)
    assert [job["status"] for job in rerun["jobs"]] == ["skipped"] and finished.workers_started == 0
    with RunStore() as store:
        assert store.count() == 1


def plan_text_of(jobs) -> str:
    """A plan file that gives these jobs again (TOML has no null: an unset setting is left out, as a person would)."""
    import json

    return "".join(f'[[job]]\nattack = "{job.attack}"\nmodel = "{job.model}"\ndata = "{job.data}"\n'
                   + "".join(f"{key} = {json.dumps(value)}\n" for key, value in job.config.items() if value is not None)
                   for job in jobs)


def test_an_attack_page_runs_its_attack_on_the_ray_cluster_with_the_local_result(cluster, home, lab_dirs, monkeypatch) -> None:
    """The attack pages' "Run attacks on: a Ray cluster": the page's run goes to the cluster as a one-job
    plan and comes back into this server's run store, with the numbers of a run here."""
    import time

    from streamlit.testing.v1 import AppTest

    from leakage.attacks import get_attack
    from leakage.attacks.clip_mia import CLIPMIAConfig, build_lab_pairs, read_pairs
    from leakage.catalog import resolve_model
    from leakage.store import RunStore

    home("page")
    monkeypatch.setenv("RAY_ADDRESS", "local")  # the operator's configuration: pages offer only this cluster

    def not_here(*args, **kwargs):
        raise AssertionError("the page loaded the model on this server")

    monkeypatch.setattr("ui.attack_runs.shared_model", not_here)  # a run here would fail the page

    def attack_page() -> None:
        import streamlit as st

        from ui.attack_page import render

        st.session_state["run-backend"] = ""  # the configured cluster ("local": the one this process has joined)
        render("clip-mia")

    app = AppTest.from_function(attack_page, default_timeout=120).run()
    app.button(key="clip-mia-run").click().run()
    deadline = time.monotonic() + 300
    while not any(button.label == "Download result (JSON)" for button in app.get("download_button")):
        assert time.monotonic() < deadline, "the run did not come back"
        assert not app.exception and not app.error, [element.value for element in app.error]
        time.sleep(0.5)
        app.run()
    with RunStore() as store:
        (run,) = store.list()
        from_ray = store.get(run.id)
    here = get_attack("clip-mia").execute(resolve_model("lab", "clip"), read_pairs(build_lab_pairs()), CLIPMIAConfig())
    assert from_ray.attack == "clip-mia" and from_ray.config_hash == here.config_hash
    assert from_ray.metrics["auc"] == pytest.approx(here.metrics["auc"], abs=1e-6)
    from ui.attack_runs import cached_result

    assert cached_result(app.session_state["clip-mia-job-result"]).details["backend"] == "ray"
