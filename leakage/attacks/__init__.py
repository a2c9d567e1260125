"""The registry of attacks: every attack module declares an `Attack`, and the CLI, the pages, the
run store and the report read this list. Adding an attack is its module plus one line here.
The lab models and data sets the attacks declare are collected here too (`LAB`), which the catalog
(`leakage.catalog`) reads.
"""

from __future__ import annotations

import importlib

from leakage.attacks.base import Attack
from leakage.metric_specs import MetricSpec
from leakage.catalog_entries import LabCatalog, collect_lab

ATTACK_MODULES: tuple[str, ...] = (
    "leakage.attacks.idia",
    "leakage.attacks.vlm_probe",
    "leakage.attacks.mim",
    "leakage.attacks.clip_mia",
    "leakage.attacks.backdoor",
)
"""In the order the navigation and the CLI list them."""

ATTACKS: dict[str, Attack] = {}
for _module in ATTACK_MODULES:
    _attack: Attack = importlib.import_module(_module).ATTACK
    ATTACKS[_attack.name] = _attack
_ALIASES = {alias: attack.name for attack in ATTACKS.values() for alias in attack.aliases}
LAB: LabCatalog = collect_lab(ATTACKS.values())


def list_attacks() -> list[Attack]:
    return list(ATTACKS.values())


def attack_spec(name: str) -> Attack:
    """The attack named `name` (or one of its aliases); an unknown name gets a neutral description,
    so that a stored run of an attack this code no longer has still opens."""
    name = _ALIASES.get(name, name)
    if name in ATTACKS:
        return ATTACKS[name]
    return Attack(
        name=name, title=f"{name} attack", question="Was this record in the model's training data?",
        explanation=f"The {name} attack gives every record a score; a higher score means more likely in the training data.",
        attacker_has=f"what the {name} attack needs", config=dict, run=None, model_kind="clip", default_model="",
        default_data="", unit="record", units="records",
    )


def get_attack(name: str) -> Attack:
    """The attack named `name`, or a ValueError listing the attacks there are."""
    name = _ALIASES.get(name, name)
    if name not in ATTACKS:
        raise ValueError(f"unknown attack '{name}'; attacks: {', '.join(ATTACKS)}")
    return ATTACKS[name]


def headline_spec(attack: str, key: str | None = None) -> MetricSpec:
    """The metric a stored run's headline number is (`RunSummary.headline_metric`; default the
    attack's primary metric), as the attack declares it; a metric this code no longer declares
    gets a plain one named by its key."""
    spec = attack_spec(attack)
    key = key or spec.primary_metric
    return next((metric for metric in spec.metrics if metric.key == key), MetricSpec(key, key, (key,)))
