"""What every result records so that any figure can be reproduced: config hash and code version."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from leakage import __version__

REPO_ROOT = Path(__file__).resolve().parent.parent


def to_plain(obj: Any) -> Any:
    """Turn dataclasses, tuples, paths and numpy scalars into JSON-ready data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "shape", None) == ():
        return obj.item()
    return obj


def config_hash(config: Any) -> str:
    """A short, stable hash of a config: canonical JSON (sorted keys) through SHA-256."""
    canonical = json.dumps(to_plain(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@functools.cache
def code_version() -> str:
    """Package version plus the git commit (and '+dirty' for uncommitted changes) when known."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    if not commit:
        return __version__
    return f"{__version__}+g{commit}{'.dirty' if dirty else ''}"


def data_home() -> Path:
    """Where the lab, caches and the run store live: $LEAKAGE_HOME, else ~/.cache/leakage-dashboard."""
    home = os.environ.get("LEAKAGE_HOME")
    path = Path(home) if home else Path.home() / ".cache" / "leakage-dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path
