"""The end-to-end fixtures of tests/pipeline (a small repository, the real sandbox, a ``run``
helper that checks the user's repository is untouched), shared with the calibrated runs."""

from tests.pipeline.conftest import client, repo, run  # noqa: F401
