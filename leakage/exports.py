"""Plain exports of results: per-identity CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Text cells starting with these are formulas to a spreadsheet (`=HYPERLINK(...)` in a person's name)."""


def neutralised(value: Any) -> Any:
    """A text cell a spreadsheet shows as text: one starting like a formula gets a leading `'`
    (OWASP's CSV injection advice). Numbers stay numbers (a negative score is not text)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def identity_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Per-identity rows as CSV text, columns in first-seen order; formula-like text neutralised."""
    columns = list(dict.fromkeys(neutralised(str(key)) for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({neutralised(str(key)): neutralised(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def write_identity_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    Path(path).write_text(identity_csv(rows))
