"""Files shipped beside the package: the sandbox image's Dockerfile, the in-container code
(sandbox/: the image copies it, and the host sends some of it as ``python3 -I -c`` source) and
the base-image bootstrap script. A wheel carries them in harness/_bundled; a source checkout
has them at the repository root. A leaf module: the sandbox and the CLI vendors both read it."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """``name`` as shipped (``Dockerfile.sandbox``, ``sandbox``, ``scripts/...``)."""
    for root in (_PACKAGE / "_bundled", _PACKAGE.parent):
        if (root / name).exists():
            return root / name
    raise FileNotFoundError(f"{name} is missing from this harness installation — reinstall "
                            "harness, or set sandbox.dockerfile")
