"""`python -m leakage runs list | show ID | export ID --format json|csv|html|pdf | delete ID | import FILE`.

The stored runs from the command line. ``add_runs_parser`` plugs into the main CLI
(``leakage/commands``); ``python -m leakage.cli_runs ...`` runs it on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store (SQLAlchemy) loads only when a runs command runs: every CLI call builds this parser
    from leakage.store import RunStore, RunSummary

FORMATS = ("json", "csv", "html", "pdf")


def add_runs_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``runs`` command (and its sub-commands) to a CLI; it runs :func:`cmd_runs`."""
    runs = subparsers.add_parser("runs", help="stored runs: list, show, export, delete, import")
    runs.add_argument("--db", default=None, metavar="URL",
                      help="database URL (default $LEAKAGE_DB_URL, else runs.sqlite in the data directory)")
    commands = runs.add_subparsers(dest="runs_command", required=True)

    listing = commands.add_parser("list", help="stored runs, newest first")
    listing.add_argument("--attack", default=None, help="only this attack (idia, vlm, mim, ...)")
    listing.add_argument("--model", default=None, help="model name contains this (case-insensitive)")
    listing.add_argument("--search", default=None, help="label, notes, model, dataset, hash or id contains this")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    show = commands.add_parser("show", help="one run: summary, numbers and top identities")
    show.add_argument("run_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="print the full result as JSON")

    export = commands.add_parser("export", help="write a run as JSON, per-identity CSV, HTML report or PDF")
    export.add_argument("run_id", type=int, metavar="ID")
    export.add_argument("--format", choices=FORMATS, default="json")
    export.add_argument("--out", type=Path, default=None,
                        help="file to write (default: stdout for json/csv, run-ID.html / run-ID.pdf here)")

    delete = commands.add_parser("delete", help="remove runs and their per-identity rows")
    delete.add_argument("run_ids", type=int, nargs="+", metavar="ID")

    load = commands.add_parser("import", help="store results saved as JSON (e.g. by `idia --json`)")
    load.add_argument("paths", type=Path, nargs="+", metavar="FILE")
    load.add_argument("--label", default=None)

    runs.set_defaults(func=cmd_runs)
    return runs


#: The name `leakage/commands/*` modules use, so wiring is `from leakage.cli_runs import register`.
register = add_runs_parser


def cmd_runs(args: argparse.Namespace) -> int:
    """Carry out a ``runs`` sub-command; 0 on success, 1 when a run does not exist."""
    from leakage.store import RunStore

    with RunStore(args.db) as store:
        try:
            return _COMMANDS[args.runs_command](store, args)
        except KeyError as missing:
            print(f"error: {missing.args[0] if missing.args else missing}", file=sys.stderr)
            return 1


# --------------------------------------------------------------------------- sub-commands


def _list(store: RunStore, args: argparse.Namespace) -> int:
    rows = store.list(attack=args.attack, model=args.model, search=args.search, limit=args.limit)
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
    elif not rows:
        print("no runs stored" if not any((args.attack, args.model, args.search)) else "no runs match")
    else:
        print(format_table(rows))
    return 0


def _show(store: RunStore, args: argparse.Namespace) -> int:
    result = store.get(args.run_id)
    if args.json:
        print(result.to_json())
        return 0
    from leakage.attacks import attack_spec
    from leakage.wording import plain_summary

    attack = attack_spec(result.attack)
    summary = store.summary(args.run_id)
    lines = [
        f"run {summary.id}" + (f" \u00b7 {summary.label}" if summary.label else "") + f" \u00b7 {result.attack} \u00b7 {result.created_at}",
        f"model {summary.model or '?'} \u00b7 data {summary.dataset or '?'} \u00b7 device {summary.device or '?'}",
        f"config hash {result.config_hash} \u00b7 code {result.code_version}",
    ]
    if summary.notes:
        lines.append(f"notes: {summary.notes}")
    lines += ["", *plain_summary(result, attack), ""]
    for row in attack.call("metric_rows", result):
        if row["value"]:
            lines.append(f"{row['metric']:<32} {row['value']:>16}  {row['ci']}")
    ranked = sorted(result.identities, key=lambda r: -r["score"] if isinstance(r.get("score"), (int, float)) else 0)
    if ranked:
        lines += ["", f"{'name':<32} {'member':>10} {'score':>9} {'flagged':>8}"]
        for row in ranked[:10]:
            member = {True: "member", False: "non-member"}.get(row.get("member"), "?")
            score = row.get("score")
            score_text = f"{score:9.3f}" if isinstance(score, (int, float)) else f"{'?':>9}"
            lines.append(f"{str(row.get('name'))[:32]:<32} {member:>10} {score_text} {str(row.get('predicted_member', '?')):>8}")
        if len(ranked) > 10:
            lines.append(f"... {len(ranked) - 10} more (runs export {summary.id} --format csv)")
    print("\n".join(lines))
    return 0


def _export(store: RunStore, args: argparse.Namespace) -> int:
    result = store.get(args.run_id)
    if args.format in ("json", "csv"):
        if args.format == "json":
            text = result.to_json()
        else:
            from leakage.exports import identity_csv

            text = identity_csv(result.identities)
        if args.out is None:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            return 0
        args.out.write_text(text, encoding="utf-8")
    else:
        from leakage.report import render_pdf, render_report

        summary = store.summary(args.run_id)
        report = render_report(result, run_id=args.run_id, label=summary.label)
        args.out = args.out or Path(f"run-{args.run_id}.{args.format}")
        if args.format == "html":
            args.out.write_text(report, encoding="utf-8")
        else:
            try:
                render_pdf(report, args.out)
            except RuntimeError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
    print(f"run {args.run_id} written to {args.out}", file=sys.stderr)
    return 0


def _delete(store: RunStore, args: argparse.Namespace) -> int:
    missing = [run_id for run_id in args.run_ids if not store.delete(run_id)]
    for run_id in args.run_ids:
        if run_id not in missing:
            print(f"deleted run {run_id}")
    if missing:
        print(f"error: no run with id {', '.join(map(str, missing))}", file=sys.stderr)
        return 1
    return 0


def _import(store: RunStore, args: argparse.Namespace) -> int:
    from leakage.attacks import attack_spec
    from leakage.results import AttackResult

    for path in args.paths:
        result = AttackResult.from_json(path)
        run_id = store.save(result, label=args.label, attack=attack_spec(result.attack))
        print(f"{path} stored as run {run_id}")
    return 0


_COMMANDS = {"list": _list, "show": _show, "export": _export, "delete": _delete, "import": _import}


# --------------------------------------------------------------------------- table


def _short(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else "\u2026" + text[-(width - 1):]  # keep the end: file names and tags


def headline_text(row: RunSummary) -> str:
    """A run's headline number as its attack declares it ("AUC 0.912", "ASR 95%"); "-" without one."""
    from leakage.attacks import headline_spec

    if row.headline_value is None:
        return "-"
    spec = headline_spec(row.attack, row.headline_metric)
    return f"{spec.name} {spec.show(row.headline_value)}"


def format_table(rows: Sequence[RunSummary]) -> str:
    """Runs as a fixed-width text table; each run's headline is the metric its attack leads with."""
    header = f"{'id':>5}  {'created (UTC)':<16}  {'attack':<8}  {'model':<32}  {'data':<16}  {'headline':<14}  {'config':<16}  label"
    lines = [header, "-" * len(header)]
    for row in rows:
        created = row.created_at[:16].replace("T", " ")
        lines.append(
            f"{row.id:>5}  {created:<16}  {_short(row.attack, 8):<8}  {_short(row.model, 32):<32}  {_short(row.dataset, 16):<16}  "
            f"{headline_text(row):<14}  {row.config_hash or '':<16}  {row.label or ''}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m leakage.cli_runs list ...``: the runs command without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="python -m leakage")
    add_runs_parser(parser.add_subparsers(dest="command", required=True))
    return cmd_runs(parser.parse_args(["runs", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    raise SystemExit(main())
