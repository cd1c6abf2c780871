"""The pipeline: the run itself and its pre-run cost model."""
