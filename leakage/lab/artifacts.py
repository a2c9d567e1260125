"""Lab artefacts (the CLIP lab, the lab VLM, the lab MAE) are built once, atomically, by one process.

Each lives in its own directory named by a hash of its config and build format; a marker file
says it is complete. Building happens in a staging directory under a file lock and is renamed
into place, so a killed build never leaves a half lab that looks finished.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, TypeVar

from leakage.locks import file_lock
from leakage.provenance import config_hash, data_home

T = TypeVar("T")


def artifact_root(kind: str, build_format: int, config: Any, override_env: str | None = None, is_default: bool = False) -> Path:
    """`<data home>/<kind>/<hash of format and config>`, or `$override_env` for the default config."""
    override = os.environ.get(override_env) if override_env else None
    if override and is_default:
        return Path(override)
    return data_home() / kind / config_hash({"format": build_format, "config": config})


def build_once(root: Path, marker: str, load: Callable[[Path], T], build_into: Callable[[Path], T]) -> T:
    """`load(root)` when `root/marker` exists; else `build_into(staging)` under a lock, renamed to root."""
    if (root / marker).is_file():
        return load(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(root.with_name(root.name + ".lock")):
        if (root / marker).is_file():  # another process built it while we waited
            return load(root)
        staging = root.with_name(root.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        artifact = build_into(staging)
        shutil.rmtree(root, ignore_errors=True)
        staging.rename(root)
        artifact.root = root
        return artifact
