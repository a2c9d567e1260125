"""Which folders a page may read: on a server shared by a team, model and data paths typed on a
page are limited to configured roots, so that no visitor can make the server read any folder.

`LEAKAGE_DATA_ROOTS` and `LEAKAGE_MODEL_ROOTS` list the allowed folders (separated by `:`, as
PATH). Unset means no limit (one user on 127.0.0.1, today's behaviour). Lab names and model ids
that are not paths (an open_clip name, `hf-hub:...`) are always allowed. Symlinks are resolved
before the check, so a link inside a root that points out of it is refused. The check only
resolves the path: nothing in it is opened or listed.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

ROOTS_ENV = {"data": "LEAKAGE_DATA_ROOTS", "model": "LEAKAGE_MODEL_ROOTS"}


class PathNotAllowed(ValueError):
    """A path outside the configured roots."""


def allowed_roots(kind: str) -> list[Path] | None:
    """The resolved roots for `kind` ("data" or "model"); None when no limit is configured."""
    value = os.environ.get(ROOTS_ENV[kind], "").strip()
    if not value:
        return None
    return [Path(part).expanduser().resolve() for part in value.split(os.pathsep) if part.strip()]


def _as_path(spec: str, kind: str, lab_names: Collection[str] = ()) -> str | None:
    """The path inside `spec`, or None when `spec` is a name (a lab name among `lab_names`, a model id)."""
    if spec in lab_names or kind == "data" and spec == "lab":
        return None
    if spec.startswith("local-dir:"):
        return spec[len("local-dir:"):]
    if spec.startswith(("hf-hub:", "hf://")):
        return None
    if spec.startswith(("/", "~", ".")) or os.sep in spec and kind == "data" or os.path.lexists(spec):
        return spec
    return None


def check_allowed(spec: str | None, kind: str, *, lab_names: Collection[str] = ()) -> None:
    """Refuse (PathNotAllowed) a model or data path outside the roots configured for `kind`.

    `lab_names`: the lab's names of that kind (the caller's catalog), which are never paths."""
    if not spec:
        return
    roots = allowed_roots(kind)
    if roots is None:
        return
    path = _as_path(spec.strip(), kind, lab_names)
    if path is None:
        return
    resolved = Path(os.path.realpath(os.path.expanduser(path)))
    if any(resolved == root or resolved.is_relative_to(root) for root in roots):
        return
    shown = ", ".join(str(root) for root in roots)
    raise PathNotAllowed(
        f"'{spec}' is outside the folders this server may read for {kind}s"
        + (f" (it leads to {resolved})" if str(resolved) != os.path.abspath(os.path.expanduser(path)) else "")
        + f". Allowed ({ROOTS_ENV[kind]}): {shown}. Nothing was read."
    )
