"""The synthetic lab: named people with known training membership, their portraits and models.

Submodules are imported explicitly (e.g. `from leakage.lab.world import make_world`), so that
importing this package stays cheap.
"""
