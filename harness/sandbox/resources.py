"""Where ``harness.sandbox.image`` finds the shipped files: ``harness.resources``, their one home
(kept under this name until image.py, which issue 13 is changing, imports it from there)."""

from harness.resources import bundled

__all__ = ["bundled"]
