"""`KEY=VALUE` command-line settings (a lab recipe's parameters), shared by `lab` and the attack commands."""

from __future__ import annotations

import argparse
import json
from typing import Any


def param(text: str) -> tuple[str, Any]:
    """`KEY=VALUE`, the value read as JSON when it is JSON (numbers, true/false), else as text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value
