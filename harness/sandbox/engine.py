"""Connecting to the Docker engine."""

from __future__ import annotations

import docker
import docker.errors
import requests

from harness.errors import EngineUnavailableError

# Long enough for the longest command a stage may run; each exec is bounded by its own timeout.
CLIENT_TIMEOUT = 24 * 3600


def connect() -> docker.DockerClient:
    """A client for the engine DOCKER_HOST names (default: the local socket)."""
    try:
        client = docker.from_env(version="auto", timeout=CLIENT_TIMEOUT)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineUnavailableError(
            f"no Docker engine answers ({exc}) — start one with scripts/ensure-docker.sh "
            "(as root), or set DOCKER_HOST") from None
    return client
