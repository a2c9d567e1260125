"""Command line: `python -m leakage <command>`.

Each command lives in a module of `leakage.commands` with a `register(subparsers)` function
that adds its parser and sets `func`; modules are discovered, so a new attack adds a file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

from leakage import commands
from leakage.hub import HubUnavailableError
from leakage.store import RunStoreError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m leakage", description="Measure what foundation models leak about people.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        importlib.import_module(f"{commands.__name__}.{module.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (HubUnavailableError, FileNotFoundError, NotADirectoryError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RunStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
