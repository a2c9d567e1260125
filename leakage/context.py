"""How to run, not what to compute: the one way every engine is told its progress callback, its
Cancel flag, its batch size and the other runtime options. Nothing here enters a config hash,
so none of it may change a result.

Below the attacks, the engines and the run service (`leakage.service`), which builds one per run;
an engine called directly takes `RunContext()` and its own defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leakage.progress import CancelFlag, Progress
from leakage.results import RunCancelled


@dataclass
class RunContext:
    """How to run, not what to compute: nothing here enters the config hash."""

    progress: Progress | None = None
    cancel: CancelFlag | None = None
    dataset_id: str | None = None
    """How the data are named in the result (a lab name, a folder, "uploaded photos")."""
    device: str | None = None
    batch_size: int | None = None
    """Images (or prompts) per forward pass; None = the engine's own default."""
    num_workers: int | None = None
    """Image-loading worker processes; None = the engine's own default."""
    use_text_cache: bool = True
    """Read prompt embeddings already computed by this model back from disk."""
    use_image_cache: bool = True
    """Read image embeddings already computed by this model (and face boxes found by this detector) back from disk."""
    extra_models: Mapping[str, Any] = field(default_factory=dict)
    """Further models the attack declared (`Attack.extra_models`), loaded, by role."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Attack-specific run inputs that are not config (a shadow model's data, embeddings computed by shards)."""
    read_data: Callable[..., tuple[Any, str]] | None = None
    """`(spec, model=None) -> (data, id)`: further data an attack reads (MIM's shadow set), resolved by
    the run service's catalog (a lab name, or a folder checked against the roots); an attack never
    imports the catalog, which sits above the registry."""

    def report(self, stage: str, done: int = 0, total: int = 0) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def check_cancel(self, what: str = "run") -> None:
        """Raise RunCancelled when the user pressed Cancel (engines call this between batches)."""
        if self.cancel is not None and self.cancel.is_set():
            raise RunCancelled(f"{what} cancelled")

    def batch(self, default: int) -> int:
        return self.batch_size or default

    def workers(self, default: int) -> int:
        return default if self.num_workers is None else self.num_workers
