"""The run service: the one way an attack is run, whoever asks (the CLI, a page, a batch audit's
worker on this machine or on Ray, the backdoor page's lab build).

`run_attack(RunRequest(...))` is the single place that

1. checks the request (`check_request`): the attack and its extra-model roles, every model and
   data name against the catalog, every model, checkpoint and data path against the roots a
   shared server allows (`leakage.paths`), before anything is loaded or read;
2. loads the model and the extra models through a *provider*: `PlainModels` (the CLI: load when
   asked), a page's shared per-server models with their locks (`ui.resources.SharedModels`), a
   worker's `leakage.audit.worker.ModelCache`;
3. reads the data with the attack's own reader (`Attack.load_data`), or takes data held in memory;
4. runs the attack with a `RunContext` (progress, Cancel, device, batch size ...);
5. stamps the result: the attack's name from its declaration, the model's description, the data's
   id, the wall time, and its run key;
6. stores it (unless asked not to) under that run key, the one a page's result cache, an audit's
   resume and the run store share (`RunRequest.key`, equal to `leakage.audit.plan.Job.key`).

No Streamlit and no torch at import: the CLI checks a request before any model is loaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ContextManager, Protocol

from leakage.attacks import get_attack
from leakage.attacks.base import Attack
from leakage.context import RunContext
from leakage.progress import CancelFlag, Progress
from leakage.provenance import config_hash, to_plain
from leakage.results import AttackResult

__all__ = ["ModelProvider", "PlainModels", "RunRequest", "check_request", "read_data", "run_attack"]


@dataclass(frozen=True)
class RunRequest:
    """What to run: everything that decides a result, and whether to keep it."""

    attack: str
    """The attack's name (or an alias) in the registry."""
    model: str
    """A lab model name, a path or a model id (`leakage.catalog.resolve_model`)."""
    data: str = "lab"
    """A lab data set name (`lab` = the attack's own), or a folder."""
    pretrained: str | None = None
    """open_clip's pretrained tag or a checkpoint file."""
    model_params: Mapping[str, Any] = field(default_factory=dict)
    """Settings of a lab model's recipe, for a variant of it (e.g. a poisoned CLIP's `n_poison` and
    `defense`): the lab model `model` with these parameters, built on first use. Part of the key."""
    config: Any = None
    """The attack's config object, its plain values (a plan, a stored result), or None for the defaults."""
    extra_models: Mapping[str, str] = field(default_factory=dict)
    """Further models by the roles the attack declares (`Attack.extra_models`)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Attack-specific inputs that are not config (MIM's `shadow_data`); plain data, part of the key."""
    dataset: Any = None
    """Data held in memory (e.g. uploaded photos), read instead of `data`."""
    held: Mapping[str, Any] = field(default_factory=dict)
    """Other inputs held in memory that the attack reads from `RunContext.options` (an uploaded
    trigger image): never stored and not part of the key (a config field or `inputs` identifies them)."""
    dataset_id: str | None = None
    """How the result names `dataset`."""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    """What else identifies the run (e.g. a fingerprint of the photos in `dataset`); part of the key."""
    label: str | None = None
    store: bool = True
    """Keep the result in the run store."""
    owner: str | None = None
    """Who asks (the signed-in user on a shared server): the stored run is theirs. Not part of the key."""

    def spec(self) -> Attack:
        return get_attack(self.attack)

    def model_spec(self) -> Any:
        """What the provider loads: the model spec, or the lab variant `model_params` make of it."""
        if not self.model_params:
            return self.model
        from leakage.catalog import lab_model

        entry = lab_model(self.model)
        if entry is None:
            raise ValueError(f"'{self.model}' is not a lab model: only a lab model takes recipe settings ({', '.join(self.model_params)})")
        variant = entry.with_params(**self.model_params)  # an unknown or invalid setting is refused here
        return variant.with_params(name=f"{entry.name} ({variant.recipe_object.differences(variant.config)})")

    def make_config(self, attack: Attack | None = None) -> Any:
        """The config object (from plain values when given as such; unknown settings are refused)."""
        attack = attack or self.spec()
        if self.config is None or isinstance(self.config, Mapping):
            return attack.make_config(self.config)
        return self.config

    def plain_config(self, attack: Attack | None = None) -> dict[str, Any]:
        """Every setting, defaults filled in, as plain data."""
        config = self.make_config(attack)
        return to_plain(dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config))

    @property
    def key(self) -> str:
        """The hash of everything that decides the result (what runs, never where or how fast):
        the same request gives the same key, on a page, in the CLI or in a plan."""
        attack = self.spec()
        described = {"attack": attack.name, "model": self.model, "pretrained": self.pretrained,
                     "extra_models": dict(self.extra_models), "data": self.data, "config": self.plain_config(attack)}
        if self.model_params:  # only when given, likewise
            described["model_params"] = to_plain(dict(self.model_params))
        if self.options:  # only when given: the keys of runs without options stay those audits stored
            described["options"] = to_plain(dict(self.options))
        inputs = {name: value for name, value in self.inputs.items() if value is not None}
        if inputs:
            described["inputs"] = to_plain(inputs)
        return config_hash(described)


class ModelProvider(Protocol):
    """Where a run's models come from, and how a run takes its turn on one."""

    def load(self, kind: str, spec: str, pretrained: str | None, device: str | None, progress: Progress | None) -> Any:
        """The loaded model `spec` of `kind` (names and paths were checked before)."""

    def turn(self, model: Any) -> ContextManager[Any]:
        """Held while the attack runs on `model` (a page's lock: two users on one model take turns)."""


class PlainModels:
    """Load each model when asked, use it at once (one run per process: the CLI)."""

    def load(self, kind: str, spec: str, pretrained: str | None, device: str | None, progress: Progress | None) -> Any:
        from leakage.catalog import resolve_model

        return resolve_model(spec, kind, pretrained=pretrained, device=device, progress=progress)

    def turn(self, model: Any) -> ContextManager[Any]:
        return contextlib.nullcontext()


def check_request(request: RunRequest) -> Attack:
    """Refuse a request that names an unknown attack or role, a model or data name the catalog
    does not know (or of the wrong kind), or a path outside the roots this server may read;
    nothing is loaded or read. Returns the attack."""
    from leakage.attacks.base import check_limits
    from leakage.catalog import check_data_name, check_model_name, lab_catalog
    from leakage.paths import check_allowed

    attack = request.spec()
    roles = [role for role, _ in attack.extra_models]
    unknown = sorted(set(request.extra_models) - set(roles))
    if unknown:
        raise ValueError(f"{attack.name} takes no {', '.join(unknown)} model"
                         + (f"; its further models: {', '.join(roles)}" if roles else ""))
    models = [request.model, *request.extra_models.values()]
    for spec in models:
        check_model_name(spec, attack.model_kind)
    request.model_spec()  # lab variant settings are checked now, before anything loads
    for spec in (*models, request.pretrained):
        check_allowed(spec, "model", lab_names=lab_catalog().models)
    data = [request.options.get(name) for name in attack.data_options if request.options.get(name)]
    if request.dataset is None:
        data.insert(0, request.data)
    for spec in data:
        check_data_name(spec, attack)
        check_allowed(spec, "data", lab_names=lab_catalog().data)
    if request.config is not None:
        check_limits(request.make_config(attack))  # out-of-bounds settings, however they were given
    return attack


def read_data(request: RunRequest, attack: Attack, progress: Progress | None = None) -> tuple[Any, str]:
    """(data, its id): the data held in memory, or the data spec read by the attack's reader."""
    from leakage.catalog import resolve_data

    if request.dataset is not None:
        return request.dataset, request.dataset_id or "data held in memory"
    return resolve_data(request.data, model=request.model_spec(), default_lab=attack.default_data, progress=progress,
                        load=attack.load_data)


def further_data(attack: Attack, progress: Progress | None) -> Callable[..., tuple[Any, str]]:
    """`RunContext.read_data`: further data an attack reads (checked by `check_request` as one of its
    `data_options`), by the attack's reader; `lab` means the lab data set of `model`."""
    def read(spec: str, *, model: Any = None) -> tuple[Any, str]:
        from leakage.catalog import resolve_data

        return resolve_data(spec, model=model, default_lab=spec if spec != "lab" else attack.default_data, progress=progress,
                            load=attack.load_data)

    return read


def run_attack(
    request: RunRequest,
    *,
    models: ModelProvider | None = None,
    progress: Progress | None = None,
    cancel: CancelFlag | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    num_workers: int | None = None,
    precomputed: Mapping[str, Any] | None = None,
    before_store: Callable[[AttackResult], AttackResult] | None = None,
    store: Any = None,
) -> AttackResult:
    """Check, load, read, run, stamp and (when `request.store`) store one attack run.

    `precomputed`: inputs computed elsewhere that do not change the result (a sharded audit's
    embeddings), passed to the attack in `RunContext.options`. `before_store` makes the copy that
    is stored (e.g. without the file names of uploads). `store`: an open `RunStore` (default: the
    configured one, opened for this run). The stored run's id is in `result.details["run_id"]`.
    """
    started = time.perf_counter()
    attack = check_request(request)
    config = request.make_config(attack)
    key = request.key
    models = models or PlainModels()
    context = RunContext(progress=progress, cancel=cancel, device=device, batch_size=batch_size, num_workers=num_workers,
                         options={**request.options, **request.held, **(precomputed or {})}, read_data=further_data(attack, progress))
    context.report("loading the model")
    model = models.load(attack.model_kind, request.model_spec(), request.pretrained, device, progress)
    context.extra_models = {role: models.load(attack.model_kind, spec, None, device, progress)
                            for role, spec in request.extra_models.items()}
    context.check_cancel()
    context.report("reading the data")
    data, context.dataset_id = read_data(request, attack, progress)
    with models.turn(model):
        result = attack.execute(model, data, config, context)
    stamp(result, attack, model, context.dataset_id, key, started)
    if request.store:
        from leakage.store import RunStoreError

        keep = before_store(result) if before_store else result
        try:
            result.details["run_id"] = save(keep, attack, request.label, store, owner=request.owner)
        except RunStoreError as error:  # the run is computed: keep it for the caller, who says so and offers it
            result.details["store_error"] = str(error)
    return result


def stamp(result: AttackResult, attack: Attack, model: Any, dataset_id: str | None, key: str, started: float) -> None:
    """What every result records whoever ran it: the attack (from its declaration), the model, the data, the time, the key."""
    result.attack = attack.name
    if not result.model and hasattr(model, "describe"):
        result.model = model.describe()
    if dataset_id is not None:
        result.dataset.setdefault("id", dataset_id)
    result.timing["wall_seconds"] = round(time.perf_counter() - started, 4)
    result.details["run_key"] = key


def save(result: AttackResult, attack: Attack, label: str | None, store: Any = None, owner: str | None = None) -> int:
    from leakage.store import RunStore

    if store is not None:
        return store.save(result, label=label, owner=owner, attack=attack)
    with RunStore() as opened:
        return opened.save(result, label=label, owner=owner, attack=attack)
