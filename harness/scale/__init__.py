"""``harness batch --engine ray`` and ``harness worker``: a batch's tickets as Ray tasks over a
cluster (docs/scale-out.md). Each ticket still runs through ``harness.runs.batch.run_one`` on
the node that takes it; this package only moves tickets, bundles and run directories around.
Importing it imports nothing from Ray: ``engine`` and ``task`` do, and load only on use."""
