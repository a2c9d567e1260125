"""The parts an attack's page is made of. An attack declares them (`Attack.parts`, the
`"ui.parts.module:PARTS"` of a `PageParts`); the page is generated from the declaration
(`ui.attack_page.render`), and an attack that declares nothing gets the defaults.

A page, top to bottom:

- the title and the attack's explanation;
- **inputs** `(attack, key) -> Inputs`: what to attack, with what (default: the sidebar's pickers
  and the form generated from the config, `ui.attack_form.generic_inputs`);
- **prepare** `(attack, inputs, key) -> AttackResult | None`: what the run will do, before it starts
  (the photos as they will be anonymized, a lab model that must be built first); it may return a
  result to show until a run of this page finishes (a stored one, the home page's demo);
- the run button, whose click calls **start** `(attack, inputs, job)` (default: the run service,
  through `ui.attack_runs.start_attack`);
- the result: the **sections**, each `(result, key)`, in order. The Runs page shows the same
  sections for a stored run, less the page's own downloads and provenance (it has its own);
- **after** `(attack, inputs, key)`: what the page shows below, with or without a result (design
  notes, an ablation table).

Parts see only the declaration, the inputs and the result, so the same result view serves the
attack's page, the Runs page and any new attack.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from leakage.attacks import attack_spec
from leakage.attacks.base import Attack
from leakage.results import AttackResult
from ui.attack_form import generic_inputs
from ui.attack_runs import start_attack
from ui.inputs import Inputs
from ui.result_view import (
    show_downloads,
    show_figures,
    show_headline,
    show_items,
    show_problems,
    show_provenance,
    show_verdict,
)

Section = Callable[[AttackResult, str], None]


def default_start(attack: Attack, inputs: Inputs, job: str) -> None:
    start_attack(job, attack.name, inputs.model, inputs.data, inputs.config, pretrained=inputs.pretrained,
                 model_params=inputs.model_params, held=inputs.held,
                 extra_models={role: spec for role, spec in inputs.extra_models.items() if spec}, store=inputs.store)


STANDARD_SECTIONS: tuple[Section, ...] = (
    show_verdict, show_headline, show_figures, show_items, show_problems, show_downloads, show_provenance,
)
"""The standard result view: the verdict in plain words, the declared headline numbers, the figures,
the per-item table, the skipped files, the downloads and what reproduces the run."""

PAGE_ONLY: frozenset[Section] = frozenset({show_downloads, show_provenance})
"""Sections the Runs page replaces with its own (the report download, the full config)."""


@dataclass(frozen=True)
class PageParts:
    inputs: Callable[[Attack, str], Inputs] = generic_inputs
    prepare: Callable[[Attack, Inputs, str], AttackResult | None] | None = None
    start: Callable[[Attack, Inputs, str], None] = default_start
    run_label: str = "Run the attack"
    sections: Sequence[Section] = STANDARD_SECTIONS
    after: Callable[[Attack, Inputs, str], None] | None = None
    title: str | None = None
    """The page's title (default: the attack's `nav_title` or `title`)."""
    caption: str | None = None
    """The line under the title (default: the attack's `explanation`)."""

def parts_of(attack: Attack) -> PageParts:
    """The attack's declared parts (`Attack.parts`), or the defaults."""
    return _parts(attack.parts)


@functools.cache
def _parts(reference: str | None) -> PageParts:
    if not reference:
        return PageParts()
    module, name = reference.split(":")
    return getattr(importlib.import_module(module), name)


def show_sections(result: AttackResult, key: str, *, page: bool = True) -> None:
    """The result view of `result`'s attack: on its page (`page=True`) or on the Runs page."""
    for section in parts_of(attack_spec(result.attack)).sections:
        if page or section not in PAGE_ONLY:
            section(result, key)
