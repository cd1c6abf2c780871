"""The pipeline: one ticket through its stages (Planner, Coder with tests, Debugger, Reviewer),
attempt by attempt, against a ``Sandbox`` and through a ``Recorder``."""
