"""What a dependency build is handed: exactly the files its image is keyed by (manifests,
lockfiles, the package managers' settings and patches), nothing else of the commit.

The image is shared by every commit with the same key, so anything the build read that the key
does not cover would let one commit's files (a branch's script writing into ``/deps``) decide
what another commit's tests run with. The repository's own install lifecycle scripts (root and
workspace packages: ``prepare: tsc``, ``postinstall: prisma generate``) are taken out of the
manifests the build sees: they would read sources the image is not keyed by, and what they
build belongs in the repository's test command. Dependencies' own scripts still run."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import IO

# The scripts npm, pnpm and yarn run for the repository's own packages during an install.
OWN_LIFECYCLE = ("preinstall", "install", "postinstall", "prepublish", "preprepare", "prepare",
                 "postprepare", "dependencies", "pnpm:devPreinstall")


def without_own_scripts(data: bytes) -> bytes:
    """A package.json without the install lifecycle scripts (unchanged when it has none, or is
    not a JSON object: the package manager then reports it as it would)."""
    try:
        pkg = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return data
    scripts = pkg.get("scripts") if isinstance(pkg, dict) else None
    if not isinstance(scripts, dict) or not any(name in scripts for name in OWN_LIFECYCLE):
        return data
    pkg["scripts"] = {k: v for k, v in scripts.items() if k not in OWN_LIFECYCLE}
    return (json.dumps(pkg, indent=2, ensure_ascii=False) + "\n").encode()


def install_context(files: Mapping[str, bytes], owner: tuple[int, int]) -> IO[bytes]:
    """A tar to extract at ``/``: ``files`` under /workspace (manifests without their own
    install scripts), an empty /deps for the install's result and /node_modules pointing at it,
    all owned by ``owner`` (the user the tests run as)."""
    out = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115 - returned open
    dirs = {"workspace", "deps"}
    for path in files:
        dirs.update(f"workspace/{parent}" for parent in PurePosixPath(path).parents
                    if str(parent) != ".")
    with tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(dirs):
            tar.addfile(_entry(name, owner, tarfile.DIRTYPE, 0o755))
        for path, blob in sorted(files.items()):
            name = PurePosixPath(path).name
            data = without_own_scripts(blob) if name == "package.json" else blob
            info = _entry(f"workspace/{path}", owner, tarfile.REGTYPE, 0o644)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = _entry("node_modules", owner, tarfile.SYMTYPE, 0o777)
        link.linkname = "/deps/node_modules"
        tar.addfile(link)
    out.seek(0)
    return out


def _entry(name: str, owner: tuple[int, int], kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = kind, mode
    info.uid, info.gid = owner
    return info
