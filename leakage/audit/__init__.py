"""Batch audits: plans of many attack runs (`plan`), run in this process or on a Ray cluster
(`backends`), stored and reported together (`runner`, `report`)."""
