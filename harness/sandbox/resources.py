"""Files the sandbox image is built from: the Dockerfile, the in-container helpers (sandbox/) and
the base-image bootstrap script. A wheel carries them in harness/_bundled; a source checkout
has them at the repository root."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


def bundled(name: str) -> Path:
    """``name`` as shipped (``Dockerfile.sandbox``, ``sandbox``, ``scripts/...``)."""
    for root in (_PACKAGE / "_bundled", _PACKAGE.parent):
        if (root / name).exists():
            return root / name
    raise FileNotFoundError(f"{name} is missing from this harness installation — reinstall "
                            "harness, or set sandbox.dockerfile")
