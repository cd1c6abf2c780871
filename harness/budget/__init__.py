"""What a run may spend, before and while it runs: the pre-run estimate (``estimate``, from the
stage ladders, the catalog and the token ``expectations``, or the project's ``calibrated``
history), the live ``meter`` of every token against the caps, and the ``guard`` the pipeline
asks whether it may go on (caps, the calibrated ceiling, rambling)."""
