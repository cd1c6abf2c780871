"""The repository's ``.gitignore`` rules for the host-side file listing, which has no git to ask
(the checkout holds no ``.git``).

A listing that names every file a build wrote (``dist/``, coverage, generated code) buries the
sources a model is looking for under files it must not edit. Rules are gathered as the walk goes
down, each file's patterns relative to its own directory, and a deeper file's rule (a ``!``
negation included) wins over an outer one, as in git. ``.git/info/exclude`` and global excludes
are not read: the first is not in the checkout, the second is the user's, not the repository's.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import pathspec

IGNORE_FILE = ".gitignore"
IGNORE_LIMIT = 64 << 10  # bytes of one .gitignore read; a hostile one may be any size


class Ignores:
    def __init__(self) -> None:
        self._specs: list[tuple[PurePosixPath, pathspec.GitIgnoreSpec]] = []

    def add(self, base: PurePosixPath, data: bytes) -> None:
        """The rules of the ``.gitignore`` in directory ``base`` (relative to the root)."""
        lines = data[:IGNORE_LIMIT].decode("utf-8", "replace").splitlines()
        try:
            spec = pathspec.GitIgnoreSpec.from_lines(lines)
        except (ValueError, TypeError):
            return  # a malformed pattern: git itself warns and goes on
        if len(spec):
            self._specs.append((base, spec))

    def ignored(self, path: PurePosixPath, is_dir: bool) -> bool:
        verdict: bool | None = None
        for base, spec in self._specs:  # outer first: a deeper rule decides last
            if base != PurePosixPath(".") and base not in path.parents:
                continue
            rel = path if base == PurePosixPath(".") else path.relative_to(base)
            found = spec.check_file(f"{rel}/" if is_dir else str(rel)).include
            if found is not None:
                verdict = found
        return bool(verdict)
