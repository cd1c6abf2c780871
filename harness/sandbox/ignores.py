"""The repository's ``.gitignore`` rules for the host-side file listing, which has no git to ask
(the checkout holds no ``.git``).

A listing that names every file a build wrote (``dist/``, coverage, generated code) buries the
sources a model is looking for under files it must not edit. Rules are gathered as the walk goes
down, each file's patterns relative to its own directory, and a deeper rule (a ``!`` negation
included) decides over an outer one. The patterns are the container's and the repository's,
so hostile: they are matched by the repository map's linear-time matcher
(``repomap.gitglob``), never translated to regular expressions (``*a*a*a…b`` backtracks for
minutes as a regex). ``.git/info/exclude`` and global excludes are not read: the first is not
in the checkout, the second is the user's, not the repository's.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from harness.repomap.exclude import Rule, ignored, parse_rules

IGNORE_FILE = ".gitignore"
IGNORE_LIMIT = 64 << 10  # bytes of one .gitignore read; a hostile one may be any size
_INSIDE = "\0"  # a name no pattern names: "is a file inside this directory ignored?"


class Ignores:
    def __init__(self) -> None:
        self._rules: list[Rule] = []

    def add(self, base: PurePosixPath, data: bytes) -> None:
        """The rules of the ``.gitignore`` in directory ``base`` (relative to the root)."""
        where = "" if base == PurePosixPath(".") else f"{base}/"
        text = data[:IGNORE_LIMIT].decode("utf-8", "replace")
        self._rules += parse_rules(f"{where}{IGNORE_FILE}", text)

    def ignored(self, path: PurePosixPath, is_dir: bool) -> bool:
        # A directory is left out when whatever it holds is (git's rules name it as an
        # ancestor): asked for a name inside it that no pattern can name.
        return ignored(f"{path}/{_INSIDE}" if is_dir else str(path), self._rules)
