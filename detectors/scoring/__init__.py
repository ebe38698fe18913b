"""Scoring: account and cluster risk in [0, 1] with reasons, and the decisions made from them.

:mod:`.prior` (documented label-free weights), :mod:`.anomaly` (isolation forest), :mod:`.clusters` (cluster
risk), :mod:`.model` (combining them), :mod:`.explain` (reasons), :mod:`.decision` (the one place that flags),
:mod:`.supervised` (the model trained from analysts' verdicts).
"""
