"""The end-to-end fixtures of tests/pipeline (a docker client, the user's repository, ``run``)."""

from tests.pipeline.conftest import client, repo, run

__all__ = ["client", "repo", "run"]
