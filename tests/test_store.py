"""The run store on a real SQLite file: round trips, listing, deletion, migrations, concurrent writers."""

from __future__ import annotations

import json
import logging
import multiprocessing
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from leakage.results import AttackResult
from leakage.store import (
    SCHEMA_VERSION,
    RunStore,
    SchemaTooNewError,
    _make_engine,
    metadata,
    storable,
    upgrade,
)
from runs_fixtures import synthetic_result, write_runs


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite file under tmp_path; the user's data directory is never touched."""
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    monkeypatch.setenv("LEAKAGE_DB_URL", url)
    return url


@pytest.fixture
def store(db_url: str):
    with RunStore(db_url) as opened:
        yield opened


def count_rows(url: str, table: str, where: str = "") -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0]


# --------------------------------------------------------------------------- round trip


def test_save_then_get_gives_back_the_same_result(store: RunStore) -> None:
    result = synthetic_result(seed=3)
    run_id = store.save(result, label="baseline")
    assert store.get(run_id).to_dict() == result.to_dict()
    assert store.identities(run_id) == result.identities


def test_round_trip_keeps_odd_identity_rows_and_numpy_values(store: RunStore) -> None:
    result = synthetic_result(seed=4, n_members=3, n_nonmembers=3)
    result.identities += [
        {"name": "No Truth", "score": 2, "predicted_member": True},  # int score, no ground truth
        {"name": "Unknown", "score": None, "member": None, "predicted_member": False, "notes": ["a", {"b": 1}]},
        {"name": "Int Flags", "score": 1.5, "member": 1, "predicted_member": 0},  # ints, not bools
    ]
    result.metrics["numpy_value"] = np.float32(0.25)
    result.timing["numpy_seconds"] = np.float64(1.5)
    run_id = store.save(result)
    loaded = store.get(run_id)
    assert loaded.to_dict() == result.to_dict()
    assert [type(row.get("member")) for row in loaded.identities[-3:]] == [type(None), type(None), int]


def test_runs_survive_reopening_the_store(db_url: str) -> None:
    with RunStore(db_url) as first:
        run_id = first.save(synthetic_result(seed=5))
    with RunStore(db_url) as second:
        assert second.get(run_id).config_hash == synthetic_result(seed=5).config_hash
        assert second.count() == 1


def test_default_store_lives_in_the_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LEAKAGE_DB_URL", raising=False)
    with RunStore() as store:
        store.save(synthetic_result(seed=6))
    assert (tmp_path / "home" / "runs.sqlite").is_file()
    with sqlite3.connect(tmp_path / "home" / "runs.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_get_of_a_missing_run_raises_key_error(store: RunStore) -> None:
    with pytest.raises(KeyError):
        store.get(12345)
    with pytest.raises(KeyError):
        store.identities(12345)


# --------------------------------------------------------------------------- list and filter


def test_list_filters_by_attack_model_and_search(store: RunStore) -> None:
    ids = {
        "a": store.save(synthetic_result(seed=1, model="ViT-B-32"), label="first try"),
        "b": store.save(synthetic_result(seed=2, model="ViT-L-14", attack="vlm"), label="large model"),
        "c": store.save(synthetic_result(seed=3, model="RN50"), label="50% blur"),
    }
    assert [row.id for row in store.list()] == [ids["c"], ids["b"], ids["a"]]  # newest first
    assert [row.id for row in store.list(attack="vlm")] == [ids["b"]]
    assert [row.id for row in store.list(model="vit")] == [ids["b"], ids["a"]]  # case-insensitive substring
    assert [row.id for row in store.list(search="LARGE")] == [ids["b"]]
    assert [row.id for row in store.list(search="50%")] == [ids["c"]]  # % is a character, not a wildcard
    assert [row.id for row in store.list(search=str(ids["a"]))][-1] == ids["a"]
    assert len(store.list(limit=2)) == 2
    assert store.attacks() == ["idia", "vlm"]


def test_list_rows_carry_the_headline_numbers(store: RunStore) -> None:
    result = synthetic_result(seed=7)
    run_id = store.save(result, label="x", notes="why this run")
    (row,) = store.list()
    assert row.id == run_id
    assert row.attack == "idia"
    assert row.auc == pytest.approx(result.metrics["auc"])
    assert row.tpr_at_1pct_fpr == pytest.approx(result.metrics["tpr_at_fpr"]["0.01"])
    assert row.config_hash == result.config_hash
    assert row.model == "ViT-B-32:laion2b"
    assert row.dataset == "lab"
    assert row.n_identities == len(result.identities)
    assert (row.label, row.notes) == ("x", "why this run")
    store.update_label(run_id, label="renamed", notes=None)
    assert (store.summary(run_id).label, store.summary(run_id).notes) == ("renamed", None)


# --------------------------------------------------------------------------- delete


def test_delete_removes_the_run_and_its_identity_rows(store: RunStore, db_url: str) -> None:
    keep = store.save(synthetic_result(seed=8))
    gone = store.save(synthetic_result(seed=9))
    assert count_rows(db_url, "identities", f"WHERE run_id = {gone}") == 100
    assert store.delete(gone) is True
    assert count_rows(db_url, "identities", f"WHERE run_id = {gone}") == 0
    assert count_rows(db_url, "runs", f"WHERE id = {gone}") == 0
    assert count_rows(db_url, "identities", f"WHERE run_id = {keep}") == 100
    with pytest.raises(KeyError):
        store.get(gone)
    assert store.delete(gone) is False
    assert store.save(synthetic_result(seed=10)) > gone  # a deleted run's id is never given again


# --------------------------------------------------------------------------- nothing image-like on disk


def test_uploaded_photos_and_other_in_memory_objects_are_never_stored(
    store: RunStore, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = bytes(range(7, 250, 3)) * 4  # a byte pattern no JSON text can contain
    photo = Image.frombytes("RGB", (len(marker) // 3, 1), marker[: (len(marker) // 3) * 3])
    pixels = np.frombuffer(marker, dtype=np.uint8).reshape(-1, 4)
    data_uri = "data:image/png;base64,UExBQ0VIT0xERVJQSVhFTFM="
    result = AttackResult(
        attack="idia",
        config={"question": "check one person"},
        metrics={"n_identities": 1},
        identities=[{"name": "Jane Doe", "score": 3.0, "predicted_member": True, "thumbnail": photo}],
        seeds={"draw": 0},
        images=[{"person": "Jane Doe", "path": "upload-1.jpg", "source": photo, "bytes": marker, "pixels": pixels}],
        details={"upload": memoryview(marker), "preview": data_uri, "raw": bytearray(marker), "nan": float("nan")},
    )
    with caplog.at_level(logging.WARNING, logger="leakage.store"):
        run_id = store.save(result)
    assert "not stored" in caplog.text

    loaded = store.get(run_id)
    assert loaded.identities == [{"name": "Jane Doe", "score": 3.0, "predicted_member": True}]
    assert loaded.images == [{"person": "Jane Doe", "path": "upload-1.jpg"}]
    assert loaded.details == {"nan": None}

    files = sorted(tmp_path.rglob("*"))
    assert {path.name for path in files if path.is_file()} <= {"runs.sqlite", "runs.sqlite-wal", "runs.sqlite-shm"}
    on_disk = b"".join(path.read_bytes() for path in files if path.is_file())
    for forbidden in (marker[:48], photo.tobytes()[:48], pixels.tobytes()[:48], b"UExBQ0VIT0xERVJQSVhFTFM="):
        assert forbidden not in on_disk


def test_storable_keeps_plain_data_and_drops_the_rest() -> None:
    dropped: list[str] = []
    value = {"a": (1, 2.5, "x", None, True), "b": b"raw", "c": [np.int64(3), np.zeros(3)], "d": Path("/p")}
    assert storable(value, dropped=dropped) == {"a": [1, 2.5, "x", None, True], "c": [3, None], "d": "/p"}
    assert dropped == ["result.b", "result.c[1]"]
    json.dumps(storable(value), allow_nan=False)


# --------------------------------------------------------------------------- migrations

# The schema as version 1 of this code wrote it, kept verbatim: a database made by a
# real old install, not by today's migration code (which could drift with it).
SCHEMA_V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE runs (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, attack VARCHAR(32) NOT NULL, created_at VARCHAR(40) NOT NULL,
    saved_at VARCHAR(40) NOT NULL, label TEXT, config JSON, config_hash VARCHAR(64), code_version TEXT,
    seeds JSON, model JSON, dataset JSON, metrics JSON, timing JSON, result JSON
);
CREATE TABLE identities (
    id INTEGER NOT NULL, run_id INTEGER NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL,
    score DOUBLE, member BOOLEAN, predicted_member BOOLEAN, extra JSON,
    PRIMARY KEY (id), FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
CREATE INDEX ix_identities_run_id ON identities (run_id);
INSERT INTO schema_version VALUES (1);
"""


def make_v1_database(path: Path, result: AttackResult) -> int:
    """A version-1 database holding ``result`` as the version-1 code stored it."""
    data = result.to_dict()
    identities = data.pop("identities")
    columns = ["attack", "created_at", "config", "config_hash", "code_version", "seeds", "model", "dataset", "metrics", "timing"]
    values = [data.pop(name) for name in columns]
    values = [json.dumps(value) if isinstance(value, dict) else value for value in values]
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_V1)
        cursor = conn.execute(
            f"INSERT INTO runs ({', '.join(columns)}, saved_at, label, result) VALUES ({', '.join('?' * (len(columns) + 3))})",
            [*values, "2025-01-01T00:00:00+00:00", "from v1", json.dumps(data)],
        )
        run_id = cursor.lastrowid
        for position, row in enumerate(identities):
            extra = {key: value for key, value in row.items() if key not in ("name", "score", "member", "predicted_member")}
            conn.execute(
                "INSERT INTO identities (run_id, position, name, score, member, predicted_member, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, position, row["name"], row["score"], row["member"], row["predicted_member"], json.dumps(extra)),
            )
    return run_id


def test_an_old_version_database_is_upgraded_and_its_runs_stay_readable(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = synthetic_result(seed=11)
    run_id = make_v1_database(path, old)
    url = f"sqlite:///{path}"

    with RunStore(url) as store:
        assert store.schema_version == SCHEMA_VERSION == 5
        assert store.get(run_id).to_dict() == old.to_dict()
        (row,) = store.list()  # the v2 list columns were filled from the old JSON
        assert row.auc == pytest.approx(old.metrics["auc"])
        assert (row.headline_metric, row.headline_value) == ("auc", pytest.approx(old.metrics["auc"]))  # v3 and v4
        assert row.tpr_at_1pct_fpr == pytest.approx(old.metrics["tpr_at_fpr"]["0.01"])
        assert (row.model, row.dataset, row.n_identities, row.label) == ("ViT-B-32:laion2b", "lab", 100, "from v1")
        new_id = store.save(synthetic_result(seed=12))
        assert [summary.id for summary in store.list(model="vit")] == [new_id, run_id]
        assert store.delete(run_id)
    assert count_rows(url, "identities", f"WHERE run_id = {run_id}") == 0
    assert count_rows(url, "schema_version") == 1


def test_migrations_build_exactly_the_current_schema(tmp_path: Path) -> None:
    engine = _make_engine(f"sqlite:///{tmp_path / 'step.sqlite'}")
    assert upgrade(engine, target=1) == 1
    assert upgrade(engine) == SCHEMA_VERSION
    assert upgrade(engine) == SCHEMA_VERSION  # nothing left to do
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        assert {column["name"] for column in inspector.get_columns(table.name)} == set(table.columns.keys()), table.name
    engine.dispose()


def test_a_database_from_newer_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (99);")
    with pytest.raises(SchemaTooNewError, match="99"):
        RunStore(f"sqlite:///{path}")


# --------------------------------------------------------------------------- concurrent writers


def test_four_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"  # new: the four also race to create and migrate it
    n_workers, n_runs = 4, 25
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(n_workers)
    workers = [context.Process(target=write_runs, args=(url, worker, n_runs, start)) for worker in range(n_workers)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0] * n_workers

    with RunStore(url) as store:
        rows = store.list(limit=None)
        assert len(rows) == store.count() == n_workers * n_runs
        assert {row.label for row in rows} == {f"w{w}-{i}" for w in range(n_workers) for i in range(n_runs)}
        assert len({row.id for row in rows}) == n_workers * n_runs
    assert count_rows(url, "identities") == n_workers * n_runs * 12
    assert count_rows(url, "schema_version") == 1
