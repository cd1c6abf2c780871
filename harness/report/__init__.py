"""``harness report``: what finished runs did and where their money went, read from run
directories alone (docs/reports.md). Nothing here runs a ticket: it reads what ``harness.runs``
left."""
