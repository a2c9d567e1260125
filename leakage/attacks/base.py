"""What every attack shares: how it reports progress and is cancelled, how it is run, and the
declaration (`Attack`) by which the CLI, the pages, the run store and the report discover it.

An attack module builds one `Attack` and the registry (`leakage.attacks`) lists it. Everything an
attack does not declare falls back to the membership-inference defaults (AUC, TPR at low FPR,
ROC on linear and log-log axes, the AUC verdict), so a new membership attack needs little more
than its `run`. Runs go through the run service (`leakage.service`), which checks the inputs,
loads the models, reads the data with `load_data`, calls `run` with a `RunContext` and stamps and
stores the result.

Nothing here imports torch: the registry is read by the CLI before any model is loaded.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from leakage.context import RunContext
from leakage.metric_specs import MEMBERSHIP_METRICS, Headline, MetricSpec, spec_by_key
from leakage.metrics_types import MembershipMetrics
from leakage.progress import CancelFlag, Progress
from leakage.results import AttackResult, RunCancelled

__all__ = [
    "Attack", "CancelFlag", "Headline", "MembershipMetrics", "MetricSpec", "Progress", "RunCancelled", "RunContext",
    "Sharding", "THREATS", "check_cancel", "check_limits", "config_fields", "optional_of",
]

def check_cancel(cancel: CancelFlag | None) -> None:
    if cancel is not None and cancel.is_set():
        raise RunCancelled("cancelled by the user")


THREATS: dict[str, str] = {
    "confidentiality": (
        "Confidentiality: training-data privacy. Jia, Liu and Gong (\u201c10 Security and Privacy Problems in Large "
        "Foundation Models\u201d) sort the problems of foundation models into six of confidentiality, three of integrity "
        "and one of availability; membership and identity inference are confidentiality problems, because the model "
        "gives away who or what was in its training data."
    ),
    "integrity": (
        "Integrity: an attacker controls what the model outputs. Backdoors, data poisoning and adversarial examples "
        "are the three integrity problems among the ten that Jia, Liu and Gong list for foundation models."
    ),
    "availability": "Availability: the model stops working for its users (Jia, Liu and Gong).",
}


class Sharding(Protocol):
    """How a batch audit spreads one job's heaviest step over several workers (`Attack.shard`).

    On Ray (`leakage.audit.sharding`), the driver reads the job's data and calls `split`; the
    units go to a pool of workers, each holding its own copy of the model, which call `work` on a
    few at a time; the driver puts their outputs together with `join`, and the job then runs on
    one worker with what `join` returned in `RunContext.options`, exactly as it would have run
    after computing those itself. Units and outputs are plain, picklable data.
    """

    unit: str
    """What a unit is, plural ("images", "photos"): the result records how many there were."""
    units_per_call: int | None
    """Units per `work` call; None = the audit's batch size."""

    def split(self, data: Any, config: Any, context: RunContext) -> list[Any]: ...

    def work(self, model: Any, units: list[Any], config: Any, context: RunContext) -> list[Any]: ...

    def join(self, units: list[Any], outputs: list[Any], data: Any, config: Any, context: RunContext) -> dict[str, Any]: ...


RunFunction = Callable[[Any, Any, Any, RunContext], AttackResult]
"""run(model, data, config, context) -> AttackResult"""


def _resolve(reference: Any) -> Any:
    if isinstance(reference, str) and ":" in reference:
        module, name = reference.split(":")
        return getattr(importlib.import_module(module), name)
    return reference


@dataclass(frozen=True)
class Attack:
    """The declaration of an attack: everything the CLI, pages, store and report need to know."""

    name: str
    """Its id: the CLI command, `AttackResult.attack`, the store's attack column."""
    title: str
    question: str
    explanation: str
    """One paragraph, in plain words: what the attacker does and where it was published."""
    attacker_has: str
    config: Any
    """The config dataclass, or `"module:Class"` (imported when needed)."""
    run: Any
    """`run(model, data, config, context) -> AttackResult`, or `"module:function"`."""
    model_kind: str
    """Which kind of model it attacks (`leakage.catalog.MODEL_KINDS`)."""
    default_model: str
    default_data: str
    threat: str = "confidentiality"
    taxonomy: str = "membership inference"
    """Its place among Jia et al.'s ten problems of foundation models."""
    unit: str = "person"
    units: str = "people"
    aliases: tuple[str, ...] = ()
    extra_models: tuple[tuple[str, str], ...] = ()
    """(role, help) of further models of the same kind, e.g. ("reference", "a model trained without ...")."""
    nav_title: str = ""
    url: str = ""
    """The page's address (default: the name)."""
    icon: str = ":material/science:"
    parts: str | None = None
    """`"ui.parts.module:PARTS"`: its page parts (`ui.page_parts.PageParts`: inputs, what the run will
    do, how it starts, the result's sections, what follows), from which its page is generated and
    the Runs page shows its runs; None = the standard parts. A string, so the engine never imports
    the UI."""
    load_data: Any = "leakage.data:scan_dataset"
    """`(folder) -> data` for a folder the user gives (default: one subfolder of images per person)."""
    data_options: tuple[str, ...] = ()
    """Run options that name further data (a lab name or a folder): the run service checks them
    like the data itself (e.g. MIM's `shadow_data`)."""
    shard: Any = None
    """A `Sharding` (or `"module:name"` of one): how a batch audit spreads a job over several workers."""
    metrics: tuple[MetricSpec, ...] = MEMBERSHIP_METRICS
    """What its results report (`leakage.metric_specs`): the runs list, the comparison, the audit
    report and the CLI read these."""
    reads: tuple[str, ...] = ("people",)
    """The data formats `load_data` reads (`leakage.catalog.DATA_FORMATS`): the pickers and the CLI
    offer (and accept) only lab data sets of these formats."""
    lab_models: tuple[Any, ...] = ()
    """The lab models this attack brings (`leakage.catalog.LabModel`: name, kind, recipe, parameters,
    data sets); the registry collects them. Entries several attacks share live in a neutral module
    (`leakage.lab.shared_entries`) and are declared by each of those attacks."""
    lab_data: tuple[Any, ...] = ()
    """The lab data sets it brings (`leakage.catalog.LabData`), collected likewise."""
    primary_metric: str = "auc"
    """The key of the metric (among `metrics`) the runs list and the audit report lead with."""
    verdict: Any = "leakage.attacks.membership:verdict"
    """`(result) -> (level, headline)`: "leak", "none", "below" or "unknown" and one sentence saying so."""
    add_arguments: Any = None
    """`(parser) -> None`: CLI flags for the config; default: one flag per config field."""
    config_from_args: Any = None
    """`(args) -> config`; default: the config from the generated flags."""
    options_from_args: Any = None
    """`(args) -> dict`: run options from the CLI that are not config (`RunContext.options`)."""
    summary_lines: Any = "leakage.attacks.membership:summary_lines"
    headline: Any = "leakage.attacks.membership:headline"
    figures: Any = "leakage.attacks.membership:figures"
    metric_rows: Any = "leakage.wording:metric_rows"
    decision_rule: Any = "leakage.attacks.membership:decision_rule"
    plain_summary: Any = None
    """`(result) -> [sentences]`: the result in plain words; None = the membership wording (`leakage.wording`)."""
    item_columns: tuple[str, ...] = ("name", "member", "score", "predicted_member")

    @property
    def url_path(self) -> str:
        return self.url or self.name

    @property
    def config_class(self) -> type:
        return _resolve(self.config)

    @property
    def shardable(self) -> bool:
        return self.shard is not None

    @property
    def sharding(self) -> Sharding:
        return _resolve(self.shard)

    @property
    def primary_spec(self) -> MetricSpec:
        return spec_by_key(self.metrics, self.primary_metric)

    def make_config(self, values: Mapping[str, Any] | None = None) -> Any:
        """The config from plain values (a stored result's config, a plan, a form); unknown keys are refused."""
        cls = self.config_class
        values = dict(values or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"{self.name} has no setting {', '.join(unknown)}; its settings: {', '.join(sorted(names))}")
        hints = typing.get_type_hints(cls)
        return check_limits(cls(**{key: _coerce(value, hints.get(key)) for key, value in values.items()}))

    def execute(self, model: Any, data: Any, config: Any, context: RunContext | None = None) -> AttackResult:
        """The declared `run`, its result named after this declaration (engines leave the name to it).

        Pages, the CLI and audits run an attack through `leakage.service.run_attack`, which calls this."""
        check_limits(config)  # every run, however it was configured (page, plan, CLI, a caller's own config)
        result = _resolve(self.run)(model, data, config, context or RunContext())
        result.attack = self.name
        return result

    def call(self, part: str, *args: Any, **kwargs: Any) -> Any:
        """One of the declared functions (headline, figures, summary_lines, verdict, ...), resolved on
        first use. A function with an `attack` parameter gets this declaration: shared defaults
        (`leakage.attacks.membership`, `leakage.wording`) read the title and units from it
        instead of looking the attack up by name."""
        function = _resolve(getattr(self, part))
        if _takes_attack(function):
            kwargs.setdefault("attack", self)
        return function(*args, **kwargs)


@functools.cache
def _takes_attack(function: Callable[..., Any]) -> bool:
    try:
        return "attack" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _coerce(value: Any, hint: Any) -> Any:
    """JSON and TOML give lists where a config field holds a tuple."""
    if isinstance(value, list) and typing.get_origin(hint) is tuple:
        return tuple(value)
    return value


def check_limits(config: Any) -> Any:
    """`config`, once every field lies within the bounds its declaration gives (`metadata` "min" and
    "max" for numbers, "max_items" for sequences); a ValueError names the first that does not.

    The bounds keep one run of a shared server to a sane size (candidates, draws, masks, ...); the
    CLI, plans and pages all go through `Attack.make_config` or `Attack.execute`, which check them."""
    if not dataclasses.is_dataclass(config):
        return config
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        low, high, most = f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("max_items")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if low is not None and value < low or high is not None and value > high:
                bounds = f"between {low} and {high}" if low is not None and high is not None else (
                    f"at least {low}" if low is not None else f"at most {high}")
                raise ValueError(f"{f.name} must be {bounds}, got {value}")
        elif most is not None and isinstance(value, (tuple, list)) and len(value) > most:
            raise ValueError(f"{f.name} may hold at most {most:,} entries, got {len(value):,}")
    return config


def config_fields(config_class: type) -> list[tuple[dataclasses.Field, Any]]:
    """(field, type) of a config dataclass, in order; the types resolved from annotations."""
    hints = typing.get_type_hints(config_class)
    return [(f, hints.get(f.name, Any)) for f in dataclasses.fields(config_class)]


def field_help(f: dataclasses.Field) -> str:
    return str(f.metadata.get("help", ""))


def optional_of(hint: Any) -> Any:
    """`X` for a field typed `X | None` (a setting that may be left unset), else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
    return None


def field_choices(f: dataclasses.Field, hint: Any) -> Sequence[Any] | None:
    if "choices" in f.metadata:
        return tuple(f.metadata["choices"])
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)
    return None
