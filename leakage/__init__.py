"""The leakage dashboard's engine: attacks, metrics, lab world and models.

Nothing in this package imports Streamlit; pages and the CLI are thin shells over it.
"""

__version__ = "0.1.0"
