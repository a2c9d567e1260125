"""What a page's inputs part chose (`ui.page_parts`): the run its button will start."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Inputs:
    """What the inputs part chose: the run the button will start."""

    model: str | None
    data: str | None
    config: Any
    extra_models: dict[str, str | None] = field(default_factory=dict)
    store: bool = True
    error: str | None = None
    """Why the config cannot be made (shown above the button, which stays disabled)."""
    ready: bool | None = None
    """None: ready once the model, the data, the config and every extra model are given."""
    run_label: str | None = None
    """The button's label, when it depends on the inputs (default: the parts' `run_label`)."""
    pretrained: str | None = None
    model_params: dict[str, Any] | None = None
    held: dict[str, Any] | None = None
    """Inputs held in memory (an uploaded trigger image), passed to the run, never stored."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Whatever else an attack's own parts pass from inputs to prepare and start (uploads, labels)."""

    @property
    def is_ready(self) -> bool:
        if self.ready is not None:
            return self.ready
        return bool(self.model and self.data and self.config is not None and all(self.extra_models.values()))
