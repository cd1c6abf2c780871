"""Generate a deterministic TypeScript monorepo (npm workspaces + project references).

The tree is a pure function of (lines, packages, seed): the same arguments give byte-identical
files. Only package-lock.json (``--lockfile``, written by ``npm install --package-lock-only``)
comes from the registry. Each package ``packages/pkg-XX`` holds ``src/<module>.ts`` files built
from a handful of realistic templates (stores, caches, heaps, state machines, graphs, text and
money helpers, validators, typed event emitters) plus small integer "rule" functions that call
rules of lower-numbered packages, so the workspace graph is acyclic. Every module has a
``src/<module>.test.ts`` (node:test + node:assert) whose expected values are computed here by a
Python mirror of the generated code, so the tests pass and a change to a rule makes the tests of
its package and of every package that calls it fail.

Modules: ``cli`` (arguments, main), ``builder`` (package/module planning), ``templates``
(one module per template family), ``rules`` (rule functions), ``reference`` (Python mirrors
that compute expected test values), ``sources`` (.ts file assembly), ``layout`` (manifests,
tsconfig, README), ``steps`` (writing files, npm, git), ``model``, ``tsfmt`` and ``words``.
"""

from __future__ import annotations

from .builder import build_files
from .cli import main, parse_args
from .layout import ts_line_count
from .steps import git_commit, write_lockfile, write_tree

__all__ = [
    "build_files",
    "git_commit",
    "main",
    "parse_args",
    "ts_line_count",
    "write_lockfile",
    "write_tree",
]
