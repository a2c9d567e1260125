"""What every attack shares: how it reports progress and is cancelled, how it is run, and the
declaration (`Attack`) by which the CLI, the pages, the run store and the report discover it.

An attack module builds one `Attack` and the registry (`leakage.attacks`) lists it. Everything an
attack does not declare falls back to the membership-inference defaults (AUC, TPR at low FPR,
ROC on linear and log-log axes), so a new membership attack needs little more than its `run`.

Nothing here imports torch: the registry is read by the CLI before any model is loaded.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leakage.metrics_types import MembershipMetrics
from leakage.progress import CancelFlag, Progress
from leakage.results import AttackResult, RunCancelled

__all__ = [
    "Attack", "CancelFlag", "Headline", "MembershipMetrics", "Progress", "RunCancelled", "RunContext", "THREATS",
    "check_cancel", "config_fields", "optional_of",
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


@dataclass(frozen=True)
class Headline:
    """One headline number of a result, as a page, the report and the CLI show it."""

    label: str
    value: str
    help: str = ""


@dataclass
class RunContext:
    """How to run, not what to compute: nothing here enters the config hash."""

    progress: Progress | None = None
    cancel: CancelFlag | None = None
    dataset_id: str | None = None
    device: str | None = None
    batch_size: int | None = None
    num_workers: int | None = None
    extra_models: Mapping[str, Any] = field(default_factory=dict)
    """Further models the attack declared (`Attack.extra_models`), loaded, by role."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Attack-specific run options that are not part of the config (e.g. ground truth for uploads)."""

    def report(self, stage: str, done: int = 0, total: int = 0) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)


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
    page: str | None = None
    """A custom page file (app_pages/...); None = the page generated from this declaration."""
    view: str | None = None
    """`"ui.module:function(result, key)"`: extra sections after the standard result view."""
    load_data: Any = "leakage.data:scan_dataset"
    """`(folder) -> data` for a folder the user gives (default: one subfolder of images per person)."""
    shardable: bool = False
    """Whether a batch audit may encode its images on several workers (`leakage.audit.sharding`)."""
    primary_metric: str = "auc"
    """The metric the runs list shows and sorts by."""
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
    """`(result) -> [sentences]`: the result in plain words; None = the membership wording (`leakage.wording`).
    An attack that measures no membership also puts `metrics["verdict"] = {"level", "headline"}` in its results."""
    item_columns: tuple[str, ...] = ("name", "member", "score", "predicted_member")

    @property
    def url_path(self) -> str:
        return self.url or self.name

    @property
    def config_class(self) -> type:
        return _resolve(self.config)

    def make_config(self, values: Mapping[str, Any] | None = None) -> Any:
        """The config from plain values (a stored result's config, a plan, a form); unknown keys are refused."""
        cls = self.config_class
        values = dict(values or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"{self.name} has no setting {', '.join(unknown)}; its settings: {', '.join(sorted(names))}")
        hints = typing.get_type_hints(cls)
        return cls(**{key: _coerce(value, hints.get(key)) for key, value in values.items()})

    def execute(self, model: Any, data: Any, config: Any, context: RunContext | None = None) -> AttackResult:
        return _resolve(self.run)(model, data, config, context or RunContext())

    def call(self, part: str, *args: Any, **kwargs: Any) -> Any:
        """One of the declared functions (headline, figures, summary_lines, ...), resolved on first use."""
        return _resolve(getattr(self, part))(*args, **kwargs)


def _coerce(value: Any, hint: Any) -> Any:
    """JSON and TOML give lists where a config field holds a tuple."""
    if isinstance(value, list) and typing.get_origin(hint) is tuple:
        return tuple(value)
    return value


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
