"""What every attack command does with its result: say where it is stored, write JSON and CSV.

(A leading underscore keeps this module out of the command discovery in leakage/cli.py.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from leakage.results import AttackResult


def add_output_arguments(parser: argparse.ArgumentParser, rows: str = "per-identity rows") -> None:
    parser.add_argument("--json", type=Path, default=None, help="write the full result here")
    parser.add_argument("--csv", type=Path, default=None, help=f"write the {rows} here")
    parser.add_argument("--label", default=None, help="label of the stored run")
    parser.add_argument("--no-store", action="store_true", help="do not keep this run in the run store")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def emit_result(result: AttackResult, args: argparse.Namespace, rows: str = "per-identity rows") -> int:
    """Say where the run service stored the result, and write the files asked for; 0, or 3 when the
    run store failed (the result is then written to a file all the same, and the error says where)."""
    code = 0
    run_id = result.details.get("run_id")
    if run_id is not None:
        print(f"stored as run {run_id}: python -m leakage runs show {run_id}")
    if result.details.get("store_error"):
        import sys

        code = 3
        kept = args.json or Path(f"leakage-unsaved-{result.attack}-{result.config_hash}.json")
        result.to_json(kept)
        print(f"error: the run was computed but not stored: {result.details['store_error']}\nThe result is kept in {kept}.",
              file=sys.stderr)
    if args.json:
        result.to_json(args.json)
        print(f"result written to {args.json}")
    if args.csv:
        from leakage.exports import write_identity_csv

        write_identity_csv(result.identities, args.csv)
        print(f"{rows} written to {args.csv}")
    return code
