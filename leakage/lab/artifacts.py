"""Lab artefacts (the CLIP lab, the lab VLM, the lab MAE, the poisoned CLIPs) are built once,
atomically, by one process: the on-disk half of every lab recipe (`leakage.lab.recipe`).

Each lives in its own directory named by a hash of its build format and config; a manifest file,
written last, says it is complete. Building happens in a staging directory under a file lock and
is renamed into place, so a killed or cancelled build never leaves a half lab that looks finished.
Parts built on first use (a control model, a reference model, a defense) go the same way inside
the artefact's directory, under the artefact's lock.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, TypeVar

from leakage.locks import file_lock
from leakage.provenance import code_version, config_hash, data_home, to_plain

T = TypeVar("T")


def artifact_root(kind: str, build_format: int, config: Any, override_env: str | None = None, is_default: bool = False) -> Path:
    """`<data home>/<kind>/<hash of format and config>`, or `$override_env` for the default config."""
    override = os.environ.get(override_env) if override_env else None
    if override and is_default:
        return Path(override)
    return data_home() / kind / config_hash({"format": build_format, "config": config})


def lock_of(root: Path) -> Path:
    """The lock a build of `root` (and of its parts) holds: a file beside it."""
    return root.with_name(root.name + ".lock")


def staging_of(path: Path) -> Path:
    return path.with_name(path.name + ".building")


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def build_once(root: Path, marker: str, load: Callable[[Path], T], build_into: Callable[[Path], T]) -> T:
    """`load(root)` when `root/marker` exists; else `build_into(staging)` under a lock, renamed to root.

    A build that fails or is cancelled removes its staging directory: nothing half-built stays behind.
    """
    if (root / marker).is_file():
        return load(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(lock_of(root)):
        if (root / marker).is_file():  # another process built it while we waited
            return load(root)
        staging = staging_of(root)
        remove(staging)
        try:
            artifact = build_into(staging)
        except BaseException:
            remove(staging)
            raise
        remove(root)
        staging.rename(root)
        artifact.root = root
        return artifact


def build_part(target: Path, done: Callable[[], bool], lock: Path, build_into: Callable[[Path], None],
               staging: Path | None = None) -> Path:
    """`target` (a folder or file inside a built artefact), built once: `build_into(staging)` under
    `lock`, then renamed onto `target`, unless `done()` says it is there already."""
    if done():
        return target
    with file_lock(lock):
        if done():
            return target
        staging = staging or staging_of(target)
        remove(staging)
        try:
            build_into(staging)
        except BaseException:
            remove(staging)
            raise
        remove(target)
        staging.rename(target)
    return target


def write_manifest(path: Path, build_format: int, config: Any, hashed: Any, **record: Any) -> None:
    """The file that says an artefact is complete, written last: format, config, its hash, the code
    version, and what the recipe adds (members, non-members, timings)."""
    path.write_text(json.dumps({
        "format": build_format, "config": to_plain(config), "config_hash": config_hash(hashed),
        "code_version": code_version(), **to_plain(record),
    }, indent=2))


def megabytes(path: Path) -> float:
    """Size on disk of a file or folder, in MB (0 when missing)."""
    if path.is_file():
        return path.stat().st_size / 2**20
    if not path.is_dir():
        return 0.0
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file()) / 2**20
