"""Audit plans: many attack runs described in one TOML file, expanded into a list of jobs.

A plan is a list of `[[job]]` tables. Each names the `attack`, the `model` and the `data`, and
gives the attack's config fields by name (`images_per_person = 3`). Anything not given takes the
config's default. Optional keys of a job:

- `name`: a label (default: made from the attack, the model and the values that vary);
- `pretrained`: the open_clip pretrained tag of the model;
- the attack's further models by role (`reference = "lab-mae-reference"` for MIM);
- `num_gpus` and `num_cpus`: what one job asks of a Ray worker (fractions allowed, e.g. 0.25);
- `shards`: on Ray, spread one large job over this many workers at once (Ray Data), for an
  attack that declares how (`Attack.shard`: the IDIA encodes its images, the VLM probe asks
  about its photos there); where and how fast a job runs never enters its key, so it never
  changes what is stored.

An optional `[defaults]` table is merged under every job.

Grid expansion: a list value expands into one job per element, and several lists into their
product (3 models x 4 settings x 2 seeds = 24 jobs). A config field that itself holds a sequence
(IDIA `templates`, VLM `questions`) is never split: a flat list is its one value; to try several,
give a list of lists (`templates = [["a photo of {}"], ["{}", "an image of {}"]]` is two jobs).
`model`, `data`, `pretrained` and further models expand like scalars. A config field may take its
default from the largest value of another field's sweep (`default_from_sweep_max` in its metadata):
IDIA's `min_images` is the largest `images_per_person` of the plan's sweep, so every k scores the
same people.

No torch here: a plan is read and checked before any model is loaded.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import math
import os
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakage.attacks import get_attack
from leakage.attacks.base import Attack, config_fields
from leakage.provenance import to_plain
from leakage.service import RunRequest

MAX_JOBS_ENV = "LEAKAGE_MAX_PLAN_JOBS"
DEFAULT_MAX_JOBS = 1000
"""Most jobs one plan may expand to (a server's setting, `$LEAKAGE_MAX_PLAN_JOBS`): three 100-value
lists in a 1 KB plan make 10^6 jobs, so the count is taken from the list lengths before expanding."""
MAX_PLAN_BYTES = 1_000_000

JOB_KEYS = ("attack", "model", "data", "name", "pretrained", "model_params", "num_gpus", "num_cpus", "shards")
"""Keys of a `[[job]]` table that are not config fields."""


class PlanError(ValueError):
    """A plan that cannot be run as written; says which job and what is wrong."""


@dataclass(frozen=True)
class Job:
    """One run: an attack on a model and a data set with one config, and what it asks of a worker."""

    attack: str
    model: str
    data: str
    config: dict[str, Any]
    """The attack's config values by field, complete (defaults filled in), as plain data."""
    extra_models: dict[str, str] = field(default_factory=dict)
    pretrained: str | None = None
    model_params: dict[str, Any] = field(default_factory=dict)
    """Settings of a lab model's recipe (a variant, `RunRequest.model_params`): a TOML table, never split."""
    name: str = ""
    num_gpus: float = 0.0
    num_cpus: float = 1.0
    shards: int = 0
    """On Ray: spread this job over this many workers at once (`Attack.shard`); 0 = on the job's own worker."""

    def request(self) -> RunRequest:
        """This job as a request to the run service (the runner stores, so the worker does not)."""
        return RunRequest(self.attack, self.model, self.data, pretrained=self.pretrained, config=self.config,
                          extra_models=self.extra_models, model_params=self.model_params, label=self.name, store=False)

    @property
    def key(self) -> str:
        """The hash of everything that decides this job's result (what it runs, not where): the
        run key (`RunRequest.key`) of its request, the one the store and the pages use. A rerun
        with the same key and the same data fingerprint is the same run."""
        return self.request().key

    @property
    def model_key(self) -> tuple[str, str | None, str]:
        """Jobs with the same model key can share one loaded model."""
        return (self.model, self.pretrained, json.dumps(self.model_params, sort_keys=True, default=str))

    def spec(self) -> Attack:
        return get_attack(self.attack)

    def make_config(self) -> Any:
        return self.spec().make_config(self.config)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Job":
        return cls(**{key: value for key, value in data.items() if key in {f.name for f in dataclasses.fields(cls)}})


@dataclass(frozen=True)
class Plan:
    jobs: list[Job]
    source: str = ""
    """Where the plan came from (a file name), for the report."""


def _is_sequence_field(hint: Any) -> bool:
    return typing.get_origin(hint) in (tuple, list) or hint in (tuple, list)


def _choices(value: Any, sequence_field: bool) -> list[Any]:
    """The values a key takes in the grid: a list splits, except a sequence field's flat list."""
    if not isinstance(value, list):
        return [value]
    if sequence_field:
        return value if value and all(isinstance(item, list) for item in value) else [value]
    if not value:
        raise PlanError("an empty list gives no job; give at least one value")
    return value


def max_jobs() -> int:
    """The most jobs a plan may expand to on this server."""
    value = os.environ.get(MAX_JOBS_ENV, "").strip()
    try:
        return max(1, int(value)) if value else DEFAULT_MAX_JOBS
    except ValueError:
        raise PlanError(f"{MAX_JOBS_ENV} must be a whole number, got {value!r}") from None


def expand_job(table: Mapping[str, Any], position: int, defaults: Mapping[str, Any] | None = None) -> list[Job]:
    """The jobs of one `[[job]]` table (its grid expanded), each with a complete config.

    `defaults` fill in what the table does not give, where the attack has such a setting (a
    default for IDIA's `n_candidates` does not trouble a MIM job)."""
    attack, keys, axes, hints, roles, where = _grid(table, position, defaults)
    varying = [key for key, axis in zip(keys, axes) if len(axis) > 1]
    jobs = []
    for values in itertools.product(*axes):
        chosen = dict(zip(keys, values))
        config_values = {key: value for key, value in chosen.items() if key in hints}
        try:
            config = attack.make_config(config_values)
        except (TypeError, ValueError) as error:
            raise PlanError(f"{where}: {error}") from None
        plain = to_plain(dataclasses.asdict(config))
        base = [str(chosen["name"])] if chosen.get("name") else [attack.name, str(chosen["model"]), str(chosen["data"])]
        skip = () if chosen.get("name") else ("model", "data")
        name = " ".join(base + [f"{key}={_short(chosen[key])}" for key in varying if key not in skip])
        jobs.append(Job(
            attack=attack.name, model=str(chosen["model"]), data=str(chosen["data"]), config=plain,
            extra_models={role: str(chosen[role]) for role in sorted(roles) if chosen.get(role)},
            pretrained=chosen.get("pretrained"), model_params=dict(chosen.get("model_params") or {}), name=name.strip(),
            num_gpus=float(chosen.get("num_gpus", 0.0)), num_cpus=float(chosen.get("num_cpus", 1.0)),
            shards=int(chosen.get("shards", 0)),
        ))
    return jobs


def count_jobs(table: Mapping[str, Any], position: int, defaults: Mapping[str, Any] | None = None) -> int:
    """How many jobs `expand_job` would make of this table, from its list lengths alone."""
    return math.prod(len(axis) for axis in _grid(table, position, defaults)[2])


def _grid(table: Mapping[str, Any], position: int, defaults: Mapping[str, Any] | None):
    """(attack, keys, axes, config hints, roles, where) of one `[[job]]` table, checked, not expanded."""
    defaults = dict(defaults or {})
    if "attack" not in table and "attack" in defaults:
        table = {"attack": defaults["attack"], **table}
    where = f"job {position + 1}"
    for required in ("attack", "model", "data"):
        if required not in table:
            raise PlanError(f"{where}: missing '{required}'")
    try:
        attack = get_attack(str(table["attack"]))
    except ValueError as error:
        raise PlanError(f"{where}: {error}") from None
    where = f"job {position + 1} ({attack.name})"
    hints = {f.name: hint for f, hint in config_fields(attack.config_class)}
    roles = {role for role, _ in attack.extra_models}
    known = set(JOB_KEYS) | set(hints) | roles
    table = {**{key: value for key, value in defaults.items() if key in known}, **table}
    unknown = sorted(set(table) - set(JOB_KEYS) - set(hints) - roles)
    if unknown:
        raise PlanError(f"{where}: unknown key {', '.join(unknown)}; {attack.name} settings: {', '.join(hints)}"
                        + (f"; further models: {', '.join(sorted(roles))}" if roles else ""))
    for field_, _ in config_fields(attack.config_class):  # e.g. IDIA's min_images: a k sweep keeps one population
        swept = field_.metadata.get("default_from_sweep_max")
        if swept and field_.name not in table and isinstance(table.get(swept), list) and len(table[swept]) > 1:
            table = {**table, field_.name: max(table[swept])}
    keys = list(table)
    try:
        axes = [_choices(table[key], _is_sequence_field(hints.get(key))) for key in keys]
    except PlanError as error:
        raise PlanError(f"{where}: {error}") from None
    return attack, keys, axes, hints, roles, where


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def parse_plan(text: str, source: str = "", limit: int | None = None) -> Plan:
    """A plan from TOML text; a PlanError names the job and the key at fault.

    The number of jobs is counted from the list lengths before any job is made, and a plan over
    `limit` (default: `max_jobs()`) is refused at once, whatever its grid would expand to."""
    if len(text) > MAX_PLAN_BYTES:
        raise PlanError(f"the plan is {len(text):,} characters long; a plan may be at most {MAX_PLAN_BYTES:,}")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PlanError(f"the plan is not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"job", "defaults"})
    if unknown:
        raise PlanError(f"unknown top-level key {', '.join(unknown)}: a plan has [[job]] tables and an optional [defaults]")
    tables = document.get("job")
    if not isinstance(tables, list) or not tables:
        raise PlanError("the plan has no [[job]] table")
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict) or not all(isinstance(table, dict) for table in tables):
        raise PlanError("[[job]] and [defaults] must be tables")
    limit = max_jobs() if limit is None else limit
    total = 0
    for position, table in enumerate(tables):
        total += count_jobs(table, position, defaults)
        if total > limit:
            raise PlanError(f"the plan expands to more than {limit:,} jobs (job {position + 1} alone to "
                            f"{count_jobs(table, position, defaults):,}); this server runs at most {limit:,} jobs per "
                            f"plan ({MAX_JOBS_ENV}). Split the plan or use fewer values per list.")
    jobs = [job for position, table in enumerate(tables) for job in expand_job(table, position, defaults)]
    counts = collections.Counter(job.key for job in jobs)
    duplicates = {job.name for job in jobs if counts[job.key] > 1}
    if duplicates:
        raise PlanError(f"the plan has the same job twice: {', '.join(sorted(duplicates))}")
    return Plan(jobs=jobs, source=source)


def load_plan(path: str | Path) -> Plan:
    path = Path(path)
    return parse_plan(path.read_text(), source=str(path))


def plan_from_jobs(jobs: Sequence[Job], source: str = "") -> Plan:
    return Plan(jobs=list(jobs), source=source)
