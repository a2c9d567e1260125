"""The run store: every attack result, kept in a database so runs outlive the browser tab.

SQLite in the data directory by default (``$LEAKAGE_DB_URL`` points it elsewhere, e.g.
a team's PostgreSQL). One row per run in ``runs``; the per-identity rows in
``identities`` so they can be queried and are removed with their run.

Several processes (the app, CLI runs, benchmark scripts) may write at once: SQLite runs
in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE`` so writers queue for the lock instead of failing half way.

Only plain data is stored. Anything that could hold pixels (bytes, arrays, PIL images,
uploaded-file objects, ``data:`` URIs) is dropped before writing, so a "check one
person" run keeps the names and scores but never the uploaded photos.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leakage.metric_specs import MEMBERSHIP_METRICS, MetricSpec
from leakage.provenance import data_home
from leakage.results import AttackResult

__all__ = ["ANYONE", "DB_URL_ENV", "RunStore", "RunStoreError", "RunSummary", "SchemaTooNewError", "default_url", "storable"]

log = logging.getLogger(__name__)

DB_URL_ENV = "LEAKAGE_DB_URL"

#: Seconds a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_SECONDS = 60

# Any constant works; it only has to be the same in every process using the database.
_POSTGRES_MIGRATION_LOCK = 7_246_115_001

# Result fields kept in their own columns of `runs`; every other field (images,
# problems, details, ...) goes into the `result` JSON column, identities into their table.
_RUN_COLUMN_FIELDS = (
    "attack", "created_at", "config", "config_hash", "code_version", "seeds", "model", "dataset", "metrics", "timing",
)


def default_url() -> str:
    """``$LEAKAGE_DB_URL``, else a SQLite file ``runs.sqlite`` in :func:`data_home`."""
    return os.environ.get(DB_URL_ENV) or f"sqlite:///{data_home() / 'runs.sqlite'}"


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer version of this code; refuse rather than corrupt it."""


class RunStoreError(RuntimeError):
    """The run store cannot be opened or written (a corrupt file, a full disk, ...), said plainly:
    callers keep the result they computed and tell the user where it is."""


ANYONE: Any = object()
"""`owner=ANYONE`: no owner filter (the CLI, an admin); a string: only that user's runs."""


@contextmanager
def _loudly(url: str, action: str) -> Iterator[None]:
    """Database failures as one RunStoreError that says what happened and what to do."""
    import sqlite3

    try:
        yield
    except (sa.exc.SQLAlchemyError, sqlite3.Error, OSError) as error:
        cause = str(getattr(error, "orig", None) or error).splitlines()[0]
        text = cause.lower()
        advice = ("the database file is damaged: move it aside (a new one is made) or restore a copy" if
                  "not a database" in text or "malformed" in text or "corrupt" in text else
                  "the disk is full: free some space" if "full" in text or "no space" in text else
                  "check that the database is reachable and writable")
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        raise RunStoreError(f"the run store ({shown}) could not {action}: {cause}. What to do: {advice}.") from error


# --------------------------------------------------------------------------- what may be stored


def _is_data_uri(text: str) -> bool:
    return text[:5].lower() == "data:" and ";base64," in text[:200]


_DROP = object()  # marks a value that must not be stored


def storable(value: Any, path: str = "result", dropped: list[str] | None = None) -> Any:
    """A copy of ``value`` with only JSON data: dicts, lists, str, int, finite float, bool, None.

    Numpy scalars become Python numbers, paths strings and tuples lists. Anything else
    (bytes, arrays, images, file objects, ``data:`` URIs) is dropped: removed from a
    dict, replaced by None in a list so positions still line up. Non-finite floats
    become None (JSON has no NaN). The paths of dropped values are appended to ``dropped``.
    """
    cleaned = _clean(value, path, [] if dropped is None else dropped)
    return None if cleaned is _DROP else cleaned


def _clean(value: Any, path: str, dropped: list[str]) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        if not _is_data_uri(value):
            return value
    elif isinstance(value, Path):
        return str(value)
    elif isinstance(value, dict):
        items = ((str(key), _clean(item, f"{path}.{key}", dropped)) for key, item in value.items())
        return {key: item for key, item in items if item is not _DROP}
    elif isinstance(value, (list, tuple)):
        items = (_clean(item, f"{path}[{index}]", dropped) for index, item in enumerate(value))
        return [None if item is _DROP else item for item in items]
    elif hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        return _clean(value.item(), path, dropped)  # a numpy scalar holds one number, not pixels
    dropped.append(path)
    return _DROP


def _plain_result(result: AttackResult) -> dict[str, Any]:
    """The result's fields as storable data (without ``dataclasses.asdict``, which would deep-copy images)."""
    dropped: list[str] = []
    data = {field.name: storable(getattr(result, field.name), field.name, dropped) for field in dataclasses.fields(result)}
    if dropped:
        shown = ", ".join(dropped[:10]) + (f" and {len(dropped) - 10} more" if len(dropped) > 10 else "")
        log.warning("not stored (not plain data, e.g. image bytes or in-memory objects): %s", shown)
    return data


# --------------------------------------------------------------------------- per-identity rows

# Keys with a column of their own in `identities`, with the Python type a value needs to go there.
_IDENTITY_COLUMNS: dict[str, Callable[[Any], bool]] = {
    "name": lambda v: isinstance(v, str),
    "score": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "member": lambda v: isinstance(v, bool),
    "predicted_member": lambda v: isinstance(v, bool),
}


def _split_identity(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(column values, extra) such that :func:`_join_identity` gives back ``row`` exactly.

    A value goes to its column only when the column can hold it unchanged; anything
    else (a None, an int 0/1 instead of a bool) stays in ``extra`` with the other keys.
    """
    columns: dict[str, Any] = {key: None for key in _IDENTITY_COLUMNS}
    extra: dict[str, Any] = {}
    for key, value in row.items():
        fits = _IDENTITY_COLUMNS.get(key)
        if fits is not None and fits(value):
            columns[key] = value
        else:
            extra[key] = value
    if columns["name"] is None:  # the column is NOT NULL; the odd original stays in extra and wins on reading
        columns["name"] = str(row.get("name", ""))
    return columns, extra


def _join_identity(record: sa.Row) -> dict[str, Any]:
    extra = dict(record.extra or {})
    row = {key: getattr(record, key) for key in _IDENTITY_COLUMNS if key not in extra and getattr(record, key) is not None}
    if "score" in row:
        row["score"] = float(row["score"])
    row.update(extra)
    return row


# --------------------------------------------------------------------------- schema and migrations
#
# Each migration is frozen once released: it defines the tables as they were at that
# version, never imports the current ones, and only adds. The current shape below must
# equal the result of applying all of them (a test checks).

metadata = sa.MetaData()

schema_version_table = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))

runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("attack", sa.String(32), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("saved_at", sa.String(40), nullable=False),
    sa.Column("label", sa.Text),
    sa.Column("config", sa.JSON),
    sa.Column("config_hash", sa.String(64)),
    sa.Column("code_version", sa.Text),
    sa.Column("seeds", sa.JSON),
    sa.Column("model", sa.JSON),
    sa.Column("dataset", sa.JSON),
    sa.Column("metrics", sa.JSON),
    sa.Column("timing", sa.JSON),
    sa.Column("result", sa.JSON),
    # v2: copies of JSON fields in plain columns, for listing, filtering and sorting
    sa.Column("model_name", sa.Text),
    sa.Column("dataset_id", sa.Text),
    sa.Column("device", sa.Text),
    sa.Column("auc", sa.Double),
    sa.Column("tpr_at_1pct_fpr", sa.Double),
    sa.Column("n_identities", sa.Integer),
    sa.Column("notes", sa.Text),
    sa.Column("headline_value", sa.Double),
    # v4
    sa.Column("headline_metric", sa.String(32)),
    sa.Column("run_key", sa.String(64), index=True),
    # v5: who ran it (a signed-in user's id; NULL for runs from the CLI or from before sign-in)
    sa.Column("owner", sa.Text),
    sqlite_autoincrement=True,
)

identities_table = sa.Table(
    "identities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("score", sa.Double),
    sa.Column("member", sa.Boolean),
    sa.Column("predicted_member", sa.Boolean),
    sa.Column("extra", sa.JSON),
)


def _migration_1_initial(conn: Connection) -> None:
    """Runs with their JSON fields, and per-identity rows that go with their run."""
    frozen = sa.MetaData()
    sa.Table(
        "runs",
        frozen,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("attack", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("saved_at", sa.String(40), nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("config", sa.JSON),
        sa.Column("config_hash", sa.String(64)),
        sa.Column("code_version", sa.Text),
        sa.Column("seeds", sa.JSON),
        sa.Column("model", sa.JSON),
        sa.Column("dataset", sa.JSON),
        sa.Column("metrics", sa.JSON),
        sa.Column("timing", sa.JSON),
        sa.Column("result", sa.JSON),
        sqlite_autoincrement=True,  # never reuse a deleted run's id: exported reports cite it
    )
    sa.Table(
        "identities",
        frozen,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("score", sa.Double),
        sa.Column("member", sa.Boolean),
        sa.Column("predicted_member", sa.Boolean),
        sa.Column("extra", sa.JSON),
    )
    frozen.create_all(conn)


def _list_values(model: Any, dataset: Any, metrics: Any, n_rows: int | None) -> dict[str, Any]:
    """The v2 plain columns, derived from a run's JSON fields (used on save and by the v2 backfill)."""
    model = model if isinstance(model, dict) else {}
    dataset = dataset if isinstance(dataset, dict) else {}
    metrics = metrics if isinstance(metrics, dict) else {}
    name = model.get("model")
    pretrained = model.get("pretrained")
    tpr = metrics.get("tpr_at_fpr") if isinstance(metrics.get("tpr_at_fpr"), dict) else {}
    n_identities = metrics.get("n_identities", n_rows)

    def number(value: Any) -> float | None:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return {
        "model_name": (f"{name}:{pretrained}" if pretrained else str(name)) if name else None,
        "dataset_id": str(dataset["id"]) if dataset.get("id") is not None else None,
        "device": model.get("device_description") or model.get("device"),
        "auc": number(metrics.get("auc")),
        "tpr_at_1pct_fpr": number(tpr.get("0.01")),
        "n_identities": int(n_identities) if isinstance(n_identities, int) else None,
    }


def _migration_2_list_columns(conn: Connection) -> None:
    """Plain columns for the runs list (model, dataset, device, AUC, TPR at 1% FPR, size) and notes.

    Filled from the JSON of runs already stored, so old runs sort and filter like new ones.
    """
    for statement in (
        "ALTER TABLE runs ADD COLUMN model_name TEXT",
        "ALTER TABLE runs ADD COLUMN dataset_id TEXT",
        "ALTER TABLE runs ADD COLUMN device TEXT",
        "ALTER TABLE runs ADD COLUMN auc DOUBLE PRECISION",
        "ALTER TABLE runs ADD COLUMN tpr_at_1pct_fpr DOUBLE PRECISION",
        "ALTER TABLE runs ADD COLUMN n_identities INTEGER",
        "ALTER TABLE runs ADD COLUMN notes TEXT",
        "CREATE INDEX ix_runs_attack ON runs (attack)",
        "CREATE INDEX ix_runs_created_at ON runs (created_at)",
    ):
        conn.exec_driver_sql(statement)
    frozen = sa.MetaData()
    runs = sa.Table(
        "runs", frozen,
        sa.Column("id", sa.Integer, primary_key=True),
        *(sa.Column(name, sa.JSON) for name in ("model", "dataset", "metrics")),
        *(sa.Column(name, sa.String) for name in ("model_name", "dataset_id", "device")),
        sa.Column("auc", sa.Double), sa.Column("tpr_at_1pct_fpr", sa.Double), sa.Column("n_identities", sa.Integer),
    )
    identities = sa.Table("identities", frozen, sa.Column("id", sa.Integer), sa.Column("run_id", sa.Integer))
    counts = dict(conn.execute(sa.select(identities.c.run_id, sa.func.count()).group_by(identities.c.run_id)).all())
    for row in conn.execute(sa.select(runs.c.id, runs.c.model, runs.c.dataset, runs.c.metrics)).all():
        values = _list_values(row.model, row.dataset, row.metrics, counts.get(row.id, 0))
        conn.execute(sa.update(runs).where(runs.c.id == row.id).values(**values))


def headline_value(metrics: Any, spec: MetricSpec = MEMBERSHIP_METRICS[0]) -> float | None:
    """The value of the headline metric `spec` (the attack's primary one; AUC for membership attacks)."""
    value = spec.read(metrics if isinstance(metrics, dict) else {})
    return None if value is None else float(value)


_PRIMARY_AT_MIGRATION_3 = {"backdoor": "asr"}
"""Each attack's primary metric when migration 3 was written (AUC for the others): a migration is
frozen with the schema it builds, never a lookup of today's attacks."""


def _migration_3_headline(conn: Connection) -> None:
    """A list column for each run's headline number, whatever its attack declares (not only AUC)."""
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN headline_value DOUBLE PRECISION")
    frozen = sa.MetaData()
    runs = sa.Table("runs", frozen, sa.Column("id", sa.Integer, primary_key=True), sa.Column("attack", sa.String),
                    sa.Column("metrics", sa.JSON), sa.Column("headline_value", sa.Double))
    for row in conn.execute(sa.select(runs.c.id, runs.c.attack, runs.c.metrics)).all():
        metrics = row.metrics if isinstance(row.metrics, dict) else {}
        value = metrics.get(_PRIMARY_AT_MIGRATION_3.get(str(row.attack), "auc"))
        value = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        conn.execute(sa.update(runs).where(runs.c.id == row.id).values(headline_value=value))


def _migration_4_run_key(conn: Connection) -> None:
    """Which metric the headline value is (the runs list names it: AUC, ASR ...), and the run key
    that a page's cache, an audit's resume and the store share (`leakage.service.RunRequest.key`).

    Old runs: the key of an audit job's run (`details.audit.job_key`, the same hash) where there is
    one; the headline metric as migration 3 chose it."""
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN headline_metric VARCHAR(32)")
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN run_key VARCHAR(64)")
    conn.exec_driver_sql("CREATE INDEX ix_runs_run_key ON runs (run_key)")
    frozen = sa.MetaData()
    runs = sa.Table("runs", frozen, sa.Column("id", sa.Integer, primary_key=True), sa.Column("attack", sa.String),
                    sa.Column("result", sa.JSON), sa.Column("headline_value", sa.Double),
                    sa.Column("headline_metric", sa.String), sa.Column("run_key", sa.String))
    for row in conn.execute(sa.select(runs.c.id, runs.c.attack, runs.c.result, runs.c.headline_value)).all():
        details = (row.result or {}).get("details") if isinstance(row.result, dict) else None
        conn.execute(sa.update(runs).where(runs.c.id == row.id).values(
            headline_metric=None if row.headline_value is None else _PRIMARY_AT_MIGRATION_3.get(str(row.attack), "auc"),
            run_key=_run_key_of(details)))


def _run_key_of(details: Any) -> str | None:
    if not isinstance(details, dict):
        return None
    audit = details.get("audit") if isinstance(details.get("audit"), dict) else {}
    key = details.get("run_key") or audit.get("job_key")
    return str(key) if key else None


def _migration_5_owner(conn: Connection) -> None:
    """Each run's owner (the signed-in user who ran it). Runs stored before have none: on a server
    with sign-in only admins see them (SECURITY.md)."""
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN owner TEXT")
    conn.exec_driver_sql("CREATE INDEX ix_runs_owner ON runs (owner)")


#: Ordered migrations; migration i (1-based) takes a database from version i-1 to i.
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _migration_1_initial, _migration_2_list_columns, _migration_3_headline, _migration_4_run_key, _migration_5_owner,
)
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    """The schema version of a database (0 when it has no tables of ours yet)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.scalar(sa.select(sa.func.max(schema_version_table.c.version))) or 0)


def upgrade(engine: Engine, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations up to ``target`` in one transaction; return the version reached.

    Safe when several processes open a new database at once: the transaction holds the
    write lock from its first statement, so the others wait and then find it done.
    """
    with _write(engine) as conn:
        schema_version_table.create(conn, checkfirst=True)
        version = current_version(conn)
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"the run store at {engine.url.render_as_string(hide_password=True)} has schema version {version}, "
                f"newer than this code's {SCHEMA_VERSION}; update the leakage package"
            )
        for number in range(version + 1, target + 1):
            MIGRATIONS[number - 1](conn)
            log.info("run store migrated to schema version %d", number)
        if target > version:
            conn.execute(sa.delete(schema_version_table))
            conn.execute(sa.insert(schema_version_table).values(version=target))
        return max(version, target)


# --------------------------------------------------------------------------- engine


def _make_engine(url: str) -> Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3 would otherwise open transactions itself (late, and never for DDL);
        # the "begin" hook below opens them instead, with the lock mode we want.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, and much faster
        cursor.execute("PRAGMA foreign_keys = ON")  # for ON DELETE CASCADE
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A deferred transaction that reads and then writes can fail at once with
        # "database is locked" under concurrency; IMMEDIATE takes the write lock up front.
        write = conn.get_execution_options().get("leakage_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch to WAL once per database file (the mode persists), retrying while another process switches.

    SQLite answers "database is locked" to a journal-mode change at once, without waiting on the
    busy timeout, when several processes open a fresh file together.
    """
    import sqlite3
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def _write(engine: Engine) -> Iterator[Connection]:
    """A write transaction holding the database's write lock from its start."""
    with engine.connect() as conn:
        conn.execution_options(leakage_write=True)
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_MIGRATION_LOCK})
            yield conn


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class RunSummary:
    """One line of the runs list."""

    id: int
    attack: str
    created_at: str
    model: str | None
    dataset: str | None
    auc: float | None
    tpr_at_1pct_fpr: float | None
    config_hash: str | None
    label: str | None
    code_version: str | None = None
    device: str | None = None
    n_identities: int | None = None
    notes: str | None = None
    headline_value: float | None = None
    """The attack's primary metric (`Attack.primary_metric`)."""
    headline_metric: str | None = None
    """Which metric `headline_value` is (a `MetricSpec.key`: "auc", "asr" ...)."""
    run_key: str | None = None
    """What the run computed, hashed (`leakage.service.RunRequest.key`): the same run asked again has the same key."""
    owner: str | None = None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class RunStore:
    """Save, list, load and delete attack runs.

    ``RunStore()`` opens (and creates or migrates) the database at :func:`default_url`.
    Cheap to keep open; make one per process (engines do not survive ``fork``).
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        with _loudly(self.url, "be opened"):
            self.engine = _make_engine(self.url)
            self.schema_version = upgrade(self.engine)

    def __repr__(self) -> str:
        return f"RunStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing

    def save(self, result: AttackResult, label: str | None = None, notes: str | None = None, owner: str | None = None, *,
             attack: Any = None) -> int:
        """Store a result with its per-identity rows; return the new run's id. A database that cannot
        take it raises RunStoreError (nothing half-written: one transaction).

        `attack` is the result's `Attack` declaration: its primary metric becomes the run's
        headline in the list. Without it, the membership default (AUC). `owner`: the signed-in user who ran it."""
        if not result.attack:
            raise ValueError("this result names no attack: run attacks through leakage.service.run_attack, which stamps it")
        with _loudly(self.url, "save the run"):
            return self._save(result, label, notes, owner, attack)

    def _save(self, result: AttackResult, label: str | None, notes: str | None, owner: str | None, attack: Any) -> int:
        data = _plain_result(result)
        identities = [row if isinstance(row, dict) else {"value": row} for row in data.pop("identities") or []]
        row = {key: data.pop(key) for key in _RUN_COLUMN_FIELDS}
        row.update(_list_values(row["model"], row["dataset"], row["metrics"], len(identities)))
        spec = attack.primary_spec if attack is not None else MEMBERSHIP_METRICS[0]
        row["headline_value"] = headline_value(row["metrics"], spec)
        row["headline_metric"] = spec.key if row["headline_value"] is not None else None
        row["run_key"] = _run_key_of(data.get("details"))
        row.update(result=data, label=label, notes=notes, saved_at=_now(), owner=owner)
        with _write(self.engine) as conn:
            run_id = int(conn.execute(sa.insert(runs_table).values(**row)).inserted_primary_key[0])
            if identities:
                records = []
                for position, identity in enumerate(identities):
                    columns, extra = _split_identity(identity)
                    records.append({"run_id": run_id, "position": position, **columns, "extra": extra})
                conn.execute(sa.insert(identities_table), records)
        return run_id

    def update_label(self, run_id: int, label: str | None = None, notes: str | None = None, owner: Any = ANYONE) -> None:
        """Set a run's label and notes (None clears them); with `owner`, only that user's run."""
        with _write(self.engine) as conn:
            query = _owned(sa.update(runs_table).where(runs_table.c.id == run_id), owner)
            done = conn.execute(query.values(label=label, notes=notes))
            if done.rowcount == 0:
                raise KeyError(f"no run with id {run_id}")

    def delete(self, run_id: int, owner: Any = ANYONE) -> bool:
        """Remove a run and its per-identity rows; False when there was no such run (or, with `owner`, none of theirs)."""
        with _write(self.engine) as conn:
            return conn.execute(_owned(sa.delete(runs_table).where(runs_table.c.id == run_id), owner)).rowcount > 0

    # ---- reading

    def get(self, run_id: int, owner: Any = ANYONE) -> AttackResult:
        """The stored result, equal to the one saved (less anything that was not plain data); with
        `owner`, a run of another user is as missing (KeyError)."""
        with self.engine.connect() as conn:
            record = conn.execute(_owned(sa.select(runs_table).where(runs_table.c.id == run_id), owner)).one_or_none()
            if record is None:
                raise KeyError(f"no run with id {run_id}")
            identities = self._identities(conn, run_id)
        data = dict(record.result or {})
        data.update({key: getattr(record, key) for key in _RUN_COLUMN_FIELDS})
        data["identities"] = identities
        return AttackResult.from_dict(data)

    def identities(self, run_id: int) -> list[dict[str, Any]]:
        """The per-identity rows of a run, in their original order."""
        with self.engine.connect() as conn:
            if conn.scalar(sa.select(runs_table.c.id).where(runs_table.c.id == run_id)) is None:
                raise KeyError(f"no run with id {run_id}")
            return self._identities(conn, run_id)

    @staticmethod
    def _identities(conn: Connection, run_id: int) -> list[dict[str, Any]]:
        query = sa.select(identities_table).where(identities_table.c.run_id == run_id).order_by(identities_table.c.position)
        return [_join_identity(record) for record in conn.execute(query)]

    def summary(self, run_id: int, owner: Any = ANYONE) -> RunSummary:
        """The list line of one run (with `owner`: only when it is theirs, else KeyError)."""
        found = self._summaries(_owned(sa.select(*self._list_columns()).where(runs_table.c.id == run_id), owner))
        if not found:
            raise KeyError(f"no run with id {run_id}")
        return found[0]

    def list(
        self,
        attack: str | None = None,
        model: str | None = None,
        search: str | None = None,
        limit: int | None = 500,
        offset: int = 0,
        owner: Any = ANYONE,
    ) -> list[RunSummary]:
        """Runs, newest first (with `owner`: only that user's).

        ``attack`` must match exactly; ``model`` is a case-insensitive substring of the
        model name; ``search`` a case-insensitive substring of label, notes, model,
        dataset, attack, config hash or code version (or the run id itself).
        """
        query = _owned(sa.select(*self._list_columns()).order_by(runs_table.c.id.desc()), owner)
        if attack:
            query = query.where(runs_table.c.attack == attack)
        if model:
            query = query.where(runs_table.c.model_name.icontains(model, autoescape=True))
        if search:
            text = search.strip()
            matches = [
                column.icontains(text, autoescape=True)
                for column in (
                    runs_table.c.label, runs_table.c.notes, runs_table.c.model_name, runs_table.c.dataset_id,
                    runs_table.c.attack, runs_table.c.config_hash, runs_table.c.code_version,
                )
            ]
            if text.isdigit():
                matches.append(runs_table.c.id == int(text))
            query = query.where(sa.or_(*matches))
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        return self._summaries(query)

    def find(self, run_key: str, data_fingerprint: str | None = None, owner: Any = ANYONE) -> int | None:
        """The newest stored run with this run key (and, when given, made from data with this
        fingerprint, as an audit records it; with `owner`, one of theirs), or None."""
        query = _owned(sa.select(runs_table.c.id), owner).where(runs_table.c.run_key == run_key)
        if data_fingerprint is not None:
            query = query.where(runs_table.c.result[("details", "audit", "data_fingerprint")].as_string() == data_fingerprint)
        with self.engine.connect() as conn:
            return conn.scalar(query.order_by(runs_table.c.id.desc()).limit(1))

    def attacks(self, owner: Any = ANYONE) -> list[str]:
        """The attacks that have stored runs, for a filter menu."""
        with self.engine.connect() as conn:
            return list(conn.scalars(_owned(sa.select(runs_table.c.attack).distinct().order_by(runs_table.c.attack), owner)))

    def count(self, owner: Any = ANYONE) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(_owned(sa.select(sa.func.count()).select_from(runs_table), owner)))

    @staticmethod
    def _list_columns() -> list[sa.ColumnElement]:
        c = runs_table.c
        return [
            c.id, c.attack, c.created_at, c.model_name.label("model"), c.dataset_id.label("dataset"), c.auc,
            c.tpr_at_1pct_fpr, c.config_hash, c.label, c.code_version, c.device, c.n_identities, c.notes, c.headline_value,
            c.headline_metric, c.run_key, c.owner,
        ]

    def _summaries(self, query: sa.Select) -> list[RunSummary]:
        with self.engine.connect() as conn:
            return [RunSummary(**record._asdict()) for record in conn.execute(query)]


def _owned(query: Any, owner: Any) -> Any:
    """`query` limited to `owner`'s runs (a user id; None: runs without an owner); ANYONE: unchanged."""
    if owner is ANYONE:
        return query
    return query.where(runs_table.c.owner.is_(None) if owner is None else runs_table.c.owner == owner)


def result_json(result: AttackResult) -> str:
    """The result as it would be stored, as JSON (what an export writes)."""
    return json.dumps(_plain_result(result), indent=2, allow_nan=False)
