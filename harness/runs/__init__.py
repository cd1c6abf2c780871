"""One ticket's run and what it leaves: ``harness run`` (execute), the run directory (record),
listing runs (history), HANDOFF.md, reproduce, and ``harness batch`` on this machine (batch,
tickets). Reading finished runs is ``harness.report``; a batch over a Ray cluster is
``harness.scale``."""
