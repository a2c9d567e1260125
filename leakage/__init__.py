"""The leakage dashboard's engine: attacks, metrics, lab world and models.

Nothing in this package imports Streamlit; pages and the CLI are thin shells over it.
"""

__version__ = "0.1.0"

from leakage.hub import apply_offline_default as _apply_offline_default

_apply_offline_default()
