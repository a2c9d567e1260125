"""Plain exports of results: per-identity CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence


def identity_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Per-identity rows as CSV text, columns in first-seen order."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_identity_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    Path(path).write_text(identity_csv(rows))
