"""`python -m leakage runs ...`: stored runs (see leakage.cli_runs)."""

from leakage.cli_runs import register  # noqa: F401
