"""`python -m leakage lab list|build|info|clean [NAME]`: every lab model and data set the attacks
declare (`leakage.catalog`), built by its recipe (`leakage.lab.recipe`).

A wrong name is refused from the catalog alone, before any recipe (or torch) is imported.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from leakage.commands._params import param
from leakage.progress import StageBars


def register(subparsers) -> None:
    lab = subparsers.add_parser("lab", help="the lab's models and data sets: list, build, info, clean")
    commands = lab.add_subparsers(dest="lab_command", required=True)
    listing = commands.add_parser("list", help="every lab model and lab data set: kind, data set, built or not, size")
    listing.add_argument("--builds", action="store_true", help="also every folder the lab recipes built in the data home, "
                                                               "current or stale")
    build = commands.add_parser("build", help="build lab models or data sets (reused when built), with progress")
    build.add_argument("names", nargs="*", metavar="NAME", help="lab models or data sets (see `lab list`); none = the lab CLIP, lab")
    build.add_argument("--quiet", action="store_true")
    info = commands.add_parser("info", help="where a lab model or data set is, whether it is built, and its members")
    info.add_argument("name", metavar="NAME")
    info.add_argument("--json", action="store_true", help="everything, with the full member lists, as JSON")
    clean = commands.add_parser("clean", help="delete builds left behind by an older recipe or an interrupted build")
    clean.add_argument("name", nargs="?", metavar="NAME", help="only the builds of this lab model's recipe")
    clean.add_argument("--all", action="store_true", help="delete current builds too (they are rebuilt when asked for)")
    for sub in (build, info):
        sub.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", type=param,
                         help="a recipe setting, e.g. n_poison=8, training.epochs=7, variant=bpe (JSON values); "
                              "makes a variant of the named entry")
    lab.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return {"list": list_lab, "build": build_lab, "info": info_lab, "clean": clean_lab}[args.lab_command](args)


def entry_named(name: str, params: list[tuple[str, Any]] | None = None):
    """The lab model (else lab data set) `name`, with `params` applied; unknown names are refused
    with the names there are, before any recipe is imported."""
    from leakage.catalog import lab_catalog

    catalog = lab_catalog()
    entry = catalog.models.get(name) or catalog.data.get(name)
    if entry is None:
        raise ValueError(f"unknown lab model or data set '{name}'. Lab models: {', '.join(catalog.models)}; "
                         f"lab data sets: {', '.join(catalog.data)}")
    return entry.with_params(**dict(params)) if params else entry


def state(entry) -> tuple[str, str]:
    """('built' | 'not built', size)."""
    from leakage.lab.artifacts import megabytes

    if not entry.is_built():
        return "not built", ""
    return "built", f"{megabytes(entry.path()):.1f} MB"


def list_lab(args: argparse.Namespace) -> int:
    from leakage.catalog import MODEL_KINDS, lab_catalog

    catalog = lab_catalog()
    print("lab models (python -m leakage lab build NAME; --model NAME):")
    for model in catalog.models.values():
        built, size = state(model)
        print(f"  {model.name:<18} {MODEL_KINDS[model.kind].title:<32} {built:<10} {size:>9}  data: {', '.join(model.data) or '-'}")
        print(f"  {'':<18} {model.description}")
    print("lab data sets (--data NAME; --data lab is the chosen model's own):")
    for data in catalog.data.values():
        built, size = state(data)
        print(f"  {data.name:<18} {data.format:<32} {built:<10} {size:>9}  {data.description}")
    builds = [found for recipe in recipes() for found in recipe.builds()]
    stale = [found for found in builds if not (found.current or found.foreign or found.building)]
    print(f"builds in the data home: {len(builds)} folders, {sum(b.megabytes for b in builds):.1f} MB"
          + (f"; {len(stale)} stale ({sum(b.megabytes for b in stale):.1f} MB): python -m leakage lab clean" if stale else ""))
    if args.builds:
        for recipe in recipes():
            for found in recipe.builds():
                what = (recipe.differences(found.config) if found.config is not None else
                        "a record this code cannot read" if found.foreign else "no record (an interrupted build?)")
                status = ("being built" if found.building else "current" if found.current else
                          "other code (kept; --all removes it)" if found.foreign else "stale")
                print(f"  {recipe.folder + '/' + found.root.name:<44} {what:<40} {', '.join(found.parts) or '-':<28} "
                      f"{found.megabytes:8.1f} MB  {status}")
    return 0


def recipes() -> list:
    """Every recipe the catalog's entries name, once each."""
    from leakage.catalog import lab_catalog

    found: dict[int, Any] = {}
    for entry in [*lab_catalog().models.values(), *lab_catalog().data.values()]:
        recipe = entry.recipe_object
        found.setdefault(id(recipe), recipe)
    return list(found.values())


def build_lab(args: argparse.Namespace) -> int:
    entries = [entry_named(name, args.param) for name in args.names or ["lab"]]  # every name checked before anything builds
    from leakage.catalog import LabModel, lab_catalog
    from leakage.commands.attacks import quiet_transformers

    quiet_transformers()
    for entry in entries:
        started, already = time.perf_counter(), entry.is_built()
        bars = StageBars(enabled=not args.quiet)
        path = entry.build(progress=bars)
        data = entry.data_sets(lab_catalog().data) if isinstance(entry, LabModel) else []
        for data_set in data:  # what `--data lab` reads with it, so a later run starts at once
            data_set.build(progress=bars)
        bars.close()
        print(f"{entry.name}: {'reused' if already else 'built'}, {path} [{time.perf_counter() - started:.1f} s]")
        for data_set in data:
            print(f"  data {data_set.name}: {data_set.path()}")
    return 0


def info_lab(args: argparse.Namespace) -> int:
    from leakage.catalog import DATA_FORMATS, MODEL_KINDS, LabModel, lab_catalog

    entry = entry_named(args.name, args.param)
    recipe = entry.recipe_object
    built, size = state(entry)
    is_model = isinstance(entry, LabModel)
    record: dict[str, Any] = {
        "name": entry.name, "what": "lab model" if is_model else "lab data set",
        "kind": MODEL_KINDS[entry.kind].title if is_model else DATA_FORMATS[entry.format],
        "description": entry.description, "recipe": entry.recipe, "params": entry.params, "part": entry.part,
        "settings": recipe.differences(entry.config), "folder": str(entry.root()), "path": str(entry.path()),
        "built": built == "built", "megabytes": size,
    }
    if is_model:
        record["data"] = {data.name: str(data.path()) for data in entry.data_sets(lab_catalog().data)}
    if record["built"]:
        membership = entry.membership()
        record.update(members=membership.members, nonmembers=membership.nonmembers, note=membership.note)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(f"{entry.name}: {entry.description} ({record['kind']})")
    print(f"recipe:   {recipe.title} ({entry.recipe}), {record['settings']}")
    print(f"folder:   {record['folder']}")
    print(f"{entry.part + ':':<9} {record['path']}")
    command = f"python -m leakage lab build {entry.name}" + "".join(f" --param {k}={json.dumps(v)}" for k, v in args.param)
    print(f"built:    {'yes, ' + size if record['built'] else f'no ({command})'}")
    for name, path in record.get("data", {}).items():
        print(f"data:     {name} at {path}")
    if record["built"]:
        for label, names in (("members", record["members"]), ("non-members", record["nonmembers"])):
            shown = ", ".join(names[:6]) + (f", ... ({len(names) - 6} more)" if len(names) > 6 else "")
            print(f"{label} ({len(names)}): {shown or '-'}")
        if record["note"]:
            print(f"note:     {record['note']}")
    return 0


def clean_lab(args: argparse.Namespace) -> int:
    chosen = [entry_named(args.name).recipe_object] if args.name else recipes()
    found = [(recipe, recipe.builds()) for recipe in chosen]
    for recipe, builds in found:
        if not builds and not args.name:
            continue
        doomed = [build for build in builds if args.all or not (build.current or build.foreign)]
        freed, skipped = recipe.remove_builds(doomed)
        busy = f" ({len(skipped)} being built now, left alone)" if skipped else ""
        print(f"{recipe.folder}: removed {len(doomed) - len(skipped)} of {len(builds)} folders, {freed:.1f} MB freed{busy}")
    if not any(builds for _, builds in found) and not args.name:
        print("nothing built in the data home")
    return 0
