"""Loading a model never runs code from it (background.md §12).

What a model folder can ask for, and what this module refuses before any library reads it:

- transformers' `auto_map` (a class in a `.py` file of the folder) or `trust_remote_code` in any
  of its configs: refused with a clear error, and every `from_pretrained` here passes
  `trust_remote_code=False` (`NO_REMOTE_CODE`). As a last line, `forbid_dynamic_modules()` makes
  transformers' loader of model code raise in this process, whatever asked for it.
- open_clip configs (`open_clip_config.json`) that set `trust_remote_code` (e.g. in
  `text_cfg.tokenizer_kwargs`), or that name a tokenizer or text model by a path outside the
  model folder: refused.
- pickle-based weights: open_clip and transformers read them with `torch.load(weights_only=True)`
  (passed explicitly here); safetensors cannot run code.
- on a shared server (roots set, `leakage.paths`): the folder must lie under a model root and no
  file in it may be a link that leads out of it.

The checks read only small JSON configs, through the guarded open of `leakage.paths`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from leakage.paths import PathNotAllowed, checked, hub_cache_folder, limited, looks_like_hub_id, read_text_checked

NO_REMOTE_CODE: dict[str, Any] = {"trust_remote_code": False}
"""Keyword arguments every transformers `from_pretrained` of this package passes."""

CODE_KEYS = ("auto_map", "trust_remote_code")
CONFIG_SIZE_LIMIT = 8_000_000
"""Largest config JSON read for the check (tokenizer.json vocabularies are larger and hold no code keys)."""


class ModelCodeRefused(ValueError):
    """A model that would run its own code when loaded; refused before anything imports it."""


def _asks_for_code(value: Any, where: str = "") -> str | None:
    """The first key path in a JSON document that asks for model code, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "auto_map" and item:
                return f"{where}{key}"
            if key == "trust_remote_code" and item:
                return f"{where}{key} = {json.dumps(item)}"
            found = _asks_for_code(item, f"{where}{key}.")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _asks_for_code(item, f"{where}{index}.")
            if found:
                return found
    return None


def _refuse_code(what: str, file: str, found: str) -> ModelCodeRefused:
    return ModelCodeRefused(
        f"{what} asks to run code from the model folder ({file}: {found}). This dashboard never runs a model's own "
        "code: use a model whose architecture transformers or open_clip ships (saved with save_pretrained), "
        "without auto_map or trust_remote_code in its configs.")


def check_model_folder(folder: str | os.PathLike, what: str | None = None, container: str | os.PathLike | None = None) -> Path:
    """The folder, resolved, once it is safe to load: under the model roots (shared server), no
    file in it a link that leads out of `container` (default: the folder), and no config that asks
    for model code. Raises PathNotAllowed or ModelCodeRefused."""
    given = Path(folder).expanduser()
    what = what or str(given)
    resolved = checked(given, "model")
    home = container if container is not None else resolved
    if limited():
        for entry in sorted(resolved.rglob("*")):
            if entry.is_symlink():
                try:
                    checked(entry, "model", folder=home)
                except PathNotAllowed as refused:
                    raise PathNotAllowed(f"{what}: the model file {entry.relative_to(resolved)} {refused.reason}",
                                         reason=refused.reason) from None
    for path in sorted(resolved.glob("*.json")):
        if path.stat().st_size > CONFIG_SIZE_LIMIT:
            continue
        try:
            document = json.loads(read_text_checked(path, "model", folder=home))
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # not ours to judge: the loader reports a broken config in its own words
        found = _asks_for_code(document)
        if found:
            raise _refuse_code(what, path.name, found)
    return resolved


def hub_snapshot(repo_id: str, filename: str = "config.json") -> Path | None:
    """The cached snapshot folder of a hub repository that holds `filename`, or None when not cached."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename)
    return Path(found).parent if isinstance(found, str) else None


def check_hub_model(repo_id: str, filename: str = "config.json") -> Path | None:
    """A hub id's cached snapshot checked like a folder (links stay inside the repository's cache
    folder: snapshots point into its blobs); None when it is not cached (the loader says so)."""
    snapshot = hub_snapshot(repo_id, filename)
    if snapshot is None:
        if limited():
            checked(hub_cache_folder(repo_id), "model")
        return None
    return check_model_folder(snapshot, what=repo_id, container=hub_cache_folder(repo_id))


def check_open_clip_config(config: dict[str, Any], folder: Path | None, what: str) -> None:
    """Refuse an open_clip config that asks for model code, or names a tokenizer or text model by a
    path outside its folder (`folder` None: a config from the hub cache, where no path is allowed)."""
    found = _asks_for_code(config)
    if found:
        raise _refuse_code(what, "open_clip_config.json", found)
    model_cfg = config.get("model_cfg", config)
    text_cfg = model_cfg.get("text_cfg", {}) if isinstance(model_cfg, dict) else {}
    for key in ("hf_tokenizer_name", "hf_model_name"):
        name = text_cfg.get(key) if isinstance(text_cfg, dict) else None
        if not name or not isinstance(name, str):
            continue
        if looks_like_hub_id(name) and not (folder is not None and (folder / name).exists()):
            check_hub_model(name, "tokenizer_config.json" if key == "hf_tokenizer_name" else "config.json")
            continue
        inside = folder is not None and Path(os.path.realpath(folder / Path(name).expanduser())).is_relative_to(folder)
        if not inside:
            raise ModelCodeRefused(f"{what}: open_clip_config.json names its {key.removeprefix('hf_').replace('_', ' ')} "
                                   f"by a path outside the model folder ({name!r}). A model folder must hold its own "
                                   "tokenizer files; nothing outside it is read.")


def read_open_clip_config(folder: Path, what: str) -> dict[str, Any]:
    """A `local-dir:` folder's open_clip_config.json, checked (the folder itself with `check_model_folder`)."""
    folder = check_model_folder(folder, what)
    path = folder / "open_clip_config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{what}: no open_clip_config.json in the folder")
    try:
        config = json.loads(read_text_checked(path, "model", folder=folder))
    except ValueError as error:
        raise ValueError(f"{what}: open_clip_config.json is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{what}: open_clip_config.json is not a JSON object")
    check_open_clip_config(config, folder, what)
    return config


def forbid_dynamic_modules() -> None:
    """Make transformers' loader of code from model folders raise in this process (idempotent).

    Every `auto_map` class goes through `dynamic_module_utils.get_cached_module_file` (which copies
    the file and imports what it imports) and `get_class_in_module` (which executes it); both are
    looked up at call time, so replacing them stops every path to model code, whatever flag a
    caller passed.
    """
    from transformers import dynamic_module_utils as modules

    if getattr(modules, "_leakage_forbidden", False):
        return

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ModelCodeRefused("this model asks to run code from its folder (auto_map / trust_remote_code); "
                               "this dashboard never runs a model's own code")

    modules.get_cached_module_file = refuse
    modules.get_class_in_module = refuse
    modules._leakage_forbidden = True
