"""harness: run a ticket through Planner, Coder, Debugger and Reviewer stages, each configured on
its own in stages.yaml, with bounded retries, escalation and a pre-run cost model."""

__version__ = "0.1.0"
