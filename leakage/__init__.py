"""The leakage dashboard's engine: attacks, metrics, lab world and models.

Nothing in this package imports Streamlit; pages and the CLI are thin shells over it.
"""

__version__ = "0.1.0"

import os as _os

# Idle OpenMP threads sleep instead of spinning: on a small shared CPU (a Streamlit server, a
# browser and a CLI run side by side) spinning threads slowed training steps four-fold. Read
# by libgomp when torch loads, so it only helps when leakage is imported first.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from leakage.hub import apply_offline_default as _apply_offline_default

_apply_offline_default()
