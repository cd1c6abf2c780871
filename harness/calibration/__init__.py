"""Calibrated token ceilings: a project's run history, per-stage fits of tokens against the
decomposition, and the ceilings a run is held to (docs/calibration.md).

Layering: this package depends only on ``harness.config`` and ``harness.errors`` (and numpy, in
``fit`` and ``backtest``), so ``harness.pipeline`` may use its run-time half (``model``,
``ceilings``) while ``harness.runs`` and ``harness.cli`` open the history and fit it.
Nothing here is imported by ``harness check`` or a plain ``harness cost``.
"""
