"""Which folders the server may read: on a server shared by a team, model and data files are
limited to configured roots, so that no visitor can make the server read any folder.

`LEAKAGE_DATA_ROOTS` and `LEAKAGE_MODEL_ROOTS` list the allowed folders (separated by `:`, as
PATH). Unset means no limit (one user on 127.0.0.1, today's behaviour).

Two layers, one rule:

- `check_allowed(spec, kind)`: the up-front check of a typed model or data spec (a page, a plan,
  the CLI, the run service). Lab names and open_clip architecture names are always allowed; a
  `hf-hub:` id or a hub id (`org/name`) is read from the Hugging Face cache, so with roots set
  that cache folder must lie under a model root.
- `checked(path, kind, folder=...)` / `open_checked(...)` / `refusal(...)`: every file a data
  reader or a model loader opens goes through them, however the run started (page, plan, Ray
  worker, CLI). The path is resolved (symlinks followed) and must lie inside a root and, where
  the reader knows it, inside the folder it was listed in: a link inside an allowed folder that
  leads out of it is refused, and a reader reports that file and skips it like any bad input.

Besides the configured roots, the guarded opens accept the product's own folders (the data home
with the lab and its models, `LEAKAGE_LAB_*_DIR`): those are written by this code, never typed.
Refusals name the path as given and never say where a link leads (that would be an oracle for
the server's files).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

ROOTS_ENV = {"data": "LEAKAGE_DATA_ROOTS", "model": "LEAKAGE_MODEL_ROOTS"}
PRODUCT_DIR_ENVS = ("LEAKAGE_LAB_DIR", "LEAKAGE_LAB_MAE_DIR", "LEAKAGE_LAB_VLM_DIR")
"""Where the product keeps what it builds (besides the data home): readable like the roots."""


class PathNotAllowed(ValueError):
    """A path outside the configured roots, or a link that leaves its folder; `reason` says which in
    words that never reveal where a link leads."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


def allowed_roots(kind: str) -> list[Path] | None:
    """The resolved roots for `kind` ("data" or "model"); None when no limit is configured."""
    value = os.environ.get(ROOTS_ENV[kind], "").strip()
    if not value:
        return None
    return [Path(part).expanduser().resolve() for part in value.split(os.pathsep) if part.strip()]


def readable_roots(kind: str) -> list[Path] | None:
    """What a guarded open accepts: the configured roots plus the product's own folders; None = no limit."""
    roots = allowed_roots(kind)
    if roots is None:
        return None
    from leakage.provenance import data_home

    own = [data_home(), *(Path(os.environ[name]) for name in PRODUCT_DIR_ENVS if os.environ.get(name))]
    return roots + [Path(os.path.realpath(path.expanduser())) for path in own]


def limited() -> bool:
    """Whether this process reads only under configured roots (a shared server)."""
    return allowed_roots("data") is not None or allowed_roots("model") is not None


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def hub_cache_folder(repo_id: str) -> Path:
    """The Hugging Face cache folder of a model repository (it need not exist)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / f"models--{repo_id.strip('/').replace('/', '--')}"


def looks_like_hub_id(spec: str) -> bool:
    """`org/name` (one slash, no path syntax) that is not a file or folder here."""
    parts = spec.split("/")
    return (len(parts) == 2 and all(parts) and not spec.startswith(("/", "~", "."))
            and ".." not in parts and not os.path.lexists(spec))


def _as_path(spec: str, kind: str, lab_names: Collection[str] = ()) -> str | None:
    """The path `spec` reads (for a hub id: its cache folder), or None when `spec` is a name (a lab
    name among `lab_names`, an architecture)."""
    if spec in lab_names or kind == "data" and spec == "lab":
        return None
    if spec.startswith("local-dir:"):
        return spec[len("local-dir:"):]
    for prefix in ("hf-hub:", "hf://"):
        if spec.startswith(prefix):
            return str(hub_cache_folder(spec[len(prefix):].split("@")[0]))
    if spec.startswith(("/", "~", ".")) or os.sep in spec and kind == "data" or os.path.lexists(spec):
        return spec
    if kind == "model" and looks_like_hub_id(spec):
        return str(hub_cache_folder(spec))
    return None


def check_allowed(spec: str | None, kind: str, *, lab_names: Collection[str] = ()) -> None:
    """Refuse (PathNotAllowed) a model or data spec that reads outside the roots configured for `kind`.

    `lab_names`: the lab's names of that kind (the caller's catalog), which are never paths."""
    if not spec:
        return
    roots = allowed_roots(kind)
    if roots is None:
        return
    spec = spec.strip()
    path = _as_path(spec, kind, lab_names)
    if path is None:
        return
    resolved = Path(os.path.realpath(os.path.expanduser(path)))
    if _inside(resolved, roots):
        return
    shown = ", ".join(str(root) for root in roots)
    where = " (it is read from the Hugging Face cache)" if path != spec and not spec.startswith("local-dir:") else ""
    raise PathNotAllowed(f"'{spec}'{where} is outside the folders this server may read for {kind}s. "
                         f"Allowed ({ROOTS_ENV[kind]}): {shown}. Nothing was read.",
                         reason=f"outside the folders this server may read for {kind}s")


def checked(path: str | os.PathLike, kind: str, *, folder: str | os.PathLike | None = None) -> Path:
    """`path` resolved (symlinks followed), when this server may read it; PathNotAllowed otherwise.

    With roots configured it must lie inside a root (or the product's own folders) and, when
    `folder` is given, inside `folder` (a link in a folder that leads out of it is refused, and so
    is a `..` or absolute path named by a file inside it). Without roots: no limit.
    """
    given = Path(path).expanduser()
    resolved = Path(os.path.realpath(given))
    roots = readable_roots(kind)
    if roots is None:
        return resolved
    if folder is not None and not _inside(resolved, [Path(os.path.realpath(Path(folder).expanduser()))]):
        reason = "leads outside its folder (a link out of it, or a path with .. or /)"
        raise PathNotAllowed(f"{given}: {reason}; not read", reason=reason)
    if not _inside(resolved, roots):
        reason = f"outside the folders this server may read for {kind}s ({ROOTS_ENV[kind]})"
        raise PathNotAllowed(f"{given}: {reason}; not read", reason=reason)
    return resolved


def refusal(path: str | os.PathLike, kind: str, *, folder: str | os.PathLike | None = None) -> str | None:
    """Why `path` may not be read (a reason to report beside the file as it was named), or None."""
    try:
        checked(path, kind, folder=folder)
    except PathNotAllowed as refused:
        return refused.reason
    return None


def open_checked(path: str | os.PathLike, kind: str, *, folder: str | os.PathLike | None = None) -> BinaryIO:
    """The file opened for binary reading, after `checked`. With roots configured the resolved path
    is opened without following a last link, so a file swapped for a link after the check is not read."""
    resolved = checked(path, kind, folder=folder)
    if readable_roots(kind) is None:
        return open(Path(path).expanduser(), "rb")  # noqa: SIM115 - the caller closes it
    descriptor = os.open(resolved, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    return os.fdopen(descriptor, "rb")


def read_text_checked(path: str | os.PathLike, kind: str, *, folder: str | os.PathLike | None = None,
                      encoding: str = "utf-8") -> str:
    with open_checked(path, kind, folder=folder) as handle:
        return handle.read().decode(encoding)
