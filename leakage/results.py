"""The result every attack returns: plain data, serialisable to JSON, with what reproduces it.

Stable top-level keys that other tools read: `config`, `config_hash`, `metrics`, `identities`.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from leakage.provenance import code_version, config_hash, to_plain

RESULT_FORMAT = 1


class RunCancelled(RuntimeError):
    """The user stopped a run; nothing partial is returned."""


@dataclass
class AttackResult:
    attack: str = ""
    """The attack's name. Engines leave it empty: the run service (`leakage.service`) stamps it
    from the attack's declaration, the one place names live."""
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    identities: list[dict[str, Any]] = field(default_factory=list)
    seeds: dict[str, int] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    config_hash: str = ""
    code_version: str = ""
    created_at: str = ""
    format: int = RESULT_FORMAT

    def __post_init__(self) -> None:
        self.config = to_plain(self.config)
        self.config_hash = self.config_hash or config_hash(self.config)
        self.code_version = self.code_version or code_version()
        self.created_at = self.created_at or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    def to_dict(self) -> dict[str, Any]:
        return to_plain(asdict(self))

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AttackResult":
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})

    @classmethod
    def from_json(cls, path: str | Path) -> "AttackResult":
        return cls.from_dict(json.loads(Path(path).read_text()))
