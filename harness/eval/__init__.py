"""``harness eval``: SWE-bench-style instances run under one or more stages files, each result
graded with the instance's hidden tests in a fresh sandbox, and the configs compared side by side
(docs/eval.md)."""
